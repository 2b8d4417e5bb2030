import type { FastifyRequest } from 'fastify';
import type { ParamSpec, SerializedDag } from '../../dag/serialized.js';
import { validateParams } from '../../dag/params.js';
import { isUpdraftError } from '../../errors.js';
import { html, type SafeHtml } from './html.js';
import { csrfField } from './layout.js';

/**
 * The "Trigger DAG w/ config" form: one widget per DAG param chosen from its JSON schema (select
 * for enum, checkbox for booleans, number inputs, a JSON editor for objects and arrays, text
 * otherwise), the optional conf JSON on top, and the run id. Reading the posted form checks each
 * field against its own schema so a bad value comes back beside its field with the input kept.
 */
export type WidgetKind = 'enum' | 'boolean' | 'integer' | 'number' | 'json' | 'string';

export interface TriggerFormState {
  /** The text of each field as posted (param name, or `conf` / `run_id`). */
  values: Record<string, string>;
  /** Messages by field; `_form` for problems not tied to one field. */
  errors: Record<string, string>;
}

function schemaTypes(spec: ParamSpec): string[] {
  const type = spec.schema?.type;
  return Array.isArray(type) ? type.map(String) : typeof type === 'string' ? [type] : [];
}

export function widgetKind(spec: ParamSpec): WidgetKind {
  if (Array.isArray(spec.schema?.enum)) return 'enum';
  const declared = schemaTypes(spec).find((t) => t !== 'null');
  const type =
    declared ??
    (typeof spec.default === 'boolean'
      ? 'boolean'
      : typeof spec.default === 'number'
        ? Number.isInteger(spec.default)
          ? 'integer'
          : 'number'
        : spec.default !== null && typeof spec.default === 'object'
          ? 'object'
          : 'string');
  if (type === 'boolean' || type === 'integer' || type === 'number' || type === 'string') return type;
  return type === 'object' || type === 'array' ? 'json' : 'string';
}

/** The text a widget shows for a value. */
function textOf(kind: WidgetKind, value: unknown): string {
  if (value === undefined) return '';
  if (kind === 'string') return value === null ? '' : String(value);
  if (kind === 'json') return JSON.stringify(value, null, 2);
  if (kind === 'enum') return JSON.stringify(value);
  return value === null ? '' : String(value);
}

function fieldName(param: string): string {
  return `param:${param}`;
}

function widget(name: string, spec: ParamSpec, kind: WidgetKind, text: string, invalid: boolean): SafeHtml {
  const id = `param-${name}`;
  const common = html`id="${id}" name="${fieldName(name)}" aria-invalid="${invalid ? 'true' : 'false'}"
  aria-describedby="${id}-help"`;
  switch (kind) {
    case 'enum': {
      const options = (spec.schema!.enum as unknown[]).map((v) => JSON.stringify(v));
      return html`<select ${common}>
        ${options.includes(text) ? '' : html`<option value="" selected>— choose —</option>`}
        ${options.map(
          (o) =>
            html`<option value="${o}" ${o === text ? 'selected' : ''}>
              ${String(JSON.parse(o) as unknown)}
            </option>`,
        )}
      </select>`;
    }
    case 'boolean':
      // The hidden "false" comes first; a checked box adds "true" after it and the last value wins.
      return html`<input type="hidden" name="${fieldName(name)}" value="false" /><input
          type="checkbox"
          ${common}
          value="true"
          ${text === 'true' ? 'checked' : ''}
        />`;
    case 'integer':
    case 'number': {
      const min = spec.schema?.minimum;
      const max = spec.schema?.maximum;
      return html`<input
        type="number"
        ${common}
        value="${text}"
        step="${kind === 'integer' ? '1' : 'any'}"
        ${typeof min === 'number' ? html`min="${min}"` : ''}
        ${typeof max === 'number' ? html`max="${max}"` : ''}
      />`;
    }
    case 'json':
      return html`<textarea
        ${common}
        class="json-editor"
        rows="${Math.min(12, Math.max(3, text.split('\n').length))}"
        spellcheck="false"
      >
${text}</textarea>`;
    case 'string':
      return html`<input type="text" ${common} value="${text}" style="width:100%" />`;
  }
}

export function triggerForm(
  request: FastifyRequest,
  dag: SerializedDag,
  state: TriggerFormState | null = null,
): SafeHtml {
  const enc = encodeURIComponent(dag.dagId);
  const params = Object.entries(dag.params);
  const errors = state?.errors ?? {};
  const error = (field: string) =>
    errors[field] ? html`<div class="field-error" role="alert">${errors[field]}</div>` : '';
  const conf = state?.values.conf ?? '{}';
  return html`<form method="post" action="/dags/${enc}/trigger" class="panel" id="trigger-form">
    ${csrfField(request)}
    <h2>Trigger DAG ${dag.dagId}</h2>
    ${errors._form ? html`<div class="banner error" role="alert" id="trigger-error">${errors._form}</div>` : ''}
    ${
      params.length
        ? html`<h3>Params</h3>
            <dl class="details params">
              ${params.map(([name, spec]) => {
                const kind = widgetKind(spec);
                const text = state?.values[name] ?? textOf(kind, spec.default);
                const types = schemaTypes(spec).join(' | ') || kind;
                return html`<dt><label for="param-${name}">${spec.schema?.title ?? name}</label></dt>
                  <dd data-param="${name}" data-widget="${kind}">
                    ${widget(name, spec, kind, text, !!errors[name])} ${error(name)}
                    <div class="muted" id="param-${name}-help">
                      ${spec.description ? html`<div>${spec.description}</div>` : ''}
                      <div class="param-meta">
                        ${types}${spec.default === undefined ? ' · required' : html` · default <code>${JSON.stringify(spec.default)}</code>`}
                      </div>
                    </div>
                  </dd>`;
              })}
            </dl>`
        : ''
    }
    <details ${params.length && !errors.conf ? '' : 'open'} id="conf-section">
      <summary>Configuration JSON${params.length ? ' (advanced)' : ''}</summary>
      <p class="muted">
        ${params.length ? 'Keys here are added to the params above and override them.' : 'The run\u2019s conf.'}
      </p>
      <textarea name="conf" class="json-editor" rows="6" aria-label="Configuration JSON" spellcheck="false">
${conf}</textarea>
      ${error('conf')}
    </details>
    <p>
      <label
        >Run id (optional)
        <input type="text" name="run_id" placeholder="manual__…" value="${state?.values.run_id ?? ''}"
      /></label>
      ${error('run_id')}
    </p>
    <button class="primary" type="submit">▶ Trigger</button> <a href="/dags/${enc}/grid">Cancel</a>
  </form>`;
}

/** The last value of a field (a checked box comes after its hidden "false"). */
function lastValue(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key];
  if (Array.isArray(v)) return v.length ? String(v[v.length - 1]) : undefined;
  return typeof v === 'string' ? v : undefined;
}

function parseField(kind: WidgetKind, spec: ParamSpec, text: string): { value?: unknown; error?: string } {
  const nullable = schemaTypes(spec).includes('null');
  if (kind !== 'string' && kind !== 'boolean' && text.trim() === '') {
    if (nullable) return { value: null };
    return spec.schema ? { error: 'A value is required.' } : {};
  }
  switch (kind) {
    case 'boolean':
      return { value: text === 'true' };
    case 'integer':
    case 'number': {
      const n = Number(text);
      if (!Number.isFinite(n)) return { error: 'Enter a number.' };
      if (kind === 'integer' && !Number.isInteger(n)) return { error: 'Enter a whole number.' };
      return { value: n };
    }
    case 'enum':
    case 'json':
      try {
        return { value: JSON.parse(text) as unknown };
      } catch (error) {
        return { error: `Not valid JSON: ${(error as Error).message}` };
      }
    case 'string':
      return { value: text };
  }
}

/** The checked conf of a posted form, or the form state to show again with the problems found. */
export function readTriggerForm(
  dag: SerializedDag,
  body: Record<string, unknown>,
):
  | { conf: Record<string, unknown>; runId?: string; values: Record<string, string> }
  | { state: TriggerFormState } {
  const values: Record<string, string> = {};
  const errors: Record<string, string> = {};
  const conf: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(dag.params)) {
    const text = lastValue(body, fieldName(name));
    if (text === undefined) continue;
    values[name] = text;
    const parsed = parseField(widgetKind(spec), spec, text);
    if (parsed.error) errors[name] = parsed.error;
    else if ('value' in parsed) conf[name] = parsed.value;
  }
  const confText = lastValue(body, 'conf') ?? '';
  values.conf = confText;
  const runId = lastValue(body, 'run_id')?.trim() ?? '';
  values.run_id = runId;
  let extra: unknown = {};
  if (confText.trim()) {
    try {
      extra = JSON.parse(confText);
    } catch (error) {
      errors.conf = `Not valid JSON: ${(error as Error).message}`;
    }
  }
  if (!errors.conf && (!extra || typeof extra !== 'object' || Array.isArray(extra)))
    errors.conf = 'The configuration must be a JSON object.';
  if (!errors.conf) Object.assign(conf, extra);
  // Each param against its own schema, so the message lands beside its field.
  for (const [name, spec] of Object.entries(dag.params)) {
    if (errors[name] || !spec.schema) continue;
    try {
      validateParams({ [name]: spec }, name in conf ? { [name]: conf[name] } : {});
    } catch (error) {
      if (!isUpdraftError(error)) throw error;
      // A value that came from the conf JSON is wrong there; anything else belongs to its field.
      const field = isObjectWith(extra, name) ? 'conf' : name;
      // "Invalid params: param 'x' = <value>: why" → "why" beside field x.
      const prefix = `Invalid params: param '${name}' = ${JSON.stringify(conf[name])}: `;
      const why = error.message.startsWith(prefix)
        ? `${error.message.slice(prefix.length).replace(/^value /, '')}.`
        : error.message.replace(/^Invalid params: /, '');
      errors[field] = why.charAt(0).toUpperCase() + why.slice(1);
    }
  }
  if (Object.keys(errors).length) return { state: { values, errors } };
  return { conf, runId: runId || undefined, values };
}

function isObjectWith(value: unknown, key: string): boolean {
  return !!value && typeof value === 'object' && !Array.isArray(value) && key in value;
}
