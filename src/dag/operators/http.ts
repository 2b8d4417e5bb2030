import { BaseOperator, type BaseOperatorArgs } from '../base-operator.js';
import type { TaskContext } from '../execution.js';
import { resolveUrl } from '../sensors/simple.js';

export interface HttpOperatorArgs extends BaseOperatorArgs {
  /** Full URL, or a path joined to the httpConnId connection's host (templated). */
  endpoint: string;
  httpConnId?: string;
  method?: string;
  headers?: Record<string, string>;
  /** Body: strings are sent as is, other values as JSON (templated). */
  data?: unknown;
  /** Decide success from the response; default: 2xx. */
  responseCheck?: (
    response: { status: number; text: string },
    context: TaskContext,
  ) => boolean | Promise<boolean>;
  /** Shape the XCom value from the response; default: the body text. */
  responseFilter?: (response: { status: number; text: string }, context: TaskContext) => unknown;
}

/** Calls an HTTP endpoint with fetch (Airflow's SimpleHttpOperator / HttpOperator). */
export class HttpOperator extends BaseOperator {
  static override templateFields = ['endpoint', 'data', 'headers'];
  endpoint: string;
  data: unknown;
  headers: Record<string, string>;
  private readonly opts: HttpOperatorArgs;
  constructor(args: HttpOperatorArgs) {
    super(args);
    this.endpoint = args.endpoint;
    this.data = args.data;
    this.headers = args.headers ?? {};
    this.opts = args;
  }
  override async execute(context: TaskContext): Promise<unknown> {
    const url = await resolveUrl(this.endpoint, this.opts.httpConnId, context);
    const method = (this.opts.method ?? 'POST').toUpperCase();
    const headers = { ...this.headers };
    let body: string | undefined;
    if (this.data !== undefined && method !== 'GET' && method !== 'HEAD') {
      body = typeof this.data === 'string' ? this.data : JSON.stringify(this.data);
      if (
        typeof this.data !== 'string' &&
        !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')
      )
        headers['Content-Type'] = 'application/json';
    }
    context.log.info(`Calling HTTP method ${method} ${url}`);
    const res = await fetch(url, { method, headers, body, signal: context.signal });
    const response = { status: res.status, text: await res.text() };
    const ok = this.opts.responseCheck ? await this.opts.responseCheck(response, context) : res.ok;
    if (!ok) throw new Error(`HTTP ${res.status} from ${url}: ${response.text.slice(0, 500)}`);
    return this.opts.responseFilter ? this.opts.responseFilter(response, context) : response.text;
  }
}
export const SimpleHttpOperator = HttpOperator;
