import { createServer, type Server } from 'node:http';
import { isAbsolute, join, normalize, sep } from 'node:path';
import type { Logger } from '../log.js';
import { readLogFile } from '../web/data/logs.js';
import { checkLogToken } from './log-token.js';

/**
 * The worker's log server ([logging] worker_log_server_port, 8793 as in Airflow): the webserver and
 * the CLI read the log of a try that ran on this host through it. One route,
 *   GET /log/<path below base_log_folder>?offset=N   Authorization: <token from log-token.ts>
 * answering JSON {content, nextOffset, exists}. Paths that leave the log folder are refused.
 */
export interface LogServerOptions {
  host: string;
  port: number;
  baseLogFolder: string;
  secretKey: string;
  log: Logger;
}

export async function startLogServer(options: LogServerOptions): Promise<Server> {
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://worker');
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify(body));
      };
      if (req.method !== 'GET' || !url.pathname.startsWith('/log/'))
        return reply(404, { error: 'not found' });
      let filename: string;
      try {
        filename = decodeURIComponent(url.pathname.slice('/log/'.length));
      } catch {
        return reply(400, { error: 'bad path' });
      }
      const normalized = normalize(filename);
      if (isAbsolute(normalized) || normalized === '..' || normalized.startsWith(`..${sep}`))
        return reply(403, { error: 'the path leaves the log folder' });
      const refused = checkLogToken(options.secretKey, req.headers.authorization, filename);
      if (refused) return reply(403, { error: `forbidden: ${refused}` });
      const offset = Number(url.searchParams.get('offset') ?? '0');
      const chunk = await readLogFile(
        join(options.baseLogFolder, normalized),
        Number.isFinite(offset) ? offset : 0,
      );
      reply(200, chunk);
    })().catch((error: unknown) => {
      options.log.warn(`log server: ${(error as Error).message}`);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
