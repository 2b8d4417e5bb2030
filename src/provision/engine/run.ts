import type { Stack } from '../stack/schema.js';
import type { ProvisionOptions, ProvisionResult, ProvisionTarget } from './types.js';

/** Converge one host to the stack; in check mode, report what would change. */
export async function provision(stack: Stack, target: ProvisionTarget, options: ProvisionOptions = {}): Promise<ProvisionResult> {
  void stack;
  void target;
  void options;
  throw new Error('not implemented yet');
}
