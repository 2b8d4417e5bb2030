import { CompiledQuery, sql, type Kysely } from 'kysely';
import type { MetadataDb } from '../open.js';
import type { Database, TaskInstanceState, TaskInstanceUpdate } from '../tables.js';
import { onBatchConnection, sendStatementBatch } from '../statement-batch.js';
import { retryTransient, transactionWithRetry } from '../transient-errors.js';
import { createTaskJob, endTaskJob, insertTaskJobStatement, type JobIdentity } from './job-queries.js';
import { queryTemplate, templatesByShape } from '../query-template.js';
import {
  claimTaskInstance,
  claimTaskInstanceStatement,
  finishTaskInstance,
  updatedColumns,
  type ClaimInfo,
  type TaskInstanceKeyLike,
} from './ti-queries.js';
import { clearXComs, clearXComsQuery, insertXCom, replaceXCom, XCOM_OWNER_VALUES } from './xcom-store.js';

/**
 * The two writes of a try, each one transaction: the start (job row, guarded claim, rendered
 * fields, XCom reset) and the end (XComs, guarded final state, job row closed). A try used to
 * cost six separate commits; on SQLite every commit takes the one write lock that the scheduler
 * and every other runner wait for, and on MySQL/PostgreSQL each is a log flush.
 */

/** Thrown inside a transaction to roll it back when a guard did not match. */
class GuardMissed extends Error {}

export interface ClaimTryInfo extends Omit<JobIdentity, 'runId' | 'taskId' | 'mapIndex' | 'tryNumber'> {
  startDate: number;
  renderedFields: Record<string, unknown> | null;
}

/** The job row's identity: the runner's, and the try it claims. */
function jobIdentity(key: TaskInstanceKeyLike, info: ClaimTryInfo): JobIdentity {
  const { runId, taskId, mapIndex, tryNumber } = key;
  return { ...info, runId, taskId, mapIndex, tryNumber };
}

/** What the claim writes on the TI, but for the job id. */
function claimFields(info: ClaimTryInfo): Omit<ClaimInfo, 'jobId'> {
  return {
    hostname: info.hostname,
    unixname: info.unixname,
    pid: info.pid,
    startDate: info.startDate,
    ...(info.renderedFields ? { renderedFields: info.renderedFields } : {}),
  };
}

/** Start the try: the new job's id, or null (nothing written) when the TI is not ours to run. */
export async function claimTry(
  store: MetadataDb,
  key: TaskInstanceKeyLike,
  info: ClaimTryInfo,
): Promise<number | null> {
  const db = store.kysely;
  // MetadataDb.batches (MySQL): the claim goes as one request.
  if (store.batches) return claimTryInOneBatch(db, store.batches, key, info);
  try {
    return await transactionWithRetry(db, async (trx) => {
      const jobId = await createTaskJob(trx, jobIdentity(key, info), info.startDate, store.dialect);
      const claimed = await claimTaskInstance(trx, key, { ...claimFields(info), jobId });
      if (!claimed) throw new GuardMissed();
      // A new try starts without the XComs of the last one (Airflow clears them too).
      await clearXComs(trx, key);
      return jobId;
    });
  } catch (error) {
    if (error instanceof GuardMissed) return null;
    throw error;
  }
}

const dropUnclaimedJob = queryTemplate([], (db) =>
  db
    .deleteFrom('job')
    .where('id', '=', sql<number>`last_insert_id()`)
    .where(sql<boolean>`@updraft_claimed = 0`),
);
const clearXComsIfClaimed = queryTemplate(XCOM_OWNER_VALUES, (db, owner) =>
  clearXComsQuery(db, owner).where(sql<boolean>`@updraft_claimed = 1`),
);

/**
 * The same start of a try as one request to the server instead of five (begin, job, claim, XCom
 * reset, commit): on MySQL each round trip costs both processes CPU and the runner its latency.
 * The claim's outcome decides, inside the batch, whether the job row stays or the XComs go; the
 * job id and the outcome come back in the OK packets of the insert and of the claim. A lock
 * timeout ends only the statement, not the transaction: onBatchConnection rolls the connection back
 * after any failure, so a retry (or the next user of the connection) starts clean.
 */
async function claimTryInOneBatch(
  db: Kysely<Database>,
  batches: Kysely<Database>,
  key: TaskInstanceKeyLike,
  info: ClaimTryInfo,
): Promise<number | null> {
  const INSERT_JOB = 1;
  const CLAIM = 2;
  const statements = [
    CompiledQuery.raw('start transaction'),
    insertTaskJobStatement(db, jobIdentity(key, info), info.startDate),
    // The connection's last generated id is the job row's from the insert to the end of the batch:
    // nothing in between inserts into a table with an auto-increment key.
    claimTaskInstanceStatement(db, key, claimFields(info), 'last_insert_id'),
    CompiledQuery.raw('set @updraft_claimed = row_count()'),
    dropUnclaimedJob.bind(db, {}),
    clearXComsIfClaimed.bind(db, key),
    CompiledQuery.raw('commit'),
  ];
  // The batch pool has no per-statement retry under it (a retried statement inside a transaction
  // would run outside it): the whole batch is sent again.
  return retryTransient(() =>
    onBatchConnection(batches, async (connection) => {
      const results = await sendStatementBatch(connection, statements);
      const okPacket = (i: number) =>
        results[i] as { insertId?: unknown; affectedRows?: unknown } | undefined;
      const job = Number(okPacket(INSERT_JOB)?.insertId);
      const rows = Number(okPacket(CLAIM)?.affectedRows);
      if (!Number.isInteger(job) || job <= 0 || !Number.isInteger(rows))
        throw new Error('The claim batch did not report the job row or the claim');
      return rows === 1 ? job : null;
    }),
  );
}

export interface XComWrite {
  key: string;
  value: unknown;
  /** The try itself pushed this key while it ran (replace it); otherwise it cannot exist yet. */
  replaces: boolean;
}

/**
 * End the try: XComs, the final state (only if the TI is still running this try) and the job row,
 * all or nothing. False (nothing written) when someone changed the TI while it ran.
 */
export async function finishTry(
  store: MetadataDb,
  key: TaskInstanceKeyLike,
  update: TaskInstanceUpdate & { state: TaskInstanceState },
  options: { jobId: number; xcoms: readonly XComWrite[] },
): Promise<boolean> {
  const db = store.kysely;
  // MySQL updates both rows in one statement (one round trip instead of four); when it matches
  // nothing, the transaction below finds out whether the TI moved on or its job row is missing.
  if (store.dialect === 'mysql' && options.xcoms.length === 0) {
    if (await finishTryInOneStatement(db, key, update, options.jobId)) return true;
  }
  try {
    return await transactionWithRetry(db, async (trx) => {
      for (const x of options.xcoms) await (x.replaces ? replaceXCom : insertXCom)(trx, key, x.key, x.value);
      if (!(await finishTaskInstance(trx, key, update))) throw new GuardMissed();
      await endTaskJob(trx, options.jobId, update.state === 'failed' ? 'failed' : 'success');
      return true;
    });
  } catch (error) {
    if (error instanceof GuardMissed) return false;
    throw error;
  }
}

/**
 * MySQL's multi-table UPDATE: the final state (guarded on `running` and the try) and the job's
 * end, atomically, as one statement. True when it matched.
 */
async function finishTryInOneStatement(
  db: Kysely<Database>,
  key: TaskInstanceKeyLike,
  update: TaskInstanceUpdate & { state: TaskInstanceState },
  jobId: number,
): Promise<boolean> {
  const now = Date.now();
  const result = await db.executeQuery(
    finishInOneStatementTemplate(updatedColumns(update)).bind(db, {
      ...key,
      ...update,
      updated_at: now,
      jobId,
      jobState: update.state === 'failed' ? 'failed' : 'success',
      now,
    }),
  );
  return Number(result.numAffectedRows ?? 0) > 0;
}

/** One template per set of TI columns the update sets. */
const finishInOneStatementTemplate = templatesByShape(
  (columns: readonly string[]) => columns.join(','),
  (columns) => {
    const tiColumns = [...columns, 'updated_at'];
    return queryTemplate(
      [...tiColumns, 'dagId', 'runId', 'taskId', 'mapIndex', 'tryNumber', 'jobId', 'jobState', 'now'],
      (db, v) => sql`update task_instance ti join job j on j.id = ${v.jobId}
    set ${sql.join(tiColumns.map((column) => sql`${sql.ref(`ti.${column}`)} = ${v[column]}`))},
      j.state = ${v.jobState}, j.end_date = ${v.now}, j.latest_heartbeat = ${v.now}
    where ti.dag_id = ${v.dagId} and ti.run_id = ${v.runId} and ti.task_id = ${v.taskId}
      and ti.map_index = ${v.mapIndex} and ti.try_number = ${v.tryNumber} and ti.state = 'running'`,
    );
  },
);
