/**
 * The names of the migrations this build knows, oldest first, and the table that records the
 * applied ones. Apart from migrate.ts (which checks at load that its migrations are exactly these),
 * so that the provisioning toolkit's health check can compare a node's schema without loading the
 * database layer.
 */
export const MIGRATION_NAMES: readonly string[] = [
  '0001_initial',
  '0002_ti_queue_order_index',
  '0003_dag_code_dependencies',
  '0004_callback_request',
  '0005_ti_active_count_index',
  '0006_sign_in_limits_and_sessions',
  '0007_job_try_key',
];
export const MIGRATION_TABLE = 'updraft_migration';
