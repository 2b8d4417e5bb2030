#!/usr/bin/env node
// Benchmark of `updraft provision`: a fresh test host (scripts/test-host.mjs) to a healthy node,
// then a no-change re-run, each with per-step times, printed as Markdown. Needs root; run after
// `npm run build`. The operator-side cache starts empty, so the fresh run includes fetching the
// Node.js build from the npm registry and packing the release, as a first run on a new machine does.
//
//   node scripts/bench-provision.mjs [--executor LocalExecutor|CeleryExecutor]
import { $, argv, fs, os, path } from 'zx';

$.verbose = false;
const root = path.join(path.dirname(new URL(import.meta.url).pathname), '..');
const executor = argv.executor ?? 'LocalExecutor';
const home = await fs.mkdtemp(path.join(os.tmpdir(), 'updraft-bench-'));
const host = JSON.parse((await $`node ${path.join(root, 'scripts/test-host.mjs')} create`).stdout);
const stack = path.join(home, 'stack.yaml');
await fs.writeFile(
  stack,
  `name: bench\nhost:\n  address: ${host.address}\n  user: root\n  key: ${host.keyFile}\nairflow:\n  executor: ${executor}\n  dags: ${path.join(root, 'test/provision/fixtures/dags')}\n`,
);
const env = { ...process.env, UPDRAFT_HOME: home };
const provision = async (...extra) => {
  const t0 = Date.now();
  const r = await $({
    env,
  })`node ${path.join(root, 'bin/updraft.js')} provision --stack ${stack} --json ${extra}`.nothrow();
  const result = JSON.parse(r.stdout);
  if (!result.ok) throw new Error(`provision failed: ${result.error} (log ${result.logPath})`);
  return { result, wallMs: Date.now() - t0 };
};
const table = (title, { result, wallMs }) =>
  [
    `### ${title}`,
    '',
    '| step | status | changes | seconds |',
    '| --- | --- | ---: | ---: |',
    ...result.steps.map(
      (s) => `| ${s.title} | ${s.status} | ${s.changes.length} | ${(s.durationMs / 1000).toFixed(1)} |`,
    ),
    `| **total (engine)** | | ${result.changed} | **${(result.durationMs / 1000).toFixed(1)}** |`,
    `| total (command, wall clock) | | | ${(wallMs / 1000).toFixed(1)} |`,
    '',
  ].join('\n');
try {
  const load = (await fs.readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
  const fresh = await provision();
  const again = await provision();
  console.log(`Executor ${executor}; host load average before the run: ${load}; ${os.cpus().length} CPUs.\n`);
  console.log(table('Fresh Debian 12 host to healthy node', fresh));
  console.log(table('No-change re-run', again));
} finally {
  await $`node ${path.join(root, 'scripts/test-host.mjs')} destroy ${host.name}`.nothrow();
  await fs.remove(home);
}
