import type { RegisterCommand } from '../command-kit.js';
import { registerConfig } from './config.js';
import { registerDb } from './db.js';

/** Every command group, in the order `updraft --help` lists them. */
export const commandModules: RegisterCommand[] = [registerDb, registerConfig];
