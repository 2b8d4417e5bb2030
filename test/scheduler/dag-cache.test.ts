import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSerializedDag } from '../../src/dag-runs/load-dag.js';
import { DagCache } from '../../src/scheduler/dag-cache.js';
import { openTestDb, TEST_DIALECTS, type OpenTestDb } from '../support/databases.js';

/** A minimal stored DAG; its hash, as in the processor, does not depend on the file. */
const row = (fileloc: string) => ({
  dag_id: 'moved',
  fileloc,
  data: JSON.stringify({ dagId: 'moved', fileloc, tasks: [], maxActiveTasks: 16 }),
  dag_hash: 'same-structure',
  last_updated: Date.now(),
});

describe.each(TEST_DIALECTS)('cached serialized DAGs on %s', (dialect) => {
  let t: OpenTestDb;
  beforeAll(async () => {
    t = await openTestDb(dialect);
    await t.db.kysely.insertInto('serialized_dag').values(row('/dags/old_place.ts')).execute();
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('a DAG moved to another file (same structure, same hash) is run from its new file', async () => {
    const cache = new DagCache(t.db.kysely, 0);
    expect((await cache.get('moved'))?.dag.fileloc).toBe('/dags/old_place.ts');
    expect((await findSerializedDag(t.db.kysely, 'moved'))?.fileloc).toBe('/dags/old_place.ts');
    await t.db.kysely
      .updateTable('serialized_dag')
      .set(row('/dags/new_place.ts'))
      .where('dag_id', '=', 'moved')
      .execute();
    expect((await cache.get('moved'))?.dag.fileloc).toBe('/dags/new_place.ts');
    expect((await findSerializedDag(t.db.kysely, 'moved'))?.fileloc).toBe('/dags/new_place.ts');
  });
});
