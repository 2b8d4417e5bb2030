import type { Kysely } from 'kysely';
import type { Database } from '../tables.js';
import type { XComBackend, XComPullQuery } from '../../dag/execution.js';
import { transactionWithRetry } from '../transient-errors.js';
import { queryTemplate } from '../query-template.js';
import { RETURN_VALUE_KEY } from '../../core/xcom-keys.js';

/**
 * XCom over the metadata DB. One row per (dag, run, task, map index, key); a push replaces the
 * previous value (delete + insert, which works the same on all three dialects).
 * Values are JSON text; `undefined` is not JSON, so pushing it stores null.
 */

export interface XComOwner {
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
}

export async function writeXCom(
  db: Kysely<Database>,
  owner: XComOwner,
  key: string,
  value: unknown,
): Promise<void> {
  await transactionWithRetry(db, (trx) => replaceXCom(trx, owner, key, value));
}

/** writeXCom's two statements, for a caller that already holds a transaction. */
export async function replaceXCom(
  trx: Kysely<Database>,
  owner: XComOwner,
  key: string,
  value: unknown,
): Promise<void> {
  await clearXComs(trx, owner, key);
  await insertXCom(trx, owner, key, value);
}

/** Add an XCom known not to exist yet (a try's XComs are cleared when it starts). */
export async function insertXCom(
  db: Kysely<Database>,
  owner: XComOwner,
  key: string,
  value: unknown,
): Promise<void> {
  await db
    .insertInto('xcom')
    .values({
      dag_id: owner.dagId,
      run_id: owner.runId,
      task_id: owner.taskId,
      map_index: owner.mapIndex,
      key,
      value: JSON.stringify(value === undefined ? null : value),
      timestamp: Date.now(),
    })
    .execute();
}

/** Delete the TI's XComs: all of them, or the one with `key`. */
export async function clearXComs(db: Kysely<Database>, owner: XComOwner, key?: string): Promise<void> {
  if (key === undefined) {
    await db.executeQuery(clearAllXComs.bind(db, owner));
    return;
  }
  await clearXComsQuery(db, owner).where('key', '=', key).execute();
}

/** The DELETE of every XCom of one task instance. */
export function clearXComsQuery(db: Kysely<Database>, owner: XComOwner) {
  return db
    .deleteFrom('xcom')
    .where('dag_id', '=', owner.dagId)
    .where('run_id', '=', owner.runId)
    .where('task_id', '=', owner.taskId)
    .where('map_index', '=', owner.mapIndex);
}

export const XCOM_OWNER_VALUES = ['dagId', 'runId', 'taskId', 'mapIndex'] as const;
const clearAllXComs = queryTemplate(XCOM_OWNER_VALUES, clearXComsQuery);

/**
 * Airflow's xcom_pull: one task id → its value; a list → a list in that order. A mapped upstream
 * (rows with map_index >= 0) gives the list of its instances' values ordered by map index, unless
 * `mapIndexes` names one.
 */
export async function pullXCom(
  db: Kysely<Database>,
  self: XComOwner,
  query: XComPullQuery,
): Promise<unknown> {
  const key = query.key ?? RETURN_VALUE_KEY;
  const dagId = query.dagId ?? self.dagId;
  const runId = query.runId ?? self.runId;
  const single = typeof query.taskIds === 'string' || query.taskIds === undefined;
  const taskIds = query.taskIds === undefined ? [self.taskId] : [query.taskIds].flat();
  if (taskIds.length === 0) return [];
  let q = db
    .selectFrom('xcom')
    .select(['task_id', 'map_index', 'value'])
    .where('dag_id', '=', dagId)
    .where('run_id', '=', runId)
    .where('key', '=', key)
    .where('task_id', 'in', taskIds);
  const indexes = query.mapIndexes === undefined ? undefined : [query.mapIndexes].flat();
  if (indexes !== undefined) q = q.where('map_index', 'in', indexes.length > 0 ? indexes : [-2]);
  const rows = await q.orderBy('map_index').execute();
  const valueFor = (taskId: string): unknown => {
    const mine = rows.filter((r) => r.task_id === taskId);
    if (mine.length === 0) return undefined;
    const mapped = mine.some((r) => r.map_index >= 0);
    if (mapped && !(typeof query.mapIndexes === 'number'))
      return mine.map((r) => JSON.parse(r.value) as unknown);
    return JSON.parse(mine[0]!.value) as unknown;
  };
  return single ? valueFor(taskIds[0]!) : taskIds.map(valueFor);
}

/** XComBackend for a running task instance; in test mode pushes stay in memory (nothing is recorded). */
export function createXComBackend(
  db: Kysely<Database>,
  self: XComOwner,
  testMode = false,
): XComBackend & { pushed: Map<string, unknown> } {
  const pushed = new Map<string, unknown>();
  return {
    pushed,
    async push(key, value) {
      pushed.set(key, value);
      if (!testMode) await writeXCom(db, self, key, value);
    },
    async pull(query) {
      const own =
        (query.taskIds === undefined || query.taskIds === self.taskId) &&
        (query.dagId ?? self.dagId) === self.dagId &&
        (query.runId ?? self.runId) === self.runId;
      if (testMode && own && pushed.has(query.key ?? RETURN_VALUE_KEY))
        return pushed.get(query.key ?? RETURN_VALUE_KEY);
      return pullXCom(db, self, query);
    },
  };
}
