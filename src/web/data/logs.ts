import { open } from 'node:fs/promises';
import type { Kysely } from 'kysely';
import type { UpdraftConfig } from '../../config/schema.js';
import type { Database } from '../../db/tables.js';
import { runnerHostname } from '../../task-runner/run-task-instance.js';
import { taskLogPath } from '../../task-runner/task-log.js';
import { readRemoteTaskLog } from '../../worker/log-client.js';

/**
 * Task log reading. Logs are read from `offset` so the UI can follow a running task by asking
 * only for what was appended since the last poll.
 */
export interface LogChunk {
  content: string;
  /** Byte offset to ask from next time. */
  nextOffset: number;
  exists: boolean;
}

const MAX_CHUNK = 1024 * 1024;

export async function readTaskLog(
  baseLogFolder: string,
  key: { dagId: string; runId: string; taskId: string; mapIndex: number; tryNumber: number },
  offset = 0,
): Promise<LogChunk> {
  return readLogFile(taskLogPath(baseLogFolder, key), offset);
}

type TryKey = { dagId: string; runId: string; taskId: string; mapIndex: number; tryNumber: number };

/**
 * The host that ran this try: its task job row names it (each try has its own). A try without one
 * (its job row was cleaned away, or written before the job table named the try) falls back to the
 * TI's hostname, which is the latest try's.
 */
export async function tryHostname(
  db: Kysely<Database>,
  key: TryKey,
  tiHostname: string | null,
): Promise<string | null> {
  const job = await db
    .selectFrom('job')
    .select('hostname')
    .where('dag_id', '=', key.dagId)
    .where('run_id', '=', key.runId)
    .where('task_id', '=', key.taskId)
    .where('map_index', '=', key.mapIndex)
    .where('try_number', '=', key.tryNumber)
    .where('job_type', '=', 'LocalTaskJob')
    // A run deleted and triggered again under the same id starts its tries anew: the newest row.
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return job?.hostname ?? tiHostname;
}

/**
 * The log of a try wherever it ran: this host's log folder first; a try that ran on another host
 * (the host of that try, see tryHostname) is read through that worker's log server.
 */
export async function readTryLog(
  config: UpdraftConfig,
  db: Kysely<Database>,
  key: TryKey,
  offset: number,
  tiHostname: string | null,
): Promise<LogChunk> {
  const local = await readTaskLog(config.logging.base_log_folder, key, offset);
  if (local.exists) return local;
  const host = await tryHostname(db, key, tiHostname);
  if (!host || host === runnerHostname(config)) return local;
  return readRemoteTaskLog(
    {
      hostname: host,
      port: config.logging.worker_log_server_port,
      secretKey: config.webserver.secret_key,
    },
    key,
    offset,
  );
}

/** A chunk of the log file at `path` from `offset` (what the worker log server serves too). */
export async function readLogFile(path: string, offset = 0): Promise<LogChunk> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return { content: '', nextOffset: offset, exists: false };
  }
  try {
    const { size } = await handle.stat();
    const start = Math.min(Math.max(0, offset), size);
    const length = Math.min(size - start, MAX_CHUNK);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, start);
    // Stop at the last complete line so a following reader never shows half a line.
    const lastNewline = buffer.lastIndexOf(0x0a);
    const usable = start + length < size || lastNewline < 0 ? length : lastNewline + 1;
    return { content: buffer.subarray(0, usable).toString('utf8'), nextOffset: start + usable, exists: true };
  } finally {
    await handle.close();
  }
}
