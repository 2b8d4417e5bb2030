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
import { registerProvision } from './provision.js';
import { registerAwsStack } from './aws-stack.js';
import { registerHealth } from './health.js';
import { registerRepair } from './repair.js';

/** Every command group (one module or folder each, named after it), in the order `updraft --help` lists them. */
export const commandModules: RegisterCommand[] = [
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
  registerProvision,
  registerAwsStack,
  registerHealth,
  registerRepair,
];
