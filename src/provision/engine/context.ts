import type { RemoteHost } from '../remote/types.js';
import type { Stack } from '../stack/schema.js';
import type { StackSecrets } from '../stack/secrets.js';
import type { HostFacts } from './facts.js';

/** Files built or fetched on the operator's machine and uploaded to the host. */
export interface OperatorArtifacts {
  /** node-linux-<arch> package tarball from the npm registry, and its version. */
  nodeRuntime(): Promise<{ file: string; version: string; id: string }>;
  /** The orchestrator with its production dependencies, and its content id. */
  orchestrator(): Promise<{ file: string; id: string }>;
}

/** Everything a resource needs to check and apply itself. */
export interface RunContext {
  host: RemoteHost;
  facts: HostFacts;
  stack: Stack;
  secrets: StackSecrets;
  check: boolean;
  artifacts: OperatorArtifacts;
  /** Replace every secret value in text with ******** (for diffs and messages). */
  mask(text: string): string;
}
