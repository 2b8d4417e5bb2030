import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openMetadataDb,
  taskInstanceStore,
  type ClaimTryInfo,
  type MetadataDb,
} from '../../../src/db/index.js';
import { BATCH_VARIANTS } from '../../support/databases.js';
import {
  createExecEnv,
  DAG_ID,
  seedDagRun,
  seedTaskInstance,
  tiRow,
  type ExecEnv,
} from '../../support/exec-env.js';

/**
 * The start of a try (job row, guarded claim, rendered fields, XCom reset) as one transaction,
 * and on MySQL with statement batches as one request: the same outcome either way, all or nothing.
 */

describe.each(BATCH_VARIANTS)(
  'claiming a try on $dialect (statement batches: $batches)',
  ({ dialect, batches }) => {
    let e: ExecEnv;
    let store: MetadataDb;
    let runs = 0;

    beforeAll(async () => {
      e = await createExecEnv(dialect);
      store = await openMetadataDb(e.ctx.config.values.database.sql_alchemy_conn, {
        baseDir: e.home,
        // One connection: the test can tell whether a failed claim left it inside a transaction.
        poolSize: 1,
      });
      expect(store.batches !== null).toBe(dialect === 'mysql');
    });
    /** The pool the claim ran on (the batch pool has one connection too). */
    const claimPool = () => (batches ? store.batches! : store.kysely);
    /** The store's claim, with or without MySQL's statement batches. */
    const claimTry: ReturnType<typeof taskInstanceStore>['claimTry'] = (key, claimInfo) =>
      taskInstanceStore(batches ? store : { ...store, batches: null }).claimTry(key, claimInfo);
    afterAll(async () => {
      await store?.close();
      await e?.cleanup();
    });

    const info = (rendered: Record<string, unknown> | null = { bashCommand: 'echo hi' }): ClaimTryInfo => ({
      dagId: DAG_ID,
      hostname: 'claim-host',
      unixname: 'claimer',
      pid: 4242,
      executorClass: 'LocalExecutor',
      startDate: Date.now(),
      renderedFields: rendered,
    });

    const newTry = async (taskId: string) => {
      const runId = `claim_${++runs}`;
      await seedDagRun(e.db, runId, null, Date.UTC(2024, 1, 1) + runs * 86_400_000);
      const key = await seedTaskInstance(e.db, runId, taskId, { tryNumber: 2 });
      // The last try's XCom, which the new try must not see.
      await e.db.kysely
        .insertInto('xcom')
        .values({
          dag_id: DAG_ID,
          run_id: runId,
          task_id: taskId,
          map_index: -1,
          key: 'return_value',
          value: JSON.stringify('from try 1'),
          timestamp: Date.now(),
        })
        .execute();
      return key;
    };

    const jobCount = async () =>
      Number(
        (
          await e.db.kysely
            .selectFrom('job')
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const xcomCount = async (runId: string) =>
      (await e.db.kysely.selectFrom('xcom').select('key').where('run_id', '=', runId).execute()).length;

    it('claims a queued try once: the job row, the running TI with that job and the rendered fields, no old XComs', async () => {
      const key = await newTry('echo_ok');
      const jobsBefore = await jobCount();
      const jobId = await claimTry(key, info());
      expect(jobId).toEqual(expect.any(Number));
      const ti = await tiRow(e.db, key.runId, 'echo_ok');
      expect(ti).toMatchObject({ state: 'running', job_id: jobId, hostname: 'claim-host', pid: 4242 });
      expect(JSON.parse(ti.rendered_fields ?? 'null')).toEqual({ bashCommand: 'echo hi' });
      const job = await e.db.kysely
        .selectFrom('job')
        .selectAll()
        .where('id', '=', jobId!)
        .executeTakeFirstOrThrow();
      expect(job).toMatchObject({ state: 'running', job_type: 'LocalTaskJob', dag_id: DAG_ID, pid: 4242 });
      expect(await xcomCount(key.runId)).toBe(0);
      expect(await jobCount()).toBe(jobsBefore + 1);

      // Claimed already: a second runner gets nothing and writes nothing.
      expect(await claimTry(key, info({ bashCommand: 'other' }))).toBeNull();
      expect(await jobCount()).toBe(jobsBefore + 1);
      expect((await tiRow(e.db, key.runId, 'echo_ok')).job_id).toBe(jobId);
    });

    it('does not claim a try that is not queued, and leaves its XComs and the job table alone', async () => {
      const key = await newTry('quick');
      await e.db.kysely
        .updateTable('task_instance')
        .set({ state: 'success' })
        .where('run_id', '=', key.runId)
        .execute();
      const jobsBefore = await jobCount();
      expect(await claimTry(key, info(null))).toBeNull();
      expect(await jobCount()).toBe(jobsBefore);
      expect(await xcomCount(key.runId)).toBe(1);
      expect((await tiRow(e.db, key.runId, 'quick')).state).toBe('success');
    });

    it('a claim that fails part-way writes nothing, and leaves the connection outside any transaction', async () => {
      const key = await newTry('echo_ok');
      const jobsBefore = await jobCount();
      // The XCom reset comes after the job row and the claim: make it fail.
      await sql`alter table xcom rename to xcom_away`.execute(e.db.kysely);
      try {
        await expect(claimTry(key, info())).rejects.toThrow(/xcom/i);
      } finally {
        await sql`alter table xcom_away rename to xcom`.execute(e.db.kysely);
      }
      expect(await jobCount()).toBe(jobsBefore);
      expect((await tiRow(e.db, key.runId, 'echo_ok')).state).toBe('queued');
      expect(await xcomCount(key.runId)).toBe(1);

      // The connection was not left inside the failed transaction: a plain write is committed.
      await claimPool()
        .updateTable('task_instance')
        .set({ priority_weight: 77 })
        .where('run_id', '=', key.runId)
        .execute();
      expect((await tiRow(e.db, key.runId, 'echo_ok')).priority_weight).toBe(77);
      for (let i = 0; i < 6; i++) {
        const next = await newTry('echo_ok');
        const jobId = await claimTry(next, info());
        expect(jobId).toEqual(expect.any(Number));
        expect((await tiRow(e.db, next.runId, 'echo_ok')).job_id).toBe(jobId);
      }
      expect(await jobCount()).toBe(jobsBefore + 6);
    });
  },
);
