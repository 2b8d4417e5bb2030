import { open } from 'node:fs/promises';
import { taskLogPath } from '../../task-runner/task-log.js';

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
