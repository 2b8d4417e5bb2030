import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile, chmod, rename } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Secrets generated for one stack; kept on the operator's machine only. */
export interface StackSecrets {
  mysql_root_password: string;
  mysql_airflow_password: string;
  redis_password: string;
  admin_password: string;
  fernet_key: string;
  secret_key: string;
}

/** Where the tool keeps its state: $UPDRAFT_HOME or ~/.updraft. */
export function toolHome(env: NodeJS.ProcessEnv = process.env): string {
  return env['UPDRAFT_HOME'] || join(homedir(), '.updraft');
}

export function stackDir(stackName: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(toolHome(env), 'stacks', stackName);
}

/** Letters and digits plus a few symbols that are safe in URLs, INI files and shell quotes. */
function strongPassword(length = 28): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += alphabet[b % alphabet.length];
  // MySQL's validate_password MEDIUM/STRONG policy wants mixed case, a digit and a special character.
  return `${out.slice(0, length - 4)}Aa9_`;
}

export function generateSecrets(adminPassword: string | null): StackSecrets {
  return {
    mysql_root_password: strongPassword(),
    mysql_airflow_password: strongPassword(),
    redis_password: strongPassword(40),
    admin_password: adminPassword ?? strongPassword(20),
    fernet_key: randomBytes(32).toString('base64url') + '=',
    secret_key: randomBytes(32).toString('hex'),
  };
}

export interface LoadedSecrets {
  secrets: StackSecrets;
  path: string;
  /** True when this call generated them (the caller shows them once). */
  created: boolean;
}

/**
 * Read the stack's secrets, generating and saving them (folder 0700, file 0600) on first use.
 * A password given in the stack file wins over the stored admin password.
 */
export async function loadOrCreateSecrets(
  stackName: string,
  adminPassword: string | null,
  env: NodeJS.ProcessEnv = process.env,
): Promise<LoadedSecrets> {
  const dir = stackDir(stackName, env);
  const path = join(dir, 'secrets.json');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  let existing: StackSecrets | null = null;
  try {
    existing = JSON.parse(await readFile(path, 'utf8')) as StackSecrets;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (existing) {
    await chmod(path, 0o600);
    if (adminPassword !== null && existing.admin_password !== adminPassword) {
      existing = { ...existing, admin_password: adminPassword };
      await save(path, existing);
    }
    return { secrets: existing, path, created: false };
  }
  const secrets = generateSecrets(adminPassword);
  await save(path, secrets);
  return { secrets, path, created: true };
}

async function save(path: string, secrets: StackSecrets): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600 });
  await rename(tmp, path);
}

export function secretValues(s: StackSecrets): string[] {
  return Object.values(s).filter((v) => v.length >= 6);
}
