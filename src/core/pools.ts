/** The pool every task uses unless it names another; it always exists and cannot be deleted. */
export const DEFAULT_POOL = 'default_pool';
/** default_pool's size when the database has no row for it (the size the first migration gives it). */
export const DEFAULT_POOL_SLOTS = 128;
