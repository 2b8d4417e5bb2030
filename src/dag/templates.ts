/**
 * Jinja-like templates for templated fields: `{{ ds }}`, `{{ params.x }}`,
 * `{{ ti.xcomPull(task_ids='a') }}`, `{{ var.value.name }}`, `{{ macros.ds_add(ds, 1) }}`,
 * `{{ x | default('y') }}`, `{# comments #}`.
 *
 * Expressions are parsed and interpreted here — never passed to eval/Function — and may only read
 * the context's data and call functions reachable from it, so a template cannot reach Node.
 */
import { ValidationError } from '../errors.js';
import { TemplateLookup, type TaskContext } from './execution.js';
import { findXComArgs, isPlainObject, isXComArg, resolveXComArgs } from './xcom-arg.js';

// ---------- lexer ----------
type Tok =
  | { t: 'num'; v: number }
  | { t: 'str'; v: string }
  | { t: 'id'; v: string }
  | { t: 'op'; v: string }
  | { t: 'end' };

const OPS = [
  '//',
  '==',
  '!=',
  '<=',
  '>=',
  '**',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  '.',
  ',',
  ':',
  '|',
  '+',
  '-',
  '*',
  '/',
  '%',
  '<',
  '>',
  '~',
  '=',
];

function lex(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (/[0-9]/.test(c)) {
      const m = /^\d+(\.\d+)?([eE][+-]?\d+)?/.exec(src.slice(i))!;
      out.push({ t: 'num', v: Number(m[0]) });
      i += m[0].length;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let s = '';
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\' && j + 1 < src.length) {
          const n = src[j + 1]!;
          s += n === 'n' ? '\n' : n === 't' ? '\t' : n;
          j += 2;
        } else s += src[j++];
      }
      if (j >= src.length) throw new ValidationError(`unterminated string in template expression: ${src}`);
      out.push({ t: 'str', v: s });
      i = j + 1;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))!;
      out.push({ t: 'id', v: m[0] });
      i += m[0].length;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (!op) throw new ValidationError(`unexpected character '${c}' in template expression: ${src}`);
    out.push({ t: 'op', v: op });
    i += op.length;
  }
  out.push({ t: 'end' });
  return out;
}

// ---------- parser → AST ----------
type Node =
  | { k: 'lit'; v: unknown }
  | { k: 'name'; name: string }
  | { k: 'member'; obj: Node; prop: Node }
  | { k: 'call'; fn: Node; args: Node[]; kwargs: [string, Node][] }
  | { k: 'filter'; value: Node; name: string; args: Node[] }
  | { k: 'bin'; op: string; a: Node; b: Node }
  | { k: 'not'; a: Node }
  | { k: 'neg'; a: Node }
  | { k: 'cond'; test: Node; then: Node; else: Node | null }
  | { k: 'list'; items: Node[] }
  | { k: 'dict'; entries: [Node, Node][] };

class Parser {
  private i = 0;
  constructor(
    private readonly toks: Tok[],
    private readonly src: string,
  ) {}
  private peek(): Tok {
    return this.toks[this.i]!;
  }
  private isOp(v: string): boolean {
    const t = this.peek();
    return t.t === 'op' && t.v === v;
  }
  private isId(v: string): boolean {
    const t = this.peek();
    return t.t === 'id' && t.v === v;
  }
  private expectOp(v: string): void {
    if (!this.isOp(v)) throw this.error(`expected '${v}'`);
    this.i++;
  }
  private error(msg: string): ValidationError {
    return new ValidationError(`template expression '${this.src}': ${msg}`);
  }
  parseAll(): Node {
    const n = this.expr();
    if (this.peek().t !== 'end') throw this.error('unexpected trailing input');
    return n;
  }
  expr(): Node {
    const value = this.or();
    if (this.isId('if')) {
      this.i++;
      const test = this.or();
      let otherwise: Node | null = null;
      if (this.isId('else')) {
        this.i++;
        otherwise = this.expr();
      }
      return { k: 'cond', test, then: value, else: otherwise };
    }
    return value;
  }
  private or(): Node {
    let a = this.and();
    while (this.isId('or')) {
      this.i++;
      a = { k: 'bin', op: 'or', a, b: this.and() };
    }
    return a;
  }
  private and(): Node {
    let a = this.not();
    while (this.isId('and')) {
      this.i++;
      a = { k: 'bin', op: 'and', a, b: this.not() };
    }
    return a;
  }
  private not(): Node {
    if (this.isId('not')) {
      this.i++;
      return { k: 'not', a: this.not() };
    }
    return this.compare();
  }
  private compare(): Node {
    let a = this.additive();
    for (;;) {
      const t = this.peek();
      if (t.t === 'op' && ['==', '!=', '<', '>', '<=', '>='].includes(t.v)) {
        this.i++;
        a = { k: 'bin', op: t.v, a, b: this.additive() };
      } else if (this.isId('in')) {
        this.i++;
        a = { k: 'bin', op: 'in', a, b: this.additive() };
      } else if (
        this.isId('not') &&
        this.toks[this.i + 1]?.t === 'id' &&
        (this.toks[this.i + 1] as { v: string }).v === 'in'
      ) {
        this.i += 2;
        a = { k: 'not', a: { k: 'bin', op: 'in', a, b: this.additive() } };
      } else return a;
    }
  }
  private additive(): Node {
    let a = this.multiplicative();
    for (;;) {
      const t = this.peek();
      if (t.t === 'op' && ['+', '-', '~'].includes(t.v)) {
        this.i++;
        a = { k: 'bin', op: t.v, a, b: this.multiplicative() };
      } else return a;
    }
  }
  private multiplicative(): Node {
    let a = this.unary();
    for (;;) {
      const t = this.peek();
      if (t.t === 'op' && ['*', '/', '//', '%'].includes(t.v)) {
        this.i++;
        a = { k: 'bin', op: t.v, a, b: this.unary() };
      } else return a;
    }
  }
  private unary(): Node {
    if (this.isOp('-')) {
      this.i++;
      return { k: 'neg', a: this.unary() };
    }
    return this.postfix();
  }
  private postfix(): Node {
    let n = this.primary();
    for (;;) {
      if (this.isOp('.')) {
        this.i++;
        const t = this.peek();
        if (t.t !== 'id') throw this.error('expected a name after "."');
        this.i++;
        n = { k: 'member', obj: n, prop: { k: 'lit', v: t.v } };
      } else if (this.isOp('[')) {
        this.i++;
        const prop = this.expr();
        this.expectOp(']');
        n = { k: 'member', obj: n, prop };
      } else if (this.isOp('(')) {
        this.i++;
        const { args, kwargs } = this.callArgs();
        n = { k: 'call', fn: n, args, kwargs };
      } else if (this.isOp('|')) {
        this.i++;
        const t = this.peek();
        if (t.t !== 'id') throw this.error('expected a filter name after "|"');
        this.i++;
        let args: Node[] = [];
        if (this.isOp('(')) {
          this.i++;
          args = this.callArgs().args;
        }
        n = { k: 'filter', value: n, name: t.v, args };
      } else return n;
    }
  }
  private callArgs(): { args: Node[]; kwargs: [string, Node][] } {
    const args: Node[] = [];
    const kwargs: [string, Node][] = [];
    while (!this.isOp(')')) {
      const t = this.peek();
      const next = this.toks[this.i + 1];
      if (t.t === 'id' && next?.t === 'op' && next.v === '=') {
        this.i += 2;
        kwargs.push([t.v, this.expr()]);
      } else args.push(this.expr());
      if (!this.isOp(')')) this.expectOp(',');
    }
    this.i++;
    return { args, kwargs };
  }
  private primary(): Node {
    const t = this.peek();
    this.i++;
    if (t.t === 'num' || t.t === 'str') return { k: 'lit', v: t.v };
    if (t.t === 'id') {
      if (t.v === 'true' || t.v === 'True') return { k: 'lit', v: true };
      if (t.v === 'false' || t.v === 'False') return { k: 'lit', v: false };
      if (t.v === 'none' || t.v === 'None' || t.v === 'null') return { k: 'lit', v: null };
      return { k: 'name', name: t.v };
    }
    if (t.t === 'op' && t.v === '(') {
      const e = this.expr();
      this.expectOp(')');
      return e;
    }
    if (t.t === 'op' && t.v === '[') {
      const items: Node[] = [];
      while (!this.isOp(']')) {
        items.push(this.expr());
        if (!this.isOp(']')) this.expectOp(',');
      }
      this.i++;
      return { k: 'list', items };
    }
    if (t.t === 'op' && t.v === '{') {
      const entries: [Node, Node][] = [];
      while (!this.isOp('}')) {
        const key = this.expr();
        this.expectOp(':');
        entries.push([key, this.expr()]);
        if (!this.isOp('}')) this.expectOp(',');
      }
      this.i++;
      return { k: 'dict', entries };
    }
    this.i--;
    throw this.error('unexpected end or symbol');
  }
}

const parsed = new Map<string, Node>();
export function parseExpression(src: string): Node {
  let n = parsed.get(src);
  if (!n) {
    n = new Parser(lex(src), src).parseAll();
    if (parsed.size > 5000) parsed.clear();
    parsed.set(src, n);
  }
  return n;
}

// ---------- evaluation ----------
const FORBIDDEN = new Set([
  'constructor',
  '__proto__',
  'prototype',
  '__defineGetter__',
  '__defineSetter__',
  '__lookupGetter__',
  '__lookupSetter__',
  'call',
  'apply',
  'bind',
]);

/** Python-ish helpers on dates, so `{{ logical_date.isoformat() }}` etc. work. */
function dateMember(d: Date, name: string): unknown {
  switch (name) {
    case 'isoformat':
      return () => formatDate(d);
    case 'strftime':
      return (fmt: string) => strftimeDate(d, fmt);
    case 'timestamp':
      return () => d.getTime() / 1000;
    case 'year':
      return d.getUTCFullYear();
    case 'month':
      return d.getUTCMonth() + 1;
    case 'day':
      return d.getUTCDate();
    case 'hour':
      return d.getUTCHours();
    case 'minute':
      return d.getUTCMinutes();
    case 'toISOString':
    case 'getTime':
      return () => (name === 'getTime' ? d.getTime() : d.toISOString());
    default:
      return undefined;
  }
}

function strftimeDate(d: Date, fmt: string): string {
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return fmt.replace(/%([YmdHMSf%])/g, (_, c: string) =>
    c === 'Y'
      ? String(d.getUTCFullYear())
      : c === 'm'
        ? pad(d.getUTCMonth() + 1)
        : c === 'd'
          ? pad(d.getUTCDate())
          : c === 'H'
            ? pad(d.getUTCHours())
            : c === 'M'
              ? pad(d.getUTCMinutes())
              : c === 'S'
                ? pad(d.getUTCSeconds())
                : c === 'f'
                  ? pad(d.getUTCMilliseconds() * 1000, 6)
                  : '%',
  );
}

/** How a Date prints in a template: Airflow's ISO form with +00:00. */
export function formatDate(d: Date): string {
  const ms = d.getUTCMilliseconds();
  const base = d.toISOString().slice(0, 19);
  return `${base}${ms ? `.${String(ms * 1000).padStart(6, '0')}` : ''}+00:00`;
}

async function member(obj: unknown, prop: unknown): Promise<unknown> {
  if (obj === null || obj === undefined) return undefined;
  if (
    obj instanceof TemplateLookup ||
    (typeof obj === 'object' && obj.constructor?.name === 'TemplateLookup')
  ) {
    return (obj as TemplateLookup).lookup(String(prop));
  }
  const key = typeof prop === 'number' ? prop : String(prop);
  if (typeof key === 'string' && FORBIDDEN.has(key))
    throw new ValidationError(`template may not access '${key}'`);
  if (obj instanceof Date) return dateMember(obj, String(key));
  if (typeof obj === 'string') {
    if (typeof key === 'number') return obj[key < 0 ? obj.length + key : key];
    const strMethods: Record<string, unknown> = {
      upper: () => obj.toUpperCase(),
      lower: () => obj.toLowerCase(),
      strip: () => obj.trim(),
      split: (sep?: string) => (sep === undefined ? obj.trim().split(/\s+/) : obj.split(sep)),
      replace: (a: string, b: string) => obj.split(a).join(b),
      startswith: (p: string) => obj.startsWith(p),
      endswith: (p: string) => obj.endsWith(p),
      length: obj.length,
    };
    return strMethods[key];
  }
  if (Array.isArray(obj) && typeof key === 'number') return obj[key < 0 ? obj.length + key : key];
  if (typeof obj !== 'object' && typeof obj !== 'function') return undefined;
  const value = (obj as Record<string | number, unknown>)[key];
  return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(obj) : value;
}

const snakeToCamel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (isPlainObject(v)) return Object.keys(v).length > 0;
  return Boolean(v);
}

/** Text of a value as it appears in rendered output (Python-like for booleans and None). */
export function toTemplateString(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (v instanceof Date) return formatDate(v);
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

const FILTERS: Record<string, (v: unknown, ...args: unknown[]) => unknown> = {
  default: (v, d = '', boolean = false) => (v === undefined || (boolean && !truthy(v)) ? d : v),
  upper: (v) => toTemplateString(v).toUpperCase(),
  lower: (v) => toTemplateString(v).toLowerCase(),
  trim: (v) => toTemplateString(v).trim(),
  tojson: (v) => JSON.stringify(v instanceof Date ? formatDate(v) : v),
  string: (v) => toTemplateString(v),
  int: (v) => Math.trunc(Number(v)) || 0,
  float: (v) => Number(v) || 0,
  length: (v) =>
    Array.isArray(v) || typeof v === 'string' ? v.length : isPlainObject(v) ? Object.keys(v).length : 0,
  join: (v, sep = '') => (Array.isArray(v) ? v.map(toTemplateString).join(String(sep)) : toTemplateString(v)),
  replace: (v, a, b) => toTemplateString(v).split(String(a)).join(String(b)),
  first: (v) => (Array.isArray(v) ? v[0] : undefined),
  last: (v) => (Array.isArray(v) ? v[v.length - 1] : undefined),
};
FILTERS.d = FILTERS.default!;

async function evaluate(n: Node, scope: Record<string, unknown>): Promise<unknown> {
  switch (n.k) {
    case 'lit':
      return n.v;
    case 'name':
      if (FORBIDDEN.has(n.name)) throw new ValidationError(`template may not access '${n.name}'`);
      return Object.prototype.hasOwnProperty.call(scope, n.name) ? scope[n.name] : undefined;
    case 'member':
      return member(await evaluate(n.obj, scope), await evaluate(n.prop, scope));
    case 'call': {
      const fn = await evaluate(n.fn, scope);
      if (typeof fn !== 'function')
        throw new ValidationError(`template calls something that is not a function`);
      const args = await Promise.all(n.args.map((a) => evaluate(a, scope)));
      if (n.kwargs.length > 0) {
        const kw: Record<string, unknown> = {};
        for (const [k, v] of n.kwargs) kw[snakeToCamel(k)] = await evaluate(v, scope);
        args.push(kw);
      }
      return await (fn as (...a: unknown[]) => unknown)(...args);
    }
    case 'filter': {
      const f = FILTERS[n.name];
      if (!f) throw new ValidationError(`unknown template filter '${n.name}'`);
      const args = await Promise.all(n.args.map((a) => evaluate(a, scope)));
      return f(await evaluate(n.value, scope), ...args);
    }
    case 'not':
      return !truthy(await evaluate(n.a, scope));
    case 'neg':
      return -Number(await evaluate(n.a, scope));
    case 'cond':
      return truthy(await evaluate(n.test, scope))
        ? evaluate(n.then, scope)
        : n.else
          ? evaluate(n.else, scope)
          : '';
    case 'list':
      return Promise.all(n.items.map((i) => evaluate(i, scope)));
    case 'dict': {
      const o: Record<string, unknown> = {};
      for (const [k, v] of n.entries) o[String(await evaluate(k, scope))] = await evaluate(v, scope);
      return o;
    }
    case 'bin': {
      if (n.op === 'and') {
        const a = await evaluate(n.a, scope);
        return truthy(a) ? evaluate(n.b, scope) : a;
      }
      if (n.op === 'or') {
        const a = await evaluate(n.a, scope);
        return truthy(a) ? a : evaluate(n.b, scope);
      }
      const a = await evaluate(n.a, scope);
      const b = await evaluate(n.b, scope);
      switch (n.op) {
        case '+':
          return typeof a === 'number' && typeof b === 'number'
            ? a + b
            : Array.isArray(a) && Array.isArray(b)
              ? [...a, ...b]
              : toTemplateString(a) + toTemplateString(b);
        case '~':
          return toTemplateString(a) + toTemplateString(b);
        case '-':
          return Number(a) - Number(b);
        case '*':
          return typeof a === 'string' && typeof b === 'number' ? a.repeat(b) : Number(a) * Number(b);
        case '/':
          return Number(a) / Number(b);
        case '//':
          return Math.floor(Number(a) / Number(b));
        case '%':
          return Number(a) % Number(b);
        case '==':
          return a === b || (a instanceof Date && b instanceof Date && a.getTime() === b.getTime());
        case '!=':
          return a !== b;
        case '<':
          return (a as number) < (b as number);
        case '>':
          return (a as number) > (b as number);
        case '<=':
          return (a as number) <= (b as number);
        case '>=':
          return (a as number) >= (b as number);
        case 'in':
          return typeof b === 'string'
            ? b.includes(String(a))
            : Array.isArray(b)
              ? b.includes(a)
              : isPlainObject(b)
                ? String(a) in b
                : false;
      }
      throw new ValidationError(`unknown operator ${n.op}`);
    }
  }
}

/** Evaluate one expression against a scope. */
export function evaluateExpression(src: string, scope: Record<string, unknown>): Promise<unknown> {
  return evaluate(parseExpression(src), scope);
}

/** Check a template's syntax without rendering it (done at DAG load for templated fields). */
export function checkTemplateSyntax(template: string): void {
  for (const part of splitTemplate(template)) if (part.kind === 'expr') parseExpression(part.text);
}

type Part = { kind: 'text'; text: string } | { kind: 'expr'; text: string };
function splitTemplate(template: string): Part[] {
  const parts: Part[] = [];
  const re = /\{\{([\s\S]*?)\}\}|\{#[\s\S]*?#\}/g;
  let last = 0;
  for (let m = re.exec(template); m; m = re.exec(template)) {
    if (m.index > last) parts.push({ kind: 'text', text: template.slice(last, m.index) });
    if (m[1] !== undefined) parts.push({ kind: 'expr', text: m[1].trim() });
    last = re.lastIndex;
  }
  if (last < template.length) parts.push({ kind: 'text', text: template.slice(last) });
  return parts;
}

/** Render one template string. Undefined values render as '' (like Jinja's default Undefined). */
export async function renderString(template: string, scope: Record<string, unknown>): Promise<string> {
  if (!template.includes('{{') && !template.includes('{#')) return template;
  let out = '';
  for (const part of splitTemplate(template)) {
    if (part.kind === 'text') out += part.text;
    else {
      const v = await evaluateExpression(part.text, scope);
      out += v === undefined ? '' : toTemplateString(v);
    }
  }
  return out;
}

/** Render every string inside a value (arrays and plain objects recursively; other values kept). */
export async function renderValue(value: unknown, scope: Record<string, unknown>): Promise<unknown> {
  if (typeof value === 'string') return renderString(value, scope);
  if (isXComArg(value)) return value;
  if (Array.isArray(value)) return Promise.all(value.map((v) => renderValue(v, scope)));
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = await renderValue(v, scope);
    return out;
  }
  return value;
}

/** The variables templates see: the task context plus Airflow's aliases. */
export function templateScope(context: TaskContext, task?: unknown): Record<string, unknown> {
  // Services (DB access, triggering runs) stay out of reach of template text.
  const { services: _services, signal: _signal, ...visible } = context;
  return { ...visible, task: task ?? context.task };
}

/**
 * Render an operator's templated fields in place (before execute) and return the rendered values,
 * which the runner stores as the task instance's rendered fields.
 */
export async function renderTemplates(
  operator: { templateFields: readonly string[] },
  context: TaskContext,
): Promise<Record<string, unknown>> {
  const scope = templateScope(context, operator);
  const target = operator as unknown as Record<string, unknown>;
  const rendered: Record<string, unknown> = {};
  for (const field of operator.templateFields) {
    const value = target[field];
    if (value === undefined || typeof value === 'function') continue;
    try {
      target[field] = await renderValue(value, scope);
      // XComArgs are pulled, not rendered: the value another task returned is used as it is.
      if (findXComArgs(target[field]).length > 0)
        target[field] = await resolveXComArgs(target[field], context);
    } catch (error) {
      throw new ValidationError(`Error rendering template field '${field}': ${(error as Error).message}`);
    }
    rendered[field] = target[field];
  }
  return rendered;
}
