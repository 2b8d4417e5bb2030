import type { RegisterCommand } from '../../command-kit.js';
import { registerTaskInspection } from './inspect.js';
import { registerTaskInstances } from './instances.js';
import { registerTaskRun } from './run.js';

/**
 * `updraft tasks …`: reading tasks (list: inspect.ts), running one try (run, test, render:
 * run.ts) and acting on task instances (state, clear: instances.ts).
 */
export const registerTasks: RegisterCommand = (program, cli) => {
  registerTaskInspection(program, cli);
  registerTaskRun(program, cli);
  registerTaskInstances(program, cli);
};
