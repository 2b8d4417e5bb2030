import { parseDocument } from 'yaml';
import { ValidationError } from '../../errors.js';

/**
 * The stack file: every choice a provisioning run makes, in one YAML document. Command-line
 * flags override it (see applyOverrides). The `aws:` section belongs to the EC2 layer
 * (src/provision/aws/); it is carried through untouched.
 */
export const EXECUTOR_CHOICES = ['CeleryExecutor', 'LocalExecutor'] as const;
export type StackExecutor = (typeof EXECUTOR_CHOICES)[number];

/** `current`: Amazon Linux 2023 + MySQL 8.4 LTS. `legacy`: Amazon Linux 2 + MySQL 5.7, as the source document. */
export const PROFILE_CHOICES = ['current', 'legacy'] as const;
export type StackProfile = (typeof PROFILE_CHOICES)[number];

export const TARGET_CHOICES = ['ssh', 'local'] as const;
export type StackTargetKind = (typeof TARGET_CHOICES)[number];

export interface StackHost {
  address: string | null;
  port: number;
  user: string;
  /** Private key file on the operator's machine. */
  key: string | null;
}

export interface StackAdmin {
  username: string;
  email: string;
  firstname: string;
  lastname: string;
  /** null: generated once and kept in the stack's secrets. */
  password: string | null;
}

export interface Stack {
  name: string;
  profile: StackProfile;
  target: StackTargetKind;
  host: StackHost;
  airflow: {
    home: string;
    /** Dedicated system user the services run as. */
    user: string;
    executor: StackExecutor;
    web_port: number;
    /** URL users reach the webserver at; null: http://<host address>:<web_port>. */
    base_url: string | null;
    load_examples: boolean;
    /** Folder of DAG files on the operator's machine copied into the dags folder; null: none. */
    dags: string | null;
    admin: StackAdmin;
  };
  redis: {
    port: number;
    /** Extra address Redis binds to, for remote workers only; null: loopback only. */
    private_address: string | null;
  };
  database: {
    name: string;
    user: string;
  };
  node: {
    /** Node.js version installed on the host; null: the operator's own (process.version). */
    version: string | null;
  };
  /** Owned by src/provision/aws/; passed through unvalidated. */
  aws: Record<string, unknown> | null;
}

export function defaultStack(name = 'default'): Stack {
  return {
    name,
    profile: 'current',
    target: 'ssh',
    host: { address: null, port: 22, user: 'root', key: null },
    airflow: {
      home: '/opt/airflow',
      user: 'airflow',
      executor: 'CeleryExecutor',
      web_port: 8080,
      base_url: null,
      load_examples: false,
      dags: null,
      admin: {
        username: 'admin',
        email: 'admin@example.com',
        firstname: 'Admin',
        lastname: 'User',
        password: null,
      },
    },
    redis: { port: 6379, private_address: null },
    database: { name: 'airflow', user: 'airflow' },
    node: { version: null },
    aws: null,
  };
}

type Plain = Record<string, unknown>;

/** Field readers: each names the key path and the accepted form in its message. */
class Reader {
  readonly errors: string[] = [];

  section(obj: Plain, key: string, path: string, known: readonly string[]): Plain | undefined {
    const v = obj[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) {
      this.errors.push(`${path}: must be a mapping with keys ${known.join(', ')}`);
      return undefined;
    }
    this.unknownKeys(v as Plain, path, known);
    return v as Plain;
  }

  unknownKeys(obj: Plain, path: string, known: readonly string[]): void {
    for (const k of Object.keys(obj)) {
      if (!known.includes(k)) {
        const where = path ? `${path}.${k}` : k;
        this.errors.push(`${where}: unknown key (accepted here: ${known.join(', ')})`);
      }
    }
  }

  string(
    obj: Plain | undefined,
    key: string,
    path: string,
    form: string,
    pattern?: RegExp,
  ): string | undefined {
    const v = obj?.[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || v === '' || (pattern && !pattern.test(v))) {
      this.errors.push(`${path}: must be ${form} (got ${JSON.stringify(v)})`);
      return undefined;
    }
    return v;
  }

  int(obj: Plain | undefined, key: string, path: string, min: number, max: number): number | undefined {
    const v = obj?.[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.errors.push(`${path}: must be an integer from ${min} to ${max} (got ${JSON.stringify(v)})`);
      return undefined;
    }
    return v;
  }

  bool(obj: Plain | undefined, key: string, path: string): boolean | undefined {
    const v = obj?.[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') {
      this.errors.push(`${path}: must be true or false (got ${JSON.stringify(v)})`);
      return undefined;
    }
    return v;
  }

  oneOf<T extends string>(
    obj: Plain | undefined,
    key: string,
    path: string,
    choices: readonly T[],
  ): T | undefined {
    const v = obj?.[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) {
      this.errors.push(`${path}: must be one of ${choices.join(', ')} (got ${JSON.stringify(v)})`);
      return undefined;
    }
    return v as T;
  }
}

const NAME = /^[a-z0-9][a-z0-9-]{0,39}$/;
const UNIX_USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const SQL_NAME = /^[A-Za-z0-9_]{1,32}$/;
const NODE_VERSION = /^v?\d+\.\d+\.\d+$/;
const ADDRESS = /^[A-Za-z0-9.:-]{1,253}$/;

/** Validate a parsed stack document; throws ValidationError listing every problem. */
export function validateStack(doc: unknown, source = 'stack'): Stack {
  if (doc === null || doc === undefined) doc = {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ValidationError(`${source}: the stack file must be a YAML mapping (key: value lines).`);
  }
  const r = new Reader();
  const top = doc as Plain;
  r.unknownKeys(top, '', [
    'name',
    'profile',
    'target',
    'host',
    'airflow',
    'redis',
    'database',
    'node',
    'aws',
  ]);
  const s = defaultStack();
  s.name =
    r.string(top, 'name', 'name', 'lower-case letters, digits and dashes, at most 40 (e.g. prod-1)', NAME) ??
    s.name;
  s.profile = r.oneOf(top, 'profile', 'profile', PROFILE_CHOICES) ?? s.profile;
  s.target = r.oneOf(top, 'target', 'target', TARGET_CHOICES) ?? s.target;

  const host = r.section(top, 'host', 'host', ['address', 'port', 'user', 'key']);
  s.host.address = r.string(host, 'address', 'host.address', 'a host name or IP address', ADDRESS) ?? null;
  s.host.port = r.int(host, 'port', 'host.port', 1, 65535) ?? s.host.port;
  s.host.user =
    r.string(
      host,
      'user',
      'host.user',
      'a Unix user name such as ec2-user, admin, ubuntu or root',
      UNIX_USER,
    ) ?? s.host.user;
  s.host.key = r.string(host, 'key', 'host.key', 'the path of a private key file') ?? null;

  const af = r.section(top, 'airflow', 'airflow', [
    'home',
    'user',
    'executor',
    'web_port',
    'base_url',
    'load_examples',
    'dags',
    'admin',
  ]);
  const a = s.airflow;
  a.home =
    r.string(
      af,
      'home',
      'airflow.home',
      'an absolute path outside /home, /root and /tmp (e.g. /opt/airflow)',
      /^\/(?!home\/|root\/|tmp\/)[A-Za-z0-9._/-]+$/,
    ) ?? a.home;
  a.user = r.string(af, 'user', 'airflow.user', 'a Unix user name (e.g. airflow)', UNIX_USER) ?? a.user;
  if (a.user === 'root')
    r.errors.push('airflow.user: must not be root (the services run as a dedicated system user)');
  a.executor = r.oneOf(af, 'executor', 'airflow.executor', EXECUTOR_CHOICES) ?? a.executor;
  a.web_port = r.int(af, 'web_port', 'airflow.web_port', 1, 65535) ?? a.web_port;
  a.base_url =
    r.string(af, 'base_url', 'airflow.base_url', 'an http:// or https:// URL', /^https?:\/\/\S+$/) ?? null;
  a.load_examples = r.bool(af, 'load_examples', 'airflow.load_examples') ?? a.load_examples;
  a.dags = r.string(af, 'dags', 'airflow.dags', 'the path of a folder of DAG files on this machine') ?? null;
  const admin = r.section(af ?? {}, 'admin', 'airflow.admin', [
    'username',
    'email',
    'firstname',
    'lastname',
    'password',
  ]);
  a.admin.username =
    r.string(
      admin,
      'username',
      'airflow.admin.username',
      'a user name of letters, digits, . _ - @',
      /^[A-Za-z0-9._@-]{1,64}$/,
    ) ?? a.admin.username;
  a.admin.email =
    r.string(admin, 'email', 'airflow.admin.email', 'an e-mail address', /^[^@\s]+@[^@\s]+$/) ??
    a.admin.email;
  a.admin.firstname =
    r.string(admin, 'firstname', 'airflow.admin.firstname', 'a non-empty string') ?? a.admin.firstname;
  a.admin.lastname =
    r.string(admin, 'lastname', 'airflow.admin.lastname', 'a non-empty string') ?? a.admin.lastname;
  a.admin.password =
    r.string(
      admin,
      'password',
      'airflow.admin.password',
      'a string of at least 8 characters (or leave it out to have one generated)',
      /^.{8,}$/,
    ) ?? null;

  const redis = r.section(top, 'redis', 'redis', ['port', 'private_address']);
  s.redis.port = r.int(redis, 'port', 'redis.port', 1, 65535) ?? s.redis.port;
  s.redis.private_address =
    r.string(
      redis,
      'private_address',
      'redis.private_address',
      'a private IPv4 address of the host (e.g. 10.0.1.5)',
      /^(10|172|192)\.\d{1,3}\.\d{1,3}\.\d{1,3}$/,
    ) ?? null;

  const db = r.section(top, 'database', 'database', ['name', 'user']);
  s.database.name =
    r.string(db, 'name', 'database.name', 'letters, digits and _ (at most 32)', SQL_NAME) ?? s.database.name;
  s.database.user =
    r.string(db, 'user', 'database.user', 'letters, digits and _ (at most 32)', SQL_NAME) ?? s.database.user;

  const node = r.section(top, 'node', 'node', ['version']);
  s.node.version =
    r
      .string(node, 'version', 'node.version', 'a Node.js version such as 20.20.2', NODE_VERSION)
      ?.replace(/^v/, '') ?? null;

  const aws = top['aws'];
  if (aws !== undefined && aws !== null) {
    if (typeof aws !== 'object' || Array.isArray(aws))
      r.errors.push('aws: must be a mapping (see docs/provisioning.md)');
    else s.aws = aws as Record<string, unknown>;
  }
  if (r.errors.length) {
    throw new ValidationError(`${source} is not valid:\n  - ${r.errors.join('\n  - ')}`);
  }
  return s;
}

/** Parse YAML text into a validated stack; YAML syntax errors name the line. */
export function parseStack(text: string, source = 'stack'): Stack {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    throw new ValidationError(
      `${source} is not valid YAML:\n  - ${doc.errors.map((e) => e.message).join('\n  - ')}`,
    );
  }
  return validateStack(doc.toJS(), source);
}

/** Command-line flags that override the stack file. */
export interface StackOverrides {
  host?: string;
  port?: number;
  user?: string;
  key?: string;
  profile?: string;
  target?: string;
  name?: string;
}

export function applyOverrides(stack: Stack, o: StackOverrides): Stack {
  const doc = structuredClone(stack) as unknown as Plain;
  const host = doc['host'] as Plain;
  if (o.name !== undefined) doc['name'] = o.name;
  if (o.profile !== undefined) doc['profile'] = o.profile;
  if (o.target !== undefined) doc['target'] = o.target;
  if (o.host !== undefined) host['address'] = o.host;
  if (o.port !== undefined) host['port'] = o.port;
  if (o.user !== undefined) host['user'] = o.user;
  if (o.key !== undefined) host['key'] = o.key;
  const result = validateStack(doc, 'command-line options');
  if (result.target === 'ssh' && !result.host.address) {
    throw new ValidationError(
      'host.address: required for an SSH target (give --host HOST or host.address in the stack file, or --target local)',
    );
  }
  return result;
}
