import type { Kysely } from 'kysely';
import type { SerializedDag } from '../dag/serialized.js';
import type { Database } from '../db/tables.js';
import { buildGraph, type DagGraph } from './evaluate-run.js';

export interface CachedDag {
  dag: SerializedDag;
  graph: DagGraph;
  hash: string;
}

/**
 * Serialized DAGs as the scheduler uses them, parsed and analysed once per version. A lookup costs
 * one small query for the hash (so a re-parsed DAG is seen at once); `peek` costs none.
 */
export class DagCache {
  private readonly entries = new Map<string, CachedDag>();
  private readonly checkedAt = new Map<string, number>();

  constructor(
    private readonly db: Kysely<Database>,
    /** How long a hash check stays valid; the hot path (after every task) then does no query. */
    private readonly recheckMs = 1000,
  ) {}

  async get(dagId: string, now = Date.now()): Promise<CachedDag | undefined> {
    const cached = this.entries.get(dagId);
    if (cached && now - (this.checkedAt.get(dagId) ?? 0) < this.recheckMs) return cached;
    // dag_hash covers the DAG's structure, not its file: a DAG moved to another file keeps its
    // hash, and its tasks must then be run from the new path.
    const head = await this.db
      .selectFrom('serialized_dag')
      .select(['dag_hash', 'fileloc'])
      .where('dag_id', '=', dagId)
      .executeTakeFirst();
    this.checkedAt.set(dagId, now);
    if (!head) {
      this.entries.delete(dagId);
      return undefined;
    }
    if (cached && cached.hash === head.dag_hash && cached.dag.fileloc === head.fileloc) return cached;
    const row = await this.db
      .selectFrom('serialized_dag')
      .select(['data', 'dag_hash'])
      .where('dag_id', '=', dagId)
      .executeTakeFirst();
    if (!row) return undefined;
    const dag = JSON.parse(row.data) as SerializedDag;
    const entry = { dag, graph: buildGraph(dag), hash: row.dag_hash };
    this.entries.set(dagId, entry);
    return entry;
  }
}
