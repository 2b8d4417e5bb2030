/**
 * Whether a driver error is a unique-constraint violation, on any of the three adapters. Services
 * check for duplicates first (for a clear message) and use this for the race where another process
 * inserted the same key between the check and the insert.
 */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: unknown; errno?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  return (
    e.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    e.code === 'ER_DUP_ENTRY' ||
    e.errno === 1062 ||
    e.code === '23505'
  );
}
