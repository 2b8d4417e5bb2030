import type { RunContext } from '../engine/context.js';
import type { HostFacts } from '../engine/facts.js';
import type { Resource } from '../engine/resources.js';
import type { Stack } from '../stack/schema.js';
import type { StackSecrets } from '../stack/secrets.js';

/** One playbook step: an ordered list of resources, and an optional gate run after applying them. */
export interface Step {
  id: string;
  title: string;
  resources: Resource[];
  /** Runs after the resources in apply mode (health gates); throws when the host is not right. */
  verify?: (ctx: RunContext) => Promise<void>;
}

export interface PlanInput {
  facts: HostFacts;
  stack: Stack;
  secrets: StackSecrets;
}

export type Playbook = (input: PlanInput) => Step[];
