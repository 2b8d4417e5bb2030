import { parseConnectionEnvValue } from '../connections/uri.js';

/**
 * Airflow's secrets masker: every connection password and every variable whose key looks
 * sensitive is replaced by *** wherever it could be shown (task logs, rendered fields, XCom
 * views, error messages). Values are registered when they are read (a task looking up
 * `{{ var.value.x }}` or `{{ conn.y.password }}`, or the webserver loading them to serve logs) and
 * then redacted from any text or JSON value.
 */

/** Airflow's DEFAULT_SENSITIVE_FIELDS: a key containing one of these (any case) is sensitive. */
export const DEFAULT_SENSITIVE_NAMES: readonly string[] = [
  'access_token',
  'api_key',
  'apikey',
  'authorization',
  'passphrase',
  'passwd',
  'password',
  'private_key',
  'secret',
  'token',
  'keyfile_dict',
  'service_account',
];

export const MASK = '***';

/**
 * Airflow does not mask shorter values ([logging] min_length_masked_secret, default 5): masking
 * every "ab" or "1" would make logs unreadable while hiding nothing worth guessing.
 */
export const MIN_SECRET_LENGTH = 5;

export interface MaskerSettings {
  /** [core] sensitive_var_conn_names: more key fragments that count as sensitive. */
  extraSensitiveNames?: readonly string[];
  /** [core] hide_sensitive_var_conn_fields: false turns masking off. */
  enabled?: boolean;
}

export class SecretsMasker {
  private readonly secrets = new Set<string>();
  private pattern: RegExp | null = null;
  private names: string[] = [...DEFAULT_SENSITIVE_NAMES];
  private enabled = true;

  constructor(settings: MaskerSettings = {}) {
    this.configure(settings);
  }

  configure(settings: MaskerSettings): void {
    this.enabled = settings.enabled ?? true;
    this.names = [
      ...DEFAULT_SENSITIVE_NAMES,
      ...(settings.extraSensitiveNames ?? []).map((n) => n.trim().toLowerCase()).filter(Boolean),
    ];
  }

  /** Whether a variable key, connection extra field or JSON key names a secret. */
  isSensitiveName(name: string): boolean {
    const lower = name.toLowerCase();
    return this.names.some((n) => lower.includes(n));
  }

  /** Mask this value from now on (with its JSON-escaped and URL-encoded spellings, and each line). */
  add(value: unknown): void {
    if (typeof value !== 'string' || !this.enabled) return;
    const forms = [value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)];
    if (value.includes('\n')) forms.push(...value.split(/\r?\n/));
    let added = false;
    for (const form of forms) {
      if (form.length < MIN_SECRET_LENGTH || this.secrets.has(form)) continue;
      this.secrets.add(form);
      added = true;
    }
    if (added) this.pattern = null;
  }

  /** A variable: masked when its key looks sensitive. */
  addVariable(key: string, value: string | undefined): void {
    if (value !== undefined && this.isSensitiveName(key)) this.add(value);
  }

  /** A connection: its password always, and extra fields whose names look sensitive. */
  addConnection(conn: { password?: string | null; extra?: string | Record<string, unknown> | null }): void {
    this.add(conn.password ?? undefined);
    let extra: unknown = conn.extra;
    if (typeof extra === 'string') {
      try {
        extra = JSON.parse(extra);
      } catch {
        return;
      }
    }
    this.addSensitiveFields(extra);
  }

  /**
   * Values that reach a process through its environment: AIRFLOW_VAR_<KEY> with a sensitive key,
   * and the password (and sensitive extras) of every AIRFLOW_CONN_<ID>.
   */
  addEnvironment(env: NodeJS.ProcessEnv): void {
    for (const [name, value] of Object.entries(env)) {
      if (value === undefined) continue;
      if (name.startsWith('AIRFLOW_VAR_')) this.addVariable(name.slice('AIRFLOW_VAR_'.length), value);
      else if (name.startsWith('AIRFLOW_CONN_')) {
        try {
          this.addConnection(
            parseConnectionEnvValue(name.slice('AIRFLOW_CONN_'.length).toLowerCase(), value),
          );
        } catch {
          // Not a connection we can parse: the task cannot use it either.
        }
      }
    }
  }

  /** `text` with every registered secret replaced by ***. */
  redact(text: string): string {
    if (!this.enabled || this.secrets.size === 0 || text.length < MIN_SECRET_LENGTH) return text;
    this.pattern ??= new RegExp(
      [...this.secrets]
        .sort((a, b) => b.length - a.length)
        .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('|'),
      'g',
    );
    return text.replace(this.pattern, MASK);
  }

  /**
   * A JSON-like value with secrets redacted: strings are redacted, and any value under a key that
   * looks sensitive becomes *** whatever it holds (as Airflow's redact() does for dicts).
   */
  redactValue<T>(value: T, key?: string): T {
    if (!this.enabled) return value;
    if (
      key !== undefined &&
      value !== null &&
      value !== undefined &&
      value !== '' &&
      this.isSensitiveName(key)
    )
      return MASK as T;
    if (typeof value === 'string') return this.redact(value) as T;
    if (Array.isArray(value)) return value.map((v) => this.redactValue(v)) as T;
    if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      return Object.fromEntries(
        Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, this.redactValue(v, k)]),
      ) as T;
    }
    return value;
  }

  /** Text that holds JSON (an XCom value, rendered fields as stored): redacted as a value when it parses. */
  redactJsonText(text: string): string {
    try {
      return JSON.stringify(this.redactValue(JSON.parse(text) as unknown));
    } catch {
      return this.redact(text);
    }
  }

  private addSensitiveFields(value: unknown): void {
    if (value === null || typeof value !== 'object') return;
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (this.isSensitiveName(k)) {
        if (typeof v === 'string') this.add(v);
        else if (v !== null && typeof v === 'object') this.add(JSON.stringify(v));
      } else this.addSensitiveFields(v);
    }
  }
}

/**
 * The masker of this process (Airflow keeps one per process too). A task process registers what
 * its tasks read; its task logs and rendered fields go through it.
 */
export const processSecrets = new SecretsMasker();
