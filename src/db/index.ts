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
export { taskInstanceStore, type TaskInstanceStore } from './task-store/store.js';
export type { ClaimTryInfo, XComWrite } from './task-store/try-transactions.js';
export type { TaskInstanceKeyLike } from './task-store/ti-queries.js';
export type {
  ActiveCount,
  QueueBatchOptions,
  QueueCandidate,
  QueueChooser,
} from './task-store/queue-batch.js';
