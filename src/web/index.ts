import type { AppContext } from '../context.js';
import { UsageError } from '../errors.js';
import { buildWebApp } from './app.js';

export { buildWebApp } from './app.js';

export interface RunningWebserver {
  /** Where the server listens, e.g. http://127.0.0.1:8080. */
  url: string;
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
  const shownHost =
    host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return { url: `http://${shownHost}:${boundPort}`, close: () => server.close() };
}
