import { CompiledQuery, type Kysely } from 'kysely';
import type { Database } from './tables.js';

/**
 * Send Kysely-built statements as one request on a MetadataDb.batches connection (MySQL with
 * multipleStatements) and return one result per statement: the rows of a SELECT, the OK packet
 * of anything else. The parameters are bound by the driver as for any single query.
 */
export async function sendStatementBatch(
  connection: Kysely<Database>,
  statements: readonly CompiledQuery[],
): Promise<unknown[]> {
  const batch = CompiledQuery.raw(
    statements.map((s) => s.sql).join(';\n'),
    statements.flatMap((s) => [...s.parameters]),
  );
  const { rows } = await connection.executeQuery<unknown>(batch);
  // The driver gives a lone statement's result as is, and several as a list of results.
  return statements.length === 1 ? [rows] : rows;
}

/**
 * Run `work` on one connection of the batch pool; if it throws, roll back whatever transaction a
 * batch left open before the connection goes back to the pool.
 */
export function onBatchConnection<T>(
  batches: Kysely<Database>,
  work: (connection: Kysely<Database>) => Promise<T>,
): Promise<T> {
  return batches.connection().execute(async (connection) => {
    try {
      return await work(connection);
    } catch (error) {
      await connection.executeQuery(CompiledQuery.raw('rollback')).catch(() => undefined);
      throw error;
    }
  });
}
