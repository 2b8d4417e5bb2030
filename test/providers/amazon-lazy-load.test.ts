import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/cli.js';

// Uses dist/ (`npm run build` first). A child process with a resolve hook that reports every
// @aws-sdk/* package it resolves: loading the AWS example DAG resolves none; poking its S3 sensor
// resolves the S3 client and no other service's client.

const CHILD = `
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
const root = process.argv[1];
register(pathToFileURL(root + '/test/providers/fixtures/report-aws-imports.mjs'));
const { importDagFile } = await import(root + '/dist/dag-processing/import-dag-file.js');
const { createTaskContext, renderTemplates } = await import(root + '/dist/index.js');
const [dag] = await importDagFile(root + '/dist/examples/dags/example_s3_glue_emr_redshift.js');
process.stderr.write('dag loaded\\n');
const sensor = dag.getTask('wait_for_raw_data');
const day = new Date('2024-06-01T00:00:00Z');
const context = createTaskContext({
  dag: { dagId: dag.dagId }, task: { taskId: sensor.taskId },
  dagRun: { dagId: dag.dagId, runId: 'r', runType: 'manual', conf: {}, logicalDate: day,
    dataIntervalStart: day, dataIntervalEnd: day, externalTrigger: true },
  params: { bucket: 'b' }, tryNumber: 1, maxTries: 1,
  services: {
    // Port 9 on loopback: nothing listens, the call fails at once.
    getConnection: async (id) => ({ connId: id, connType: 'aws', host: null, schema: null, login: 'k',
      password: 's', port: null, extra: { region_name: 'eu-west-1', endpoint_url: 'http://127.0.0.1:9' } }),
  },
  log: { info() {}, warn() {}, error() {}, debug() {} },
  signal: new AbortController().signal,
});
await renderTemplates(sensor, context);
await sensor.poke(context).catch(() => undefined);
process.stderr.write('poked\\n');
`;

describe('AWS client packages', () => {
  it('are loaded only by the tasks that use them', () => {
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', CHILD, REPO_ROOT], {
      encoding: 'utf8',
      env: { ...process.env, AWS_MAX_ATTEMPTS: '1' },
      timeout: 60_000,
    });
    const lines = child.stderr.split('\n').filter((l) => /^(aws-sdk-import|dag loaded|poked)/.test(l));
    expect(lines[0], child.stderr).toBe('dag loaded');
    expect(lines.at(-1), child.stderr).toBe('poked');
    const imported = lines.filter((l) => l.startsWith('aws-sdk-import ')).map((l) => l.slice(15));
    expect(imported).toContain('@aws-sdk/client-s3');
    expect(imported.filter((m) => m.startsWith('@aws-sdk/client-'))).toEqual(['@aws-sdk/client-s3']);
  });
});
