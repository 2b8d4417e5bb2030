import type { RegisterCommand } from '../command-kit.js';
import { registerConfig } from './config.js';
import { registerDb } from './db.js';
import { registerUsers } from './users.js';
import { registerVariables } from './variables.js';
import { registerConnections } from './connections.js';
import { registerPools } from './pools.js';
import { registerRotateFernetKey } from './rotate-fernet-key.js';
import { registerDags } from './dags.js';
import { registerTasks } from './tasks.js';
import { registerTaskRun } from './task-run.js';
import { registerDagProcessor } from './dag-processor.js';
import { registerWebserver } from './webserver.js';
import { registerScheduler } from './scheduler.js';
import { registerDagRuns } from './dag-runs.js';
import { registerTaskInstances } from './task-instances.js';
import { registerJobs } from './jobs.js';
import { registerStandalone } from './standalone.js';
import { registerProvision } from './provision.js';
import { registerHealth } from './health.js';
import { registerRepair } from './repair.js';

/** Every command group, in the order `updraft --help` lists them. */
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
  registerTaskRun,
  registerDagProcessor,
  registerWebserver,
  registerScheduler,
  registerDagRuns,
  registerTaskInstances,
  registerJobs,
  registerStandalone,
  registerProvision,
  registerHealth,
  registerRepair,
];
