import { isAbsolute, join, relative } from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from '../db/tables.js';
import { combineHashes, decodeDependencies, fileHash, knownFileHash } from '../dag-processing/source-hash.js';

/**
 * DAG files on a worker come from its own dags_folder, as in Airflow. The scheduler sends the path
 * it parsed and its own dags_folder; a path below that folder is found at the same place below the
 * worker's. Before a try runs, the worker's copy must hash to what the DAG processor recorded
 * (dag_code.source_hash, covering the local modules it imports): a missing or different file fails
 * the try with a message naming the host and the file, so stale code never runs silently.
 */
export function localFileloc(fileloc: string, schedulerDagsFolder: string, workerDagsFolder: string): string {
  const rel = relative(schedulerDagsFolder, fileloc);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return fileloc;
  return join(workerDagsFolder, rel);
}

export interface DagFileCheckOptions {
  fileloc: string;
  schedulerDagsFolder: string;
  workerDagsFolder: string;
  hostname: string;
}

interface ParsedCode {
  source_hash: string;
  dependencies: string | null;
}

/**
 * The worker's DAG file check with what the DAG processor recorded kept for `recheckMs` per file,
 * the rule the scheduler's DagCache applies to the DAG's structure: a chain of tries from one file
 * then costs no metadata DB round trip before each start (under load that read was most of the
 * time between a worker taking a try and the try starting). The worker's own files are still
 * looked at for every try (fileHash re-reads a file whose size or mtime changed), so a changed or
 * missing file on this host is caught at once; a re-parse is seen within `recheckMs`, as by the
 * scheduler, which goes on scheduling from the old parse for as long.
 */
export class DagFileChecker {
  private readonly parsed = new Map<string, { row: ParsedCode | undefined; at: number }>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly recheckMs = 1000,
  ) {}

  /** null when the worker's copy is the file the scheduler parsed; otherwise why not. */
  async check(options: DagFileCheckOptions, now = Date.now()): Promise<string | null> {
    let fromCache = false;
    const problem = await checkDagFile(this.db, options, async () => {
      const cached = this.parsed.get(options.fileloc);
      if (cached && now - cached.at < this.recheckMs) {
        fromCache = true;
        return cached.row;
      }
      return this.read(options.fileloc, now);
    });
    if (!problem || !fromCache) return problem;
    // A kept answer never fails a try: the file may have been deployed and re-parsed since.
    return checkDagFile(this.db, options, () => this.read(options.fileloc, now));
  }

  private async read(fileloc: string, now: number): Promise<ParsedCode | undefined> {
    const row = await readParsedCode(this.db, fileloc);
    this.parsed.set(fileloc, { row, at: now });
    return row;
  }
}

function readParsedCode(db: Kysely<Database>, fileloc: string): Promise<ParsedCode | undefined> {
  return db
    .selectFrom('dag_code')
    .select(['source_hash', 'dependencies'])
    .where('fileloc', '=', fileloc)
    .executeTakeFirst();
}

/** null when the worker's copy is the file the scheduler parsed; otherwise why not. */
export async function checkDagFile(
  db: Kysely<Database>,
  options: DagFileCheckOptions,
  readParsed: () => Promise<ParsedCode | undefined> = () => readParsedCode(db, options.fileloc),
): Promise<string | null> {
  const local = localFileloc(options.fileloc, options.schedulerDagsFolder, options.workerDagsFolder);
  const own = knownFileHash(local) ?? (await fileHash(local));
  if (!own) {
    return `DAG file ${local} is missing on worker ${options.hostname} (the scheduler parsed ${options.fileloc}); every host needs the same dags_folder contents`;
  }
  const parsed = await readParsed();
  // Not recorded (a DAG run by `dags test`, or its file was removed from the DB since): nothing to compare.
  if (!parsed) return null;
  const dependencies = decodeDependencies(parsed.dependencies);
  const hashed: { file: string; hash: string }[] = [];
  for (const dep of dependencies) {
    const localDep = localFileloc(dep, options.schedulerDagsFolder, options.workerDagsFolder);
    const h = knownFileHash(localDep) ?? (await fileHash(localDep));
    if (!h)
      return `Module ${localDep} imported by DAG file ${local} is missing on worker ${options.hostname}`;
    // Combined under the scheduler's path names, as the DAG processor recorded them.
    hashed.push({ file: dep, hash: h.hash });
  }
  const hash = combineHashes(own.hash, hashed);
  if (hash === parsed.source_hash) return null;
  return `DAG file ${local} on worker ${options.hostname} differs from the one the scheduler parsed (${options.fileloc}; sha256 ${hash.slice(0, 12)} here, ${parsed.source_hash.slice(0, 12)} parsed); deploy the same DAG files to every host`;
}
