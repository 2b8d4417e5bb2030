import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { listDescendants } from '../../src/worker/process-tree.js';

/**
 * The walk re-reads /proc children files through descriptors it keeps open (process-tree.ts):
 * each read must show the children of that moment, and the kept descriptors must stay bounded.
 */
describe('process tree walk', () => {
  const start = (): ChildProcess => spawn('sleep', ['30'], { stdio: 'ignore' });
  const stop = async (child: ChildProcess) => {
    child.kill('SIGKILL');
    await once(child, 'exit');
  };

  it('sees each child while it runs and not after it is gone, call after call', async () => {
    for (let round = 0; round < 3; round++) {
      const before = listDescendants(process.pid);
      const child = start();
      expect(listDescendants(process.pid)).toContain(child.pid);
      await stop(child);
      expect(listDescendants(process.pid)).not.toContain(child.pid);
      expect(listDescendants(process.pid).sort()).toEqual(before.sort());
    }
  });

  it('keeps a bounded number of descriptors however many processes it has looked at', async () => {
    const openFds = () => readdirSync('/proc/self/fd').length;
    listDescendants(process.pid);
    const baseline = openFds();
    for (let i = 0; i < 40; i++) {
      // Each child is walked (its own children file is read), then gone.
      const children = [start(), start()];
      listDescendants(process.pid);
      await Promise.all(children.map(stop));
    }
    expect(openFds() - baseline).toBeLessThanOrEqual(64);
  });
});
