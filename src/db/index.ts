export { openMetadataDb, type MetadataDb, type Capabilities } from './open.js';
export { parseConnectionUrl, redactUrl, type DialectName, type ConnectionTarget } from './connection-url.js';
export {
  migrateToLatest,
  migrationStatus,
  dropAll,
  assertMigrated,
  type MigrationStatus,
} from './migrate.js';
export type * from './tables.js';
export { isUniqueViolation } from './unique-violation.js';
