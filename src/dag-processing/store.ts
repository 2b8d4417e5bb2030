import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/tables.js';
import type { SerializedDag } from '../dag/serialized.js';
import { describeSchedule, scheduleText } from '../dag/schedule.js';
import type { ParseResponse } from './parse-worker.js';
import { encodeDependencies } from './source-hash.js';

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * The hash of a serialized DAG, independent of key order and of fileloc (moving a file does not
 * count as a change of the DAG's structure).
 */
export function dagHash(dag: SerializedDag): string {
  return sha256(stableJson(dag));
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export interface StoreOptions {
  now: number;
  pausedAtCreation: boolean;
}

export interface StoreOutcome {
  dagIds: string[];
  importError: boolean;
  /** The error recorded for the file, if any. */
  error: string | null;
  /** The file had no error before, or a different one (worth a warning). */
  errorIsNew: boolean;
  deactivated: string[];
  serializedWrites: number;
}

type Db = Kysely<Database> | Transaction<Database>;

/** Record one parsed file: its DAGs (or its import error), its source, and DAGs it no longer defines. */
export async function storeParseResult(
  db: Kysely<Database>,
  res: ParseResponse,
  o: StoreOptions,
): Promise<StoreOutcome> {
  return db.transaction().execute(async (tx) => {
    const outcome: StoreOutcome = {
      dagIds: [],
      importError: false,
      error: null,
      errorIsNew: false,
      deactivated: [],
      serializedWrites: 0,
    };
    let error = res.error;
    const dags = error ? [] : res.dags;
    // The same dag_id in another live file is an error of this file (Airflow: "DAG id already defined").
    if (!error) {
      for (const d of dags) {
        const other = await tx
          .selectFrom('dag')
          .select(['fileloc', 'is_active'])
          .where('dag_id', '=', d.dagId)
          .executeTakeFirst();
        if (other && other.fileloc !== res.file && other.is_active === 1 && existsSync(other.fileloc)) {
          error = `AirflowDagDuplicatedIdException: Ignoring DAG ${d.dagId} from ${res.file} - also found in ${other.fileloc}`;
          break;
        }
      }
    }
    const previousError = await tx
      .selectFrom('import_error')
      .select('stacktrace')
      .where('filename', '=', res.file)
      .executeTakeFirst();
    await tx.deleteFrom('import_error').where('filename', '=', res.file).execute();
    if (res.sourceHash)
      await upsertCode(tx, res.file, res.source, res.sourceHash, encodeDependencies(res.dependencies), o.now);

    if (error) {
      outcome.importError = true;
      outcome.error = error;
      outcome.errorIsNew = previousError?.stacktrace !== error;
      await tx
        .insertInto('import_error')
        .values({ timestamp: o.now, filename: res.file, stacktrace: error })
        .execute();
      // The file's DAGs keep their last good version, flagged.
      await tx
        .updateTable('dag')
        .set({ has_import_errors: 1, last_parsed_time: o.now })
        .where('fileloc', '=', res.file)
        .execute();
      return outcome;
    }

    for (const d of dags) {
      outcome.dagIds.push(d.dagId);
      if (await upsertDag(tx, d, res.file, o)) outcome.serializedWrites++;
    }
    // DAGs this file used to define but no longer does.
    const previous = await tx
      .selectFrom('dag')
      .select('dag_id')
      .where('fileloc', '=', res.file)
      .where('is_active', '=', 1)
      .execute();
    const gone = previous.map((r) => r.dag_id).filter((id) => !outcome.dagIds.includes(id));
    if (gone.length > 0) {
      await deactivate(tx, gone);
      outcome.deactivated = gone;
    }
    return outcome;
  });
}

async function upsertCode(
  tx: Db,
  fileloc: string,
  source: string,
  hash: string,
  dependencies: string | null,
  now: number,
): Promise<void> {
  const existing = await tx
    .selectFrom('dag_code')
    .select(['source_hash', 'dependencies'])
    .where('fileloc', '=', fileloc)
    .executeTakeFirst();
  if (!existing) {
    await tx
      .insertInto('dag_code')
      .values({ fileloc, source_code: source, source_hash: hash, dependencies, last_updated: now })
      .execute();
  } else if (existing.source_hash !== hash || existing.dependencies !== dependencies) {
    await tx
      .updateTable('dag_code')
      .set({ source_code: source, source_hash: hash, dependencies, last_updated: now })
      .where('fileloc', '=', fileloc)
      .execute();
  }
}

/** Returns true when serialized_dag was written (the DAG's hash changed or it is new). */
async function upsertDag(tx: Db, d: SerializedDag, fileloc: string, o: StoreOptions): Promise<boolean> {
  const fields = {
    fileloc,
    owners: d.owner,
    description: d.description,
    is_active: 1,
    has_import_errors: 0,
    schedule_interval: scheduleText(d.schedule),
    timetable_description: describeSchedule(d.schedule),
    max_active_runs: d.maxActiveRuns,
    max_active_tasks: d.maxActiveTasks,
    last_parsed_time: o.now,
  };
  const existing = await tx
    .selectFrom('dag')
    .select('dag_id')
    .where('dag_id', '=', d.dagId)
    .executeTakeFirst();
  if (existing) {
    await tx.updateTable('dag').set(fields).where('dag_id', '=', d.dagId).execute();
  } else {
    const paused = d.isPausedUponCreation ?? o.pausedAtCreation;
    await tx
      .insertInto('dag')
      .values({ dag_id: d.dagId, ...fields, is_paused: paused ? 1 : 0 })
      .execute();
  }

  const tags = [...new Set(d.tags)].sort();
  const oldTags = (await tx.selectFrom('dag_tag').select('name').where('dag_id', '=', d.dagId).execute())
    .map((r) => r.name)
    .sort();
  if (tags.join('\n') !== oldTags.join('\n')) {
    await tx.deleteFrom('dag_tag').where('dag_id', '=', d.dagId).execute();
    if (tags.length > 0)
      await tx
        .insertInto('dag_tag')
        .values(tags.map((name) => ({ dag_id: d.dagId, name })))
        .execute();
  }

  const hash = dagHash({ ...d, fileloc: '' });
  const stored = await tx
    .selectFrom('serialized_dag')
    .select(['dag_hash', 'fileloc'])
    .where('dag_id', '=', d.dagId)
    .executeTakeFirst();
  if (stored && stored.dag_hash === hash && stored.fileloc === fileloc) return false;
  const row = { fileloc, data: JSON.stringify(d), dag_hash: hash, last_updated: o.now };
  if (stored) await tx.updateTable('serialized_dag').set(row).where('dag_id', '=', d.dagId).execute();
  else
    await tx
      .insertInto('serialized_dag')
      .values({ dag_id: d.dagId, ...row })
      .execute();
  return true;
}

/** Mark DAGs inactive and drop their serialized form (their runs and history stay). */
export async function deactivate(db: Db, dagIds: string[]): Promise<void> {
  if (dagIds.length === 0) return;
  await db.updateTable('dag').set({ is_active: 0 }).where('dag_id', 'in', dagIds).execute();
  await db.deleteFrom('serialized_dag').where('dag_id', 'in', dagIds).execute();
}

/** Forget files that no longer exist (or are no longer discovered): deactivate their DAGs, drop code and errors. */
export async function removeMissingFiles(
  db: Kysely<Database>,
  present: Set<string>,
): Promise<{ files: string[]; dags: string[] }> {
  const known = new Set<string>();
  for (const r of await db.selectFrom('dag').select('fileloc').where('is_active', '=', 1).execute())
    known.add(r.fileloc);
  for (const r of await db.selectFrom('dag_code').select('fileloc').execute()) known.add(r.fileloc);
  for (const r of await db.selectFrom('import_error').select('filename').execute()) known.add(r.filename);
  const missing = [...known].filter((f) => !present.has(f));
  const dags: string[] = [];
  for (const file of missing) {
    await db.transaction().execute(async (tx) => {
      const ids = (
        await tx
          .selectFrom('dag')
          .select('dag_id')
          .where('fileloc', '=', file)
          .where('is_active', '=', 1)
          .execute()
      ).map((r) => r.dag_id);
      await deactivate(tx, ids);
      dags.push(...ids);
      await tx.deleteFrom('dag_code').where('fileloc', '=', file).execute();
      await tx.deleteFrom('import_error').where('filename', '=', file).execute();
    });
  }
  return { files: missing, dags };
}
