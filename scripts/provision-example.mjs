#!/usr/bin/env node
// Provision a host from a stack file, the way a script or CI job would: no questions, the result
// as JSON, the exit code says whether it worked. Run from a checkout after `npm run build`, or
// with an installed `updraft` on PATH (set UPDRAFT_BIN=updraft).
//
//   node scripts/provision-example.mjs stack.yaml [--check]
//
// stack.yaml holds host.address, host.user, host.key and every other choice (docs/provisioning.md).
import { $, argv, fs, path } from 'zx';

$.verbose = false;
const [stackFile] = argv._;
if (!stackFile) {
  console.error('usage: provision-example.mjs STACK_FILE [--check]');
  process.exit(2);
}
const bin =
  process.env.UPDRAFT_BIN ??
  path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'bin', 'updraft.js');
const cmd = bin.endsWith('.js') ? ['node', bin] : [bin];
const flags = ['--stack', stackFile, '--yes', '--json', ...(argv.check ? ['--check'] : [])];

const run = await $`${cmd} provision ${flags}`.nothrow();
let result;
try {
  result = JSON.parse(run.stdout);
} catch {
  console.error(run.stderr || run.stdout);
  process.exit(run.exitCode || 1);
}

for (const step of result.steps) {
  console.log(`${step.status.padEnd(12)} ${(step.durationMs / 1000).toFixed(1).padStart(6)}s  ${step.title}`);
  for (const change of step.changes) console.log(`    ${change.resource}: ${change.summary}`);
}
if (!result.ok) {
  console.error(`failed: ${result.error}\nlog: ${result.logPath}`);
  process.exit(run.exitCode || 1);
}
console.log(
  result.check
    ? `${result.changed} change(s) would be made`
    : `${result.changed} change(s); healthy at ${result.url}`,
);
console.log(`credentials: ${result.secretsPath}`);
await fs.appendFile(
  process.env.GITHUB_STEP_SUMMARY ?? '/dev/null',
  `Provisioned ${result.host}: ${result.changed} change(s)\n`,
);
