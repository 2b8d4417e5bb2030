import { access, readdir, stat } from 'node:fs/promises';
import { BaseSensorOperator, type BaseSensorArgs } from './base.js';
import { durationToMs, type Duration } from '../duration.js';
import { ValidationError } from '../../errors.js';
import type { TaskContext } from '../execution.js';

export interface FileSensorArgs extends BaseSensorArgs {
  /** File or directory; a glob-free path (templated). A directory counts once it has an entry. */
  filepath: string;
  recursive?: boolean;
}

/** Waits until a file (or a non-empty directory) exists. */
export class FileSensor extends BaseSensorOperator {
  static override templateFields = ['filepath'];
  filepath: string;
  constructor(args: FileSensorArgs) {
    super(args);
    if (typeof args.filepath !== 'string' || !args.filepath)
      throw new ValidationError(`Sensor '${this.taskId}': filepath is required`);
    this.filepath = args.filepath;
  }
  async poke(context: TaskContext): Promise<boolean> {
    context.log.info(`Poking for file ${this.filepath}`);
    try {
      await access(this.filepath);
    } catch {
      return false;
    }
    const s = await stat(this.filepath);
    if (s.isDirectory()) return (await readdir(this.filepath)).length > 0;
    return true;
  }
}

export interface TimeDeltaSensorArgs extends BaseSensorArgs {
  /** Wait until data_interval_end + delta. */
  delta: Duration;
}

/** Waits until a time after the run's data interval end. */
export class TimeDeltaSensor extends BaseSensorOperator {
  readonly deltaMs: number;
  constructor(args: TimeDeltaSensorArgs) {
    super(args);
    this.deltaMs = durationToMs(args.delta, 'delta');
  }
  poke(context: TaskContext): boolean {
    const target = context.data_interval_end.getTime() + this.deltaMs;
    context.log.info(`Checking if the time (${new Date(target).toISOString()}) has come`);
    return Date.now() >= target;
  }
}

export interface DateTimeSensorArgs extends BaseSensorArgs {
  /** An instant, or a template rendering to one (ISO-8601). */
  targetTime: Date | string;
}

/** Waits until a given instant. */
export class DateTimeSensor extends BaseSensorOperator {
  static override templateFields = ['targetTime'];
  targetTime: Date | string;
  constructor(args: DateTimeSensorArgs) {
    super(args);
    this.targetTime = args.targetTime;
  }
  poke(context: TaskContext): boolean {
    const target = new Date(this.targetTime);
    if (Number.isNaN(target.getTime()))
      throw new ValidationError(`targetTime '${String(this.targetTime)}' is not a date`);
    context.log.info(`Checking if the time (${target.toISOString()}) has come`);
    return Date.now() >= target.getTime();
  }
}

export interface HttpSensorArgs extends BaseSensorArgs {
  /** Full URL (templated), or an endpoint appended to the connection's host. */
  endpoint: string;
  httpConnId?: string;
  method?: string;
  headers?: Record<string, string>;
  /** Decide from the response; default: any 2xx is done, 404 is not yet, other errors throw. */
  responseCheck?: (
    response: { status: number; text: string },
    context: TaskContext,
  ) => boolean | Promise<boolean>;
}

/** Polls an HTTP endpoint until it answers as wanted. */
export class HttpSensor extends BaseSensorOperator {
  static override templateFields = ['endpoint', 'headers'];
  endpoint: string;
  headers: Record<string, string>;
  private readonly opts: HttpSensorArgs;
  constructor(args: HttpSensorArgs) {
    super(args);
    this.endpoint = args.endpoint;
    this.headers = args.headers ?? {};
    this.opts = args;
  }
  async poke(context: TaskContext): Promise<boolean> {
    const url = await resolveUrl(this.endpoint, this.opts.httpConnId, context);
    context.log.info(`Poking: ${url}`);
    const res = await fetch(url, {
      method: this.opts.method ?? 'GET',
      headers: this.headers,
      signal: context.signal,
    });
    const text = await res.text();
    if (this.opts.responseCheck) return this.opts.responseCheck({ status: res.status, text }, context);
    if (res.status === 404) return false;
    if (!res.ok) throw new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`);
    return true;
  }
}

/** A URL from an endpoint and an optional connection (host, schema=scheme, port). */
export async function resolveUrl(
  endpoint: string,
  connId: string | undefined,
  context: TaskContext,
): Promise<string> {
  if (/^https?:\/\//.test(endpoint)) return endpoint;
  if (!connId)
    throw new ValidationError(`endpoint '${endpoint}' is not a full URL and no httpConnId was given`);
  const conn = await context.services.getConnection(connId);
  if (!conn?.host) throw new ValidationError(`Connection '${connId}' is missing or has no host`);
  let base = conn.host.includes('://') ? conn.host : `${conn.schema || 'http'}://${conn.host}`;
  if (conn.port) base = base.replace(/(:\/\/[^/:]+)(:\d+)?/, `$1:${conn.port}`);
  return new URL(endpoint.replace(/^\//, ''), base.endsWith('/') ? base : `${base}/`).toString();
}
