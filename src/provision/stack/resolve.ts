import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../errors.js';
import type { ProvisionTarget } from '../engine/types.js';
import { loadStackFile } from './index.js';
import { applyOverrides, defaultStack, type Stack } from './schema.js';
import { stackDir } from './secrets.js';

/** The flags every node command (provision, health, repair) takes to name its host. */
export interface TargetFlags {
  stack?: string;
  name?: string;
  host?: string;
  port?: string;
  user?: string;
  key?: string;
  target?: string;
}

/**
 * `--stack` is a stack file, or the name of a stack whose file was saved under
 * ~/.updraft/stacks/NAME/stack.yaml; flags override what it says.
 */
export async function resolveStack(flags: TargetFlags, env: NodeJS.ProcessEnv = process.env): Promise<Stack> {
  let base = defaultStack();
  if (flags.stack) {
    const saved = join(stackDir(flags.stack, env), 'stack.yaml');
    const path = existsSync(flags.stack) ? flags.stack : existsSync(saved) ? saved : flags.stack;
    base = await loadStackFile(path);
  }
  const port = flags.port === undefined ? undefined : Number(flags.port);
  if (port !== undefined && !Number.isInteger(port))
    throw new UsageError(`--port: must be an integer (got ${flags.port})`);
  return applyOverrides(base, {
    ...(flags.host !== undefined ? { host: flags.host } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(flags.user !== undefined ? { user: flags.user } : {}),
    ...(flags.key !== undefined ? { key: flags.key } : {}),
    ...(flags.target !== undefined ? { target: flags.target } : {}),
    ...(flags.name !== undefined ? { name: flags.name } : {}),
  });
}

export function targetOf(stack: Stack): ProvisionTarget {
  if (stack.target === 'local') return { kind: 'local' };
  if (!stack.host.key)
    throw new UsageError(
      'host.key: required for an SSH target (give --key KEY_FILE or host.key in the stack file)',
    );
  return {
    kind: 'ssh',
    address: stack.host.address as string,
    port: stack.host.port,
    user: stack.host.user,
    keyFile: stack.host.key,
    connectDeadlineMs: 20_000,
  };
}
