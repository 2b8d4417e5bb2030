import type { AppContext } from '../context.js';
import { UsageError } from '../errors.js';
import { buildWebApp } from './app.js';

export { buildWebApp } from './app.js';

export interface RunningWebserver {
  /** A URL that reaches the server from this host, e.g. http://127.0.0.1:8080. */
  url: string;
  /** The address and port actually bound, e.g. 0.0.0.0:8080 (every IPv4 address) or 127.0.0.1:8080. */
  listening: string;
  /** Bound to every address (0.0.0.0 or ::), so reachable from other hosts too. */
  allAddresses: boolean;
  close(): Promise<void>;
}

/** Start the webserver on host:port (port 0 picks a free one) and return its address. */
export async function startWebserver(
  ctx: AppContext,
  options: { host?: string; port?: number } = {},
): Promise<RunningWebserver> {
  const webserver = ctx.config.values.webserver;
  const host = options.host ?? webserver.web_server_host;
  const port = options.port ?? webserver.web_server_port;
  const server = await buildWebApp(ctx);
  try {
    await server.listen({ host, port });
  } catch (error) {
    await server.close().catch(() => undefined);
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE')
      throw new UsageError(
        `Port ${port} on ${host} is already in use: stop the other process or pass -p PORT.`,
      );
    if (code === 'EADDRNOTAVAIL' || code === 'EACCES')
      throw new UsageError(`Cannot listen on ${host}:${port} (${code}).`);
    throw error;
  }
  const address = server.server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  const boundHost = typeof address === 'object' && address ? address.address : host;
  const allAddresses = boundHost === '0.0.0.0' || boundHost === '::';
  const bracket = (h: string) => (h.includes(':') ? `[${h}]` : h);
  const shownHost = allAddresses ? '127.0.0.1' : bracket(host);
  return {
    url: `http://${shownHost}:${boundPort}`,
    listening: `${bracket(boundHost)}:${boundPort}`,
    allAddresses,
    close: () => server.close(),
  };
}
