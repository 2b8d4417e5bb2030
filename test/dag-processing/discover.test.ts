import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listDagFiles } from '../../src/dag-processing/discover.js';

describe('listDagFiles', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'updraft-discover-'));
    const files: Record<string, string> = {
      'a.ts': '',
      'b.mts': '',
      'c.js': '',
      'd.mjs': '',
      'notes.txt': '',
      'types.d.ts': '',
      'tmp_scratch.ts': '',
      '.a.ts.updraft-123-4.mjs': '',
      'node_modules/pkg/index.js': '',
      '.hidden/x.ts': '',
      'team1/keep.ts': '',
      'team1/skip_me.ts': '',
      'team1/.airflowignore': '# only applies inside team1\nskip_\n[invalid(regex\n',
      'team2/skip_me.ts': '',
      '.airflowignore': '^tmp_\n',
    };
    for (const [rel, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
      await writeFile(path.join(root, rel), text);
    }
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('finds .ts/.mts/.js/.mjs files recursively and honours .airflowignore per folder', async () => {
    const found = (await listDagFiles(root)).map((f) => path.relative(root, f));
    expect(found).toEqual(['a.ts', 'b.mts', 'c.js', 'd.mjs', 'team1/keep.ts', 'team2/skip_me.ts']);
  });

  it('returns nothing for a missing folder', async () => {
    expect(await listDagFiles(path.join(root, 'nope'))).toEqual([]);
  });
});
