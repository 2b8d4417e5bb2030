import { getDagRow } from './load-dag.js';
import type { OpsContext } from './types.js';

/** `dags pause` / `dags unpause`: a paused DAG gets no scheduled runs; running ones continue. */
export async function setDagPaused(ctx: OpsContext, dagId: string, paused: boolean): Promise<void> {
  const { kysely } = await ctx.db();
  await getDagRow(kysely, dagId);
  await kysely
    .updateTable('dag')
    .set({ is_paused: paused ? 1 : 0 })
    .where('dag_id', '=', dagId)
    .execute();
}
