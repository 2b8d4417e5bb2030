import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ConfigError, ValidationError } from '../errors.js';

/**
 * Fernet symmetric encryption (https://github.com/fernet/spec): AES-128-CBC + HMAC-SHA256, the
 * scheme Airflow uses for `core.fernet_key`, so keys and tokens are interchangeable with Airflow.
 * Several comma-separated keys are allowed for rotation: the first encrypts, any decrypts.
 */
export interface Fernet {
  encrypt(plain: string): string;
  decrypt(token: string): string;
  readonly enabled: boolean;
}

interface Key {
  signing: Buffer;
  encryption: Buffer;
}

function decodeKey(text: string): Key {
  const raw = Buffer.from(text.trim().replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (raw.length !== 32) {
    throw new ConfigError(
      '[core] fernet_key is not valid: expected 32 url-safe base64-encoded bytes.',
      'core',
      'fernet_key',
    );
  }
  return { signing: raw.subarray(0, 16), encryption: raw.subarray(16) };
}

function encryptWith(key: Key, plain: string, now = Date.now()): string {
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-128-cbc', key.encryption, iv);
  const ciphertext = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  const header = Buffer.alloc(9);
  header[0] = 0x80;
  header.writeBigUInt64BE(BigInt(Math.floor(now / 1000)), 1);
  const body = Buffer.concat([header, iv, ciphertext]);
  const mac = createHmac('sha256', key.signing).update(body).digest();
  return Buffer.concat([body, mac]).toString('base64url').replace(/=*$/, '') + pad(body.length + 32);
}

function pad(byteLength: number): string {
  const rem = byteLength % 3;
  return rem === 0 ? '' : '='.repeat(3 - rem);
}

function decryptWith(key: Key, token: string): string | undefined {
  const data = Buffer.from(token.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (data.length < 57 || data[0] !== 0x80) return undefined;
  const body = data.subarray(0, data.length - 32);
  const mac = data.subarray(data.length - 32);
  const expected = createHmac('sha256', key.signing).update(body).digest();
  if (!timingSafeEqual(mac, expected)) return undefined;
  const iv = body.subarray(9, 25);
  const decipher = createDecipheriv('aes-128-cbc', key.encryption, iv);
  return Buffer.concat([decipher.update(body.subarray(25)), decipher.final()]).toString('utf8');
}

/** A Fernet for the configured key(s); with an empty key, values are stored unencrypted (as Airflow does). */
export function createFernet(fernetKey: string): Fernet {
  const keys = fernetKey
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean)
    .map(decodeKey);
  const [primary] = keys;
  if (!primary) {
    return {
      enabled: false,
      encrypt: (plain) => plain,
      decrypt: (token) => token,
    };
  }
  return {
    enabled: true,
    encrypt: (plain) => encryptWith(primary, plain),
    decrypt(token) {
      for (const key of keys) {
        const plain = decryptWith(key, token);
        if (plain !== undefined) return plain;
      }
      throw new ValidationError(
        'Cannot decrypt a stored secret: the fernet_key does not match the one it was encrypted with.',
      );
    },
  };
}
