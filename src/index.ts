/**
 * The public entry point of the `updraft` package: what DAG files and embedding programs import.
 * Internals (db, scheduler, web) are not exported from here.
 */
export {
  UpdraftError,
  ConfigError,
  ValidationError,
  NotFoundError,
  ConflictError,
  DagImportError,
} from './errors.js';
export * from './dag/index.js';
export * from './providers/amazon/index.js';
