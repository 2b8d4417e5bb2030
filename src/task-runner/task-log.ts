import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { processSecrets } from '../security/secrets-masker.js';

/**
 * Task logs in Airflow's layout, so that tools and habits carry over:
 *   {base_log_folder}/dag_id={dag}/run_id={run}/task_id={task}/[map_index={n}/]attempt={try}.log
 * Each line is written with one write(2) call, so a reader following the file (the webserver's
 * live log view) sees whole lines as soon as they happen. Every line goes through this process's
 * secrets masker first, and files and the folders created for them are readable by their owner
 * only (task output may hold anything).
 */
export interface TaskLogKey {
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
  tryNumber: number;
}

/** Path segments must not escape the log folder: '/' (and a leading '..') are percent-encoded. */
function segment(value: string): string {
  const safe = value.replace(/%/g, '%25').replace(/\//g, '%2F');
  return safe === '..' || safe === '.' ? encodeURIComponent(safe).replace(/\./g, '%2E') : safe;
}

export function taskLogPath(baseLogFolder: string, key: TaskLogKey): string {
  const parts = [
    baseLogFolder,
    `dag_id=${segment(key.dagId)}`,
    `run_id=${segment(key.runId)}`,
    `task_id=${segment(key.taskId)}`,
  ];
  if (key.mapIndex >= 0) parts.push(`map_index=${key.mapIndex}`);
  parts.push(`attempt=${key.tryNumber}.log`);
  return join(...parts);
}

export type TaskLogLevel = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';

export interface TaskLogger {
  readonly path: string | null;
  info(message: string, source?: string): void;
  warn(message: string, source?: string): void;
  error(message: string, source?: string): void;
  debug(message: string, source?: string): void;
  /** A line of a subprocess's output, logged as-is after the prefix. */
  output(line: string, source?: string): void;
  /** With deferFile: create the file now and write the lines held so far. */
  openFile(): void;
  /** With deferFile: drop the held lines; no file is created. */
  discard(): void;
  close(): void;
}

function timestamp(now = new Date()): string {
  return now.toISOString().replace('Z', '+0000');
}

export interface TaskLoggerOptions {
  /** Where the log file goes; null writes no file (`tasks test`). */
  path: string | null;
  /** Also write each line here (stdout for `tasks test`). */
  echo?: (line: string) => void;
  /** Hold lines in memory until openFile() (the runner opens the file once the try is its own). */
  deferFile?: boolean;
}

export function openTaskLogger(options: TaskLoggerOptions): TaskLogger {
  let fd: number | null = null;
  let held: string[] | null = options.deferFile ? [] : null;
  const open = () => {
    if (!options.path) return;
    mkdirSync(dirname(options.path), { recursive: true, mode: 0o700 });
    fd = openSync(options.path, 'a', 0o600);
  };
  const append = (chunk: string) => {
    if (fd === null) return;
    try {
      writeSync(fd, chunk);
    } catch {
      // A full disk must not turn a successful task into a failed one.
    }
  };
  if (!held) open();
  const write = (level: TaskLogLevel, source: string, message: string) => {
    const text = message.endsWith('\n') ? message.slice(0, -1) : message;
    const lines = processSecrets
      .redact(text)
      .split('\n')
      .map((l) => `[${timestamp()}] {${source}} ${level} - ${l}\n`);
    const chunk = lines.join('');
    if (held) held.push(chunk);
    else append(chunk);
    options.echo?.(chunk);
  };
  return {
    path: options.path,
    info: (m, s = 'runner') => write('INFO', s, m),
    warn: (m, s = 'runner') => write('WARNING', s, m),
    error: (m, s = 'runner') => write('ERROR', s, m),
    debug: (m, s = 'runner') => write('DEBUG', s, m),
    output: (line, s = 'subprocess') => write('INFO', s, line),
    openFile() {
      if (!held) return;
      const lines = held;
      held = null;
      open();
      if (lines.length > 0) append(lines.join(''));
    },
    discard() {
      held = null;
    },
    close() {
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}
