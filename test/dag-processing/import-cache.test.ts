import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importDagFile, importDagFileReusing } from '../../src/dag-processing/import-dag-file.js';

/**
 * importDagFile reuses a file's bundle while none of its inputs changed (warm task processes run
 * many tries of one file), but must evaluate afresh every time and see edits to any input.
 */
describe('importDagFile bundle reuse', () => {
  let dir: string;
  const dagFile = () => join(dir, 'cached_dag.ts');
  const helper = () => join(dir, 'helper.ts');
  const taskIds = async () => (await importDagFile(dagFile()))[0]!.tasks.map((t) => t.taskId).sort();
  // Editing twice within one clock tick must still be seen: push each edit's mtime forward.
  let tick = Date.now() / 1000 - 100;
  const write = async (file: string, text: string) => {
    await writeFile(file, text);
    tick += 1;
    await utimes(file, tick, tick);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'updraft-import-cache-'));
    await write(helper(), `export const NAME = 'from_helper';\n`);
    await write(
      dagFile(),
      `import { DAG, EmptyOperator } from 'updraft';
import { NAME } from './helper';
export const dag = new DAG({ dagId: 'cached_dag', schedule: null, startDate: '2024-01-01' }).build(() => {
  new EmptyOperator({ taskId: NAME });
});
`,
    );
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('evaluates the file afresh on every import', async () => {
    const [first] = await importDagFile(dagFile());
    const [second] = await importDagFile(dagFile());
    expect(first!.dagId).toBe('cached_dag');
    expect(second).not.toBe(first);
    expect(second!.tasks[0]).not.toBe(first!.tasks[0]);
  });

  it('sees an edit to an imported helper module, not only to the DAG file', async () => {
    expect(await taskIds()).toEqual(['from_helper']);
    await write(helper(), `export const NAME = 'edited_helper';\n`);
    expect(await taskIds()).toEqual(['edited_helper']);
    // Same size, new content: the modification time alone must invalidate.
    await write(helper(), `export const NAME = 'edited_helpeR';\n`);
    expect(await taskIds()).toEqual(['edited_helpeR']);
  });

  it('sees an edit to the DAG file itself', async () => {
    await write(
      dagFile(),
      `import { DAG, EmptyOperator } from 'updraft';
export const dag = new DAG({ dagId: 'cached_dag', schedule: null, startDate: '2024-01-01' }).build(() => {
  new EmptyOperator({ taskId: 'inline_task' });
});
`,
    );
    expect(await taskIds()).toEqual(['inline_task']);
  });

  it('importDagFileReusing keeps one evaluation per file version and evaluates an edited file again', async () => {
    const [first] = await importDagFileReusing(dagFile());
    const [again] = await importDagFileReusing(dagFile());
    expect(again).toBe(first);
    await write(helper(), `export const NAME = 'reused_helper';\n`);
    await write(
      dagFile(),
      `import { DAG, EmptyOperator } from 'updraft';
import { NAME } from './helper';
export const dag = new DAG({ dagId: 'cached_dag', schedule: null, startDate: '2024-01-01' }).build(() => {
  new EmptyOperator({ taskId: NAME });
});
`,
    );
    const [edited] = await importDagFileReusing(dagFile());
    expect(edited).not.toBe(first);
    expect(edited!.tasks.map((t) => t.taskId)).toEqual(['reused_helper']);
    // Only the helper changes now: still a new evaluation.
    await write(helper(), `export const NAME = 'second_helper';\n`);
    const [helperEdited] = await importDagFileReusing(dagFile());
    expect(helperEdited!.tasks.map((t) => t.taskId)).toEqual(['second_helper']);
  });

  it('prepareForExecution gives a try its own operator: changes to it leave the declared task alone', async () => {
    const [dag] = await importDagFileReusing(dagFile());
    const declared = dag!.tasks[0]!;
    const copy = declared.prepareForExecution() as typeof declared & { rendered?: string };
    copy.rendered = 'set by a try';
    expect(copy).not.toBe(declared);
    expect(copy).toBeInstanceOf(Object.getPrototypeOf(declared).constructor);
    expect(copy.taskId).toBe(declared.taskId);
    expect((declared as typeof copy).rendered).toBeUndefined();
  });
});

describe('importDagFile concurrency', () => {
  it('keeps the DAGs of two overlapping imports of one file apart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'updraft-import-overlap-'));
    try {
      const file = join(dir, 'overlap_dag.ts');
      await writeFile(
        file,
        `import { DAG, EmptyOperator } from 'updraft';
await new Promise((r) => setTimeout(r, 20));
export const dag = new DAG({ dagId: 'overlap_dag', schedule: null, startDate: '2024-01-01' }).build(() => {
  new EmptyOperator({ taskId: 'only' });
});
`,
      );
      const [a, b] = await Promise.all([importDagFile(file), importDagFile(file)]);
      expect(a.map((d) => d.dagId)).toEqual(['overlap_dag']);
      expect(b.map((d) => d.dagId)).toEqual(['overlap_dag']);
      expect(b[0]).not.toBe(a[0]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
