import type { RemoteHost } from '../remote/types.js';
import type { OperatorArtifacts } from './context.js';

/** Where a run goes: an SSH host, the machine the tool runs on, or a host the caller already opened. */
export type ProvisionTarget =
  | { kind: 'ssh'; address: string; port: number; user: string; keyFile: string; connectDeadlineMs?: number }
  | { kind: 'local' }
  | { kind: 'host'; host: RemoteHost };

export type StepStatus = 'unchanged' | 'changed' | 'would-change' | 'failed' | 'skipped';

export interface ChangeReport {
  /** What is changed: a file path, a package list, a service name, a database object. */
  resource: string;
  /** One line: what the change does. */
  summary: string;
  /** Unified diff of a file the change writes (secrets masked). */
  diff?: string;
}

export interface StepReport {
  id: string;
  title: string;
  status: StepStatus;
  durationMs: number;
  changes: ChangeReport[];
  error?: string;
}

/** Events a progress display follows; see engine/reporters.ts. */
export interface ProgressReporter {
  runStarted(info: {
    host: string;
    os: string;
    check: boolean;
    steps: { id: string; title: string }[];
  }): void;
  stepStarted(id: string): void;
  stepFinished(report: StepReport): void;
  warn(message: string): void;
  runFinished(result: ProvisionResult): void | Promise<void>;
}

export interface ProvisionOptions {
  /** Plan only: print what would change and the diffs, change nothing. */
  check?: boolean;
  /** Answer yes to questions (going ahead on an Amazon Linux 2 host). */
  yes?: boolean;
  /** Ask the operator; given only when someone can answer (a terminal). Without it the run goes ahead. */
  confirm?: (question: string) => Promise<boolean>;
  reporter?: ProgressReporter;
  env?: NodeJS.ProcessEnv;
  /** Run only these playbook steps (by id), in plan order; `repair` re-applies the steps behind failed checks. */
  only?: string[];
  /** Use these instead of building the release and fetching Node on this machine (tests, prebuilt CI artifacts). */
  artifacts?: OperatorArtifacts;
}

export interface ProvisionResult {
  stack: string;
  host: string;
  /** Detected OS family (debian12, ubuntu2204, ubuntu2404, al2, al2023). */
  os: string;
  check: boolean;
  ok: boolean;
  /** Number of changes made (or, in check mode, that would be made). */
  changed: number;
  steps: StepReport[];
  durationMs: number;
  /** The webserver URL once the node is healthy. */
  url: string | null;
  /** The stack's secrets file on the operator's machine. */
  secretsPath: string;
  /** True when this run generated the secrets (shown once). */
  secretsCreated: boolean;
  /** The per-run log of every command and its output (secrets masked). */
  logPath: string;
  warnings: string[];
  error?: string;
}
