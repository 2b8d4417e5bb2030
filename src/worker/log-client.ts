import { relative } from 'node:path';
import { taskLogPath, type TaskLogKey } from '../task-runner/task-log.js';
import type { LogChunk } from '../web/data/logs.js';
import { createLogToken } from './log-token.js';

/**
 * Reading a try's log from the worker that ran it (its log server, see log-server.ts). A worker that
 * is gone or refuses is reported in the chunk's content, so the reader shows why there is no log.
 */
export interface RemoteLogSource {
  hostname: string;
  port: number;
  secretKey: string;
}

export async function readRemoteTaskLog(
  source: RemoteLogSource,
  key: TaskLogKey,
  offset = 0,
  timeoutMs = 5000,
): Promise<LogChunk> {
  const filename = relative('/', taskLogPath('/', key));
  const host = source.hostname.includes(':') ? `[${source.hostname}]` : source.hostname;
  const url = `http://${host}:${source.port}/log/${encodeURIComponent(filename)}?offset=${offset}`;
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { authorization: createLogToken(source.secretKey, filename) },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const why = (error as { cause?: { code?: string; message?: string } }).cause;
    return {
      content: `*** The log of this try is on worker ${source.hostname}, which cannot be reached at ${source.hostname}:${source.port} (${why?.code ?? why?.message ?? (error as Error).message}); the worker is gone or its log server is not running.\n`,
      nextOffset: offset,
      exists: false,
    };
  }
  if (!response.ok) {
    const body = (await response.json().catch(() => ({}))) as { error?: string };
    return {
      content: `*** Worker ${source.hostname} refused to serve the log (HTTP ${response.status}: ${body.error ?? response.statusText}).\n`,
      nextOffset: offset,
      exists: false,
    };
  }
  return (await response.json()) as LogChunk;
}
