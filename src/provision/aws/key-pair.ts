import { DeleteKeyPairCommand, DescribeKeyPairsCommand, ImportKeyPairCommand } from '@aws-sdk/client-ec2';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import ssh2 from 'ssh2';
import { ConflictError, NotFoundError, ValidationError } from '../../errors.js';
import type { StackResources } from './discovery.js';
import type { StackSession } from './session.js';

/**
 * The stack's SSH key pair. In `create` mode the key is generated here and its private half is
 * written (0600, folder 0700) before AWS hears of the public half through ImportKeyPair — so a
 * run that dies at any point never leaves a key pair in AWS whose private key was lost, which
 * CreateKeyPair (private key only in the response) could. `import` mode imports the operator's
 * existing public key.
 */
export interface LocalKey {
  privateKeyFile: string;
  /** `ssh-ed25519 AAAA... comment` */
  publicKey: string;
}

/** The key blob (second field) of an OpenSSH public key line, to compare two keys. */
export function publicKeyBlob(line: string): string {
  return line.trim().split(/\s+/)[1] ?? '';
}

export function parsePublicKeyFile(path: string): string {
  if (!existsSync(path)) throw new NotFoundError(`public key file ${path} does not exist`);
  const text = readFileSync(path, 'utf8').trim();
  const parsed = ssh2.utils.parseKey(text);
  if (parsed instanceof Error || Array.isArray(parsed)) {
    throw new ValidationError(`${path} is not an OpenSSH public key (ssh-ed25519 / ssh-rsa ...)`);
  }
  if (parsed.isPrivateKey()) throw new ValidationError(`${path} is a private key; give the .pub file`);
  return text;
}

function publicKeyOfPrivate(path: string): string {
  const parsed = ssh2.utils.parseKey(readFileSync(path));
  if (parsed instanceof Error || Array.isArray(parsed)) {
    throw new ValidationError(
      `${path} is not a private key ssh can read: ${parsed instanceof Error ? parsed.message : ''}`,
    );
  }
  return `${parsed.type} ${parsed.getPublicSSH().toString('base64')}`;
}

/** Write a file readable by its owner only, atomically (no moment where a partial key exists). */
export function writeSecretFile(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/** The local key of the stack: read it, or (create mode, not a dry run) generate it. */
export function ensureLocalKey(s: StackSession): LocalKey | undefined {
  const spec = s.cfg.keyPair;
  if (spec.mode === 'import') {
    const publicKey = parsePublicKeyFile(spec.publicKeyFile!);
    if (!existsSync(spec.privateKeyFile)) {
      throw new NotFoundError(
        `aws.keyPair.privateKeyFile ${spec.privateKeyFile} does not exist; SSH to the node needs it`,
      );
    }
    s.note({
      action: 'use',
      resource: 'local-key',
      id: spec.privateKeyFile,
      detail: `import ${spec.publicKeyFile}`,
    });
    return { privateKeyFile: spec.privateKeyFile, publicKey };
  }
  if (existsSync(spec.privateKeyFile)) {
    s.note({ action: 'keep', resource: 'local-key', id: spec.privateKeyFile, detail: spec.type });
    return { privateKeyFile: spec.privateKeyFile, publicKey: publicKeyOfPrivate(spec.privateKeyFile) };
  }
  if (s.dryRun) {
    s.note({
      action: 'create',
      resource: 'local-key',
      id: spec.privateKeyFile,
      detail: `${spec.type}, saved 0600`,
    });
    return undefined;
  }
  const comment = `updraft-${s.stack}`;
  const pair =
    spec.type === 'rsa'
      ? ssh2.utils.generateKeyPairSync('rsa', { bits: 4096, comment })
      : ssh2.utils.generateKeyPairSync('ed25519', { comment });
  writeSecretFile(spec.privateKeyFile, pair.private);
  writeFileSync(`${spec.privateKeyFile}.pub`, `${pair.public}\n`, { mode: 0o644 });
  s.note({
    action: 'create',
    resource: 'local-key',
    id: spec.privateKeyFile,
    detail: `${spec.type}, saved 0600`,
  });
  return { privateKeyFile: spec.privateKeyFile, publicKey: pair.public };
}

/**
 * A key pair of that name that this stack did not make: say so before any change (dry run
 * included) rather than fail at ImportKeyPair halfway through.
 */
export async function assertKeyNameFree(s: StackSession, found: StackResources): Promise<void> {
  const name = s.cfg.keyPair.name;
  if (found.keyPairs.some((k) => k.KeyName === name)) return;
  const sameName = await s.ec2.send(
    new DescribeKeyPairsCommand({ Filters: [{ Name: 'key-name', Values: [name] }] }),
  );
  if ((sameName.KeyPairs ?? []).length > 0) {
    throw new ConflictError(
      `A key pair named '${name}' already exists in ${s.cfg.region} and this stack did not create it. ` +
        `Set aws.keyPair.name to another name, or delete that key pair if it is unused.`,
    );
  }
}

export async function ensureKeyPair(
  s: StackSession,
  found: StackResources,
  local: LocalKey | undefined,
): Promise<string> {
  const name = s.cfg.keyPair.name;
  const existing = found.keyPairs.find((k) => k.KeyName === name);
  if (existing) {
    const matches =
      !existing.PublicKey || !local || publicKeyBlob(existing.PublicKey) === publicKeyBlob(local.publicKey);
    if (matches) {
      s.note({ action: 'keep', resource: 'key-pair', id: existing.KeyPairId ?? name, detail: name });
      return name;
    }
    // Ours (tagged) but not our local key: the local file was replaced or lost. Only safe to
    // replace while no instance was launched with it.
    if (found.instances.length > 0) {
      throw new ConflictError(
        `key pair ${name} in AWS does not match ${local!.privateKeyFile}, and the stack's instance was launched ` +
          `with it. Put the original private key back, or destroy the stack and bring it up again.`,
      );
    }
    await s.mutate(
      {
        action: 'delete',
        resource: 'key-pair',
        id: existing.KeyPairId ?? name,
        detail: `${name}: does not match the local key`,
      },
      () => s.ec2.send(new DeleteKeyPairCommand({ KeyName: name })),
    );
  }
  await s.mutate(
    {
      action: 'create',
      resource: 'key-pair',
      detail: `${name} (${s.cfg.keyPair.type}, imported public key)`,
    },
    () =>
      s.ec2.send(
        new ImportKeyPairCommand({
          KeyName: name,
          PublicKeyMaterial: Buffer.from(local!.publicKey),
          TagSpecifications: s.tagSpec('key-pair', 'key-pair'),
        }),
      ),
    (r) => r.KeyPairId,
  );
  return name;
}
