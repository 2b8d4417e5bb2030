import { mkdir, mkdtemp, rm, unlink, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContext, type AppContext } from '../../src/context.js';
import { processDagFolderOnce } from '../../src/dag-processing/processor.js';
import { loadSerializedDag } from '../../src/dag-processing/read.js';
import { silentLogger } from '../../src/log.js';
import { openTestDb, type OpenTestDb, type TestDialect } from '../support/databases.js';

// The parse workers run from dist/: run `npm run build` before this file.

const good = (dagId: string, extraTask = '') => `
import { DAG, BashOperator, EmptyOperator } from 'updraft';
import { helperCommand } from './lib/helper';
export const dag = new DAG({ dagId: '${dagId}', schedule: '@daily', startDate: '2024-01-01', tags: ['b', 'a'], defaultArgs: { owner: 'ann' } }).build(() => {
  const a = new BashOperator({ taskId: 'a', bashCommand: helperCommand() });
  const b = new EmptyOperator({ taskId: 'b' });
  a.then(b);
  ${extraTask}
});
`;

const FILES: Record<string, string> = {
  'good.ts': good('good_dag'),
  'lib/helper.ts': `export function helperCommand(): string { return 'echo helper'; }\n`,
  'unpaused.mjs': `import { DAG, EmptyOperator } from 'updraft';\nconst d = new DAG({ dagId: 'unpaused_dag', isPausedUponCreation: false, schedule: { hours: 1 } });\nnew EmptyOperator({ taskId: 'only', dag: d });\n`,
  'syntax_error.ts': `import { DAG } from 'updraft';\nconst x: number = ;\n`,
  'throws.ts': `import { DAG } from 'updraft';\nfunction setup(): never {\n  throw new Error('config missing');\n}\nsetup();\n`,
  'cycle.ts': `import { DAG, EmptyOperator } from 'updraft';\nnew DAG({ dagId: 'cyclic' }).build(() => {\n  const a = new EmptyOperator({ taskId: 'a' });\n  const b = new EmptyOperator({ taskId: 'b' });\n  a.then(b);\n  b.then(a);\n});\n`,
  'slow.ts': `import { DAG } from 'updraft';\nwhile (true) {}\n`,
  'ignored/skipped.ts': `throw new Error('must not be imported');\n`,
  '.airflowignore': `ignored/\n^lib/\n`,
};

async function writeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await writeFile(path.join(root, rel), text);
  }
}

const dialects: TestDialect[] = (process.env.DAG_TEST_DIALECTS?.split(',') as TestDialect[] | undefined) ?? [
  'sqlite',
  'postgres',
  'mysql',
];

describe.each(dialects)('DAG processor on %s', (dialect) => {
  let testDb: OpenTestDb;
  let home: string;
  let dags: string;
  let ctx: AppContext;

  beforeAll(async () => {
    testDb = await openTestDb(dialect);
    home = await mkdtemp(path.join(tmpdir(), 'updraft-proc-'));
    dags = path.join(home, 'dags');
    await writeTree(dags, FILES);
    ctx = createContext({
      env: {
        AIRFLOW_HOME: home,
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: testDb.url,
        AIRFLOW__CORE__DAGS_FOLDER: dags,
        AIRFLOW__CORE__LOAD_EXAMPLES: 'False',
        AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT: '3',
        AIRFLOW__SCHEDULER__PARSING_PROCESSES: '2',
      },
      log: silentLogger,
    });
  }, 120_000);

  afterAll(async () => {
    await ctx?.close();
    await testDb?.cleanup();
    await rm(home, { recursive: true, force: true });
  });

  const db = async () => (await ctx.db()).kysely;
  const errors = async () =>
    Object.fromEntries(
      (await (await db()).selectFrom('import_error').select(['filename', 'stacktrace']).execute()).map(
        (r) => [path.relative(dags, r.filename), r.stacktrace],
      ),
    );

  it('stores good DAGs and turns broken, throwing, cyclic and endless files into import errors', async () => {
    const stats = await processDagFolderOnce(ctx);
    expect(stats).toMatchObject({ filesFound: 6, filesParsed: 6, dags: 2, importErrors: 4 });

    const rows = await (await db()).selectFrom('dag').selectAll().orderBy('dag_id').execute();
    expect(rows.map((r) => [r.dag_id, r.is_paused, r.is_active, r.owners, r.schedule_interval])).toEqual([
      ['good_dag', 1, 1, 'ann', '@daily'],
      ['unpaused_dag', 0, 1, 'airflow', 'PT1H'],
    ]);
    const tags = await (
      await db()
    )
      .selectFrom('dag_tag')
      .select(['dag_id', 'name'])
      .orderBy('name')
      .execute();
    expect(tags).toEqual([
      { dag_id: 'good_dag', name: 'a' },
      { dag_id: 'good_dag', name: 'b' },
    ]);
    const ser = await loadSerializedDag(await db(), 'good_dag');
    expect(ser.fileloc).toBe(path.join(dags, 'good.ts'));
    expect(ser.tasks.map((t) => [t.taskId, t.upstream, t.templateValues])).toEqual([
      ['a', [], { bashCommand: 'echo helper' }],
      ['b', ['a'], {}],
    ]);
    const code = await (
      await db()
    )
      .selectFrom('dag_code')
      .select(['fileloc', 'source_code'])
      .where('fileloc', '=', path.join(dags, 'good.ts'))
      .executeTakeFirstOrThrow();
    expect(code.source_code).toBe(FILES['good.ts']);

    const errs = await errors();
    expect(Object.keys(errs).sort()).toEqual(['cycle.ts', 'slow.ts', 'syntax_error.ts', 'throws.ts']);
    expect(errs['syntax_error.ts']).toContain(`${path.join(dags, 'syntax_error.ts')}:2:`);
    expect(errs['throws.ts']).toMatch(/Error: config missing\n\s+at setup \(.*throws\.ts:3:/);
    expect(errs['cycle.ts']).toMatch(/Cycle detected in DAG 'cyclic': (a >> b >> a|b >> a >> b)/);
    expect(errs['slow.ts']).toMatch(/DagBag import timeout for .*slow\.ts after 3s/);
    // No bundle files left behind next to the sources.
    expect((await readdir(dags)).filter((f) => f.includes('.updraft-'))).toEqual([]);
  }, 60_000);

  it('skips unchanged files on a re-scan (failed ones are retried, timed-out ones wait for a change)', async () => {
    const stats = await processDagFolderOnce(ctx);
    expect(stats.filesParsed).toBe(3); // syntax_error, throws, cycle
    expect(stats.serializedWrites).toBe(0);
    expect(Object.keys(await errors()).sort()).toEqual([
      'cycle.ts',
      'slow.ts',
      'syntax_error.ts',
      'throws.ts',
    ]);
  }, 60_000);

  it('re-serializes a changed file and clears the error of a fixed one', async () => {
    const before = await (
      await db()
    )
      .selectFrom('serialized_dag')
      .select('dag_hash')
      .where('dag_id', '=', 'good_dag')
      .executeTakeFirstOrThrow();
    await writeFile(
      path.join(dags, 'good.ts'),
      good('good_dag', "b.then(new EmptyOperator({ taskId: 'c' }));"),
    );
    await writeFile(
      path.join(dags, 'throws.ts'),
      FILES['unpaused.mjs']!.replaceAll('unpaused_dag', 'fixed_dag'),
    );
    const stats = await processDagFolderOnce(ctx);
    if (process.env.DEBUG_DAG_TEST) console.log(stats, await errors());
    expect(stats.serializedWrites).toBe(2);
    const after = await (
      await db()
    )
      .selectFrom('serialized_dag')
      .select('dag_hash')
      .where('dag_id', '=', 'good_dag')
      .executeTakeFirstOrThrow();
    expect(after.dag_hash).not.toBe(before.dag_hash);
    expect((await loadSerializedDag(await db(), 'good_dag')).tasks.map((t) => t.taskId)).toEqual([
      'a',
      'b',
      'c',
    ]);
    expect(Object.keys(await errors()).sort()).toEqual(['cycle.ts', 'slow.ts', 'syntax_error.ts']);
    const fixed = await (
      await db()
    )
      .selectFrom('dag')
      .select(['is_active', 'has_import_errors'])
      .where('dag_id', '=', 'fixed_dag')
      .executeTakeFirstOrThrow();
    expect(fixed).toEqual({ is_active: 1, has_import_errors: 0 });
  }, 60_000);

  it('re-parses a DAG file when a local module it imports changes, and only then', async () => {
    const helper = path.join(dags, 'lib', 'helper.ts');
    const goodFile = path.join(dags, 'good.ts');
    const code = await (
      await db()
    )
      .selectFrom('dag_code')
      .select('dependencies')
      .where('fileloc', '=', goodFile)
      .executeTakeFirstOrThrow();
    expect(JSON.parse(code.dependencies!)).toEqual([helper]);

    const quiet = await processDagFolderOnce(ctx);
    expect(quiet.serializedWrites).toBe(0);

    await writeFile(
      helper,
      `export function helperCommand(): string { return 'echo helper, second edition'; }\n`,
    );
    const edited = await processDagFolderOnce(ctx);
    expect(edited.serializedWrites).toBe(1);
    expect(edited.filesParsed).toBe(quiet.filesParsed + 1);
    const task = (await loadSerializedDag(await db(), 'good_dag')).tasks.find((t) => t.taskId === 'a');
    expect(task?.templateValues).toEqual({ bashCommand: 'echo helper, second edition' });

    const again = await processDagFolderOnce(ctx);
    expect(again.filesParsed).toBe(quiet.filesParsed);
    expect(again.serializedWrites).toBe(0);
  }, 60_000);

  it('a DAG id defined in a second file is an import error of that file', async () => {
    await writeFile(path.join(dags, 'copy.ts'), good('good_dag'));
    await processDagFolderOnce(ctx);
    expect((await errors())['copy.ts']).toMatch(
      /Ignoring DAG good_dag from .*copy\.ts - also found in .*good\.ts/,
    );
    expect((await loadSerializedDag(await db(), 'good_dag')).fileloc).toBe(path.join(dags, 'good.ts'));
    await unlink(path.join(dags, 'copy.ts'));
  }, 60_000);

  it('deactivates DAGs whose file is gone and forgets the errors of removed files', async () => {
    await unlink(path.join(dags, 'good.ts'));
    await unlink(path.join(dags, 'slow.ts'));
    const stats = await processDagFolderOnce(ctx);
    expect(stats.deactivatedDags).toEqual(['good_dag']);
    const row = await (
      await db()
    )
      .selectFrom('dag')
      .select('is_active')
      .where('dag_id', '=', 'good_dag')
      .executeTakeFirstOrThrow();
    expect(row.is_active).toBe(0);
    await expect(loadSerializedDag(await db(), 'good_dag')).rejects.toThrow(/not found/);
    expect(Object.keys(await errors()).sort()).toEqual(['cycle.ts', 'syntax_error.ts']);
    // Restoring the file brings the DAG back (same id, paused state kept).
    await writeFile(path.join(dags, 'good.ts'), good('good_dag'));
    await processDagFolderOnce(ctx);
    const back = await (
      await db()
    )
      .selectFrom('dag')
      .select(['is_active', 'is_paused'])
      .where('dag_id', '=', 'good_dag')
      .executeTakeFirstOrThrow();
    expect(back).toEqual({ is_active: 1, is_paused: 1 });
  }, 60_000);
});

describe('DagProcessor loop', () => {
  it('stops promptly during a slow file and records nothing for it', async () => {
    const testDb = await openTestDb('sqlite');
    const home = await mkdtemp(path.join(tmpdir(), 'updraft-proc-stop-'));
    const dags = path.join(home, 'dags');
    await writeTree(dags, {
      'slow.ts': FILES['slow.ts']!,
      'good.ts': good('good_dag'),
      'lib/helper.ts': FILES['lib/helper.ts']!,
      '.airflowignore': '^lib/\n',
    });
    const ctx = createContext({
      env: {
        AIRFLOW_HOME: home,
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: testDb.url,
        AIRFLOW__CORE__DAGS_FOLDER: dags,
        AIRFLOW__CORE__LOAD_EXAMPLES: 'False',
        AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT: '60',
      },
      log: silentLogger,
    });
    try {
      const { DagProcessor } = await import('../../src/dag-processing/processor.js');
      const processor = new DagProcessor(ctx, { intervalMs: 60_000 });
      const started = Date.now();
      const running = processor.run();
      await new Promise((r) => setTimeout(r, 2000));
      processor.stop();
      await running;
      expect(Date.now() - started).toBeLessThan(10_000);
      await new Promise((r) => setTimeout(r, 200));
      expect((await readdir(dags)).filter((f) => f.includes('.updraft-'))).toEqual([]);
      const db = (await ctx.db()).kysely;
      expect(await db.selectFrom('import_error').selectAll().execute()).toEqual([]);
      expect((await db.selectFrom('dag').select('dag_id').execute()).map((r) => r.dag_id)).toEqual([
        'good_dag',
      ]);
    } finally {
      await ctx.close();
      await testDb.cleanup();
      await rm(home, { recursive: true, force: true });
    }
  }, 60_000);
});
