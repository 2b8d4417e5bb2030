import type { RegisterCommand } from '../command-kit.js';
import { registerConfig } from './config.js';
import { registerDb } from './db.js';
import { registerUsers } from './users.js';
import { registerVariables } from './variables.js';
import { registerConnections } from './connections.js';
import { registerPools } from './pools.js';
import { registerRotateFernetKey } from './rotate-fernet-key.js';
import { registerDags } from './dags/index.js';
import { registerTasks } from './tasks/index.js';
import { registerDagProcessor } from './dag-processor.js';
import { registerWebserver } from './webserver.js';
import { registerScheduler } from './scheduler.js';
import { registerTaskReports } from './tasks/reports.js';
import { registerJobs } from './jobs.js';
import { registerStandalone } from './standalone.js';
import { registerCelery } from './celery.js';

/**
 * The orchestrator's command groups (one module or folder each, named after it), in the order
 * `updraft --help` lists them; the provisioning toolkit's follow (toolkit.ts). main() loads this
 * module only for a command of its own.
 */
export const orchestratorCommands: RegisterCommand[] = [
  registerDb,
  registerConfig,
  registerUsers,
  registerVariables,
  registerConnections,
  registerPools,
  registerRotateFernetKey,
  registerDags,
  registerTasks,
  registerDagProcessor,
  registerWebserver,
  registerScheduler,
  registerTaskReports,
  registerJobs,
  registerStandalone,
  registerCelery,
];
