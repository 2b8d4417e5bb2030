import { ConfigError } from '../errors.js';
import type { MetadataDb } from '../db/index.js';
import type { Fernet } from './fernet.js';

export interface RotationResult {
  variables: number;
  connections: number;
}

/**
 * Re-encrypt every encrypted variable and connection secret with the first key of
 * `[core] fernet_key` (Airflow's `rotate-fernet-key`). The usual rotation: set
 * `fernet_key = NEW,OLD`, run this, then drop OLD. One transaction: a value that no listed key
 * can decrypt stops the rotation and changes nothing.
 */
export async function rotateFernetKey(store: MetadataDb, fernet: Fernet): Promise<RotationResult> {
  if (!fernet.enabled) {
    throw new ConfigError('[core] fernet_key is empty: there is no key to rotate to.', 'core', 'fernet_key');
  }
  const reencrypt = (token: string) => fernet.encrypt(fernet.decrypt(token));
  return store.kysely.transaction().execute(async (trx) => {
    const variables = await trx
      .selectFrom('variable')
      .select(['id', 'val'])
      .where('is_encrypted', '=', 1)
      .execute();
    for (const v of variables) {
      await trx
        .updateTable('variable')
        .set({ val: reencrypt(v.val) })
        .where('id', '=', v.id)
        .execute();
    }
    const connections = await trx
      .selectFrom('connection')
      .select(['id', 'password', 'extra', 'is_encrypted', 'is_extra_encrypted'])
      .where((eb) => eb.or([eb('is_encrypted', '=', 1), eb('is_extra_encrypted', '=', 1)]))
      .execute();
    for (const c of connections) {
      await trx
        .updateTable('connection')
        .set({
          password: Number(c.is_encrypted) === 1 && c.password !== null ? reencrypt(c.password) : c.password,
          extra: Number(c.is_extra_encrypted) === 1 && c.extra !== null ? reencrypt(c.extra) : c.extra,
        })
        .where('id', '=', c.id)
        .execute();
    }
    return { variables: variables.length, connections: connections.length };
  });
}
