import { plainReporter } from './reporters.js';
import type { ProgressReporter } from './types.js';

/** listr2 on a terminal, plain lines otherwise. */
export async function terminalReporter(): Promise<ProgressReporter> {
  return plainReporter();
}
