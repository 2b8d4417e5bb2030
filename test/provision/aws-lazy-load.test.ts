import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { runUpdraft } from '../support/cli.js';

// moto's first answers (it loads its AMI catalogue) and child processes are slow on a loaded machine.
vi.setConfig({ testTimeout: 180_000 });

/**
 * The AWS SDK, the wizard (inquirer) and the EC2 layer are loaded only when an AWS command runs:
 * a module-resolution hook records every module the CLI process resolves.
 */
const dir = mkdtempSync(join(tmpdir(), 'updraft-lazy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hooks = join(dir, 'hooks.mjs');
const register = join(dir, 'register.mjs');
writeFileSync(
  hooks,
  `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(process.env.RESOLVED_LOG, result.url + '\\n');
  return result;
}
`,
);
writeFileSync(
  register,
  `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`,
);

async function resolvedBy(args: string[], name: string): Promise<string[]> {
  const log = join(dir, `${name}.log`);
  writeFileSync(log, '');
  await runUpdraft(args, {
    env: {
      NODE_OPTIONS: `--import=${pathToFileURL(register).href}`,
      RESOLVED_LOG: log,
      AIRFLOW_HOME: join(dir, 'airflow'),
      AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
      AWS_ACCESS_KEY_ID: 'x',
      AWS_SECRET_ACCESS_KEY: 'x',
      AWS_MAX_ATTEMPTS: '1',
    },
  });
  return readFileSync(log, 'utf8').split('\n').filter(Boolean);
}

const awsOrWizard = (url: string) => /@aws-sdk|@inquirer|\/provision\/aws\//.test(url);

describe('lazy loading of the AWS commands', () => {
  it('other commands never load the AWS SDK, inquirer or the EC2 layer', async () => {
    const loaded = await resolvedBy(['version'], 'version');
    expect(loaded.some((u) => u.includes('/cli/commands/aws-stack.js'))).toBe(true); // the hook works
    expect(loaded.filter(awsOrWizard)).toEqual([]);
    const help = await resolvedBy(['scheduler', '--help'], 'scheduler-help');
    expect(help.filter(awsOrWizard)).toEqual([]);
  });

  it('an AWS command does load them (the check above can fail)', async () => {
    const loaded = await resolvedBy(['status', '--stack', 'lazy', '--region', 'us-east-1'], 'status');
    expect(loaded.some((u) => u.includes('@aws-sdk/client-ec2'))).toBe(true);
    expect(loaded.some((u) => u.includes('/provision/aws/commands.js'))).toBe(true);
  });
});
