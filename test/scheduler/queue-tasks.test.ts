import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { taskInstanceStore, type MetadataDb } from '../../src/db/index.js';
import type { Executor, TaskWorkItem } from '../../src/executors/executor.js';
import { silentLogger } from '../../src/log.js';
import type { DagCache } from '../../src/scheduler/dag-cache.js';
import { queueScheduledTasks } from '../../src/scheduler/queue-tasks.js';
import { seedTaskInstance } from '../support/exec-env.js';
import { BATCH_VARIANTS, openTestDb, type OpenTestDb } from '../support/databases.js';

/** An executor that only records what it is given, with a fixed number of free slots. */
function recordingExecutor(openSlots: number): Executor & { items: TaskWorkItem[] } {
  const items: TaskWorkItem[] = [];
  return {
    name: 'RecordingExecutor',
    items,
    get openSlots() {
      return openSlots - items.length;
    },
    start: async () => undefined,
    queue: async (item) => {
      items.push(item);
    },
    drainEvents: () => [],
    waitForEvent: async () => false,
    terminate: async () => undefined,
    stop: async () => undefined,
  };
}

/** Only maxActiveTasks and fileloc are read from the DAG while queueing. */
function dagsWithMaxActive(maxActive: Record<string, number>): DagCache {
  return {
    get: async (dagId: string) => ({
      dag: { dagId, maxActiveTasks: maxActive[dagId] ?? 16, fileloc: `/dags/${dagId}.ts`, tasks: [] },
      graph: { byId: new Map() },
      hash: 'h',
    }),
  } as unknown as DagCache;
}

/** A TI the scheduler has marked ready (try_number 0: the first queueing makes it try 1). */
const scheduledTi = (db: MetadataDb, dagId: string, taskId: string, priority: number, at: number) =>
  seedTaskInstance(db, 'r1', taskId, {
    dagId,
    state: 'scheduled',
    tryNumber: 0,
    maxTries: 2,
    priorityWeight: priority,
    operator: 'BashOperator',
    updatedAt: at,
  });

/** On MySQL the pick also goes as two statement batches (MetadataDb.batches): same outcome. */

describe.each(BATCH_VARIANTS)(
  'queueing scheduled tasks on $dialect (statement batches: $batches)',
  ({ dialect, batches }) => {
    let t: OpenTestDb;
    beforeAll(async () => {
      t = await openTestDb(dialect);
      // 40 high-priority tasks of a DAG that may run one at a time, then one task of another DAG.
      for (let i = 0; i < 40; i++) await scheduledTi(t.db, 'narrow', `n${String(i).padStart(2, '0')}`, 10, i);
      await scheduledTi(t.db, 'other', 'o1', 1, 100);
    });
    afterAll(async () => {
      await t?.cleanup();
    });

    it('looks past candidates held back by maxActiveTasks, and hands the try with max_tries and operator', async () => {
      const executor = recordingExecutor(4);
      const queued = await queueScheduledTasks(
        taskInstanceStore(batches ? t.db : { ...t.db, batches: null }),
        executor,
        dagsWithMaxActive({ narrow: 1 }),
        {
          now: 1_000,
          jobId: null,
          skipLocked: t.db.capabilities.skipLocked,
          log: silentLogger,
        },
      );
      expect(queued).toBe(2);
      expect(executor.items.map((i) => `${i.key.dagId}.${i.key.taskId}`)).toEqual(['narrow.n00', 'other.o1']);
      expect(executor.items[0]).toMatchObject({
        key: { tryNumber: 1 },
        fileloc: '/dags/narrow.ts',
        queuedTi: { maxTries: 2, operator: 'BashOperator' },
      });
      const states = await t.db.kysely
        .selectFrom('task_instance')
        .select(['task_id', 'state', 'try_number'])
        .where('state', '=', 'queued')
        .orderBy('task_id')
        .execute();
      expect(states).toEqual([
        { task_id: 'n00', state: 'queued', try_number: 1 },
        { task_id: 'o1', state: 'queued', try_number: 1 },
      ]);
    });

    it('commits what it queued and holds no lock afterwards; with nothing to queue it changes nothing', async () => {
      const pick = (executor: Executor) =>
        queueScheduledTasks(
          taskInstanceStore(batches ? t.db : { ...t.db, batches: null }),
          executor,
          dagsWithMaxActive({ narrow: 2 }),
          {
            now: 2_000,
            jobId: null,
            skipLocked: t.db.capabilities.skipLocked,
            log: silentLogger,
          },
        );
      // narrow has one running slot left (n00 is queued): n01 goes, the rest wait.
      expect(await pick(recordingExecutor(4))).toBe(1);
      // Another connection can change the queued row at once: the pick's transaction is over.
      await t.db.kysely.connection().execute(async (c) => {
        if (dialect === 'mysql') await sql`set session innodb_lock_wait_timeout = 2`.execute(c);
        if (dialect === 'postgres') await sql`set lock_timeout = 2000`.execute(c);
        await c
          .updateTable('task_instance')
          .set({ priority_weight: 11 })
          .where('task_id', '=', 'n01')
          .where('state', '=', 'queued')
          .execute();
      });
      // maxActiveTasks is reached: nothing is queued and nothing changes.
      const before = await t.db.kysely
        .selectFrom('task_instance')
        .select(['task_id', 'state'])
        .orderBy('task_id')
        .execute();
      expect(await pick(recordingExecutor(4))).toBe(0);
      expect(
        await t.db.kysely
          .selectFrom('task_instance')
          .select(['task_id', 'state'])
          .orderBy('task_id')
          .execute(),
      ).toEqual(before);
    });
  },
);
