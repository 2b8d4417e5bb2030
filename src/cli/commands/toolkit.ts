import type { RegisterCommand } from '../command-kit.js';
import { registerProvision } from './provision.js';
import { registerAwsStack } from './aws-stack.js';
import { registerHealth } from './health.js';
import { registerRepair } from './repair.js';

/**
 * The provisioning toolkit's commands. They import their engine only when they run and never use
 * the orchestrator's context, so main() can start them without loading the orchestrator (about a
 * second of module loading saved on `updraft health`).
 */
export const toolkitCommands: RegisterCommand[] = [
  registerProvision,
  registerAwsStack,
  registerHealth,
  registerRepair,
];
