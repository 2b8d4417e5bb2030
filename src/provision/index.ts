/**
 * Provisioning engine: from a bare Linux host to a running, secured Updraft node. Loaded only by
 * the `provision` CLI command (dynamic import), never by the scheduler or task processes.
 */
export * from './stack/index.js';
export * from './remote/index.js';
export * from './engine/types.js';
export { provision } from './engine/run.js';
export { plainReporter, jsonReporter, summaryLines } from './engine/reporters.js';
export { terminalReporter } from './engine/terminal-reporter.js';
export { buildPlan } from './playbooks/index.js';
