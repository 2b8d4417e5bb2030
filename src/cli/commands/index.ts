import type { RegisterCommand } from '../command-kit.js';
import { registerConfig } from './config.js';
import { registerDb } from './db.js';
import { registerUsers } from './users.js';
import { registerVariables } from './variables.js';
import { registerConnections } from './connections.js';
import { registerPools } from './pools.js';
import { registerDags } from './dags.js';
import { registerTasks } from './tasks.js';
import { registerDagProcessor } from './dag-processor.js';
import { registerWebserver } from './webserver.js';
import { registerScheduler } from './scheduler.js';

/** Every command group, in the order `updraft --help` lists them. */
export const commandModules: RegisterCommand[] = [
  registerDb,
  registerConfig,
  registerUsers,
  registerVariables,
  registerConnections,
  registerPools,
  registerDags,
  registerTasks,
  registerDagProcessor,
  registerWebserver,
  registerScheduler,
];
