import { describe, expect, it } from 'vitest';
import { ConfigError, ValidationError } from '../../src/errors.js';
import { generateFernetKey } from '../../src/config/index.js';
import { createFernet } from '../../src/security/fernet.js';
import { hashPassword, randomPassword, verifyPassword } from '../../src/security/password.js';

describe('password hashing', () => {
  it('verifies the right password and rejects a wrong one', async () => {
    const hash = await hashPassword('S3cure!pass');
    expect(hash).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(hash).not.toContain('S3cure!pass');
    expect(await verifyPassword('S3cure!pass', hash)).toBe(true);
    expect(await verifyPassword('S3cure!pasS', hash)).toBe(false);
    expect(await verifyPassword('', hash)).toBe(false);
  });

  it('salts: the same password hashes differently each time', async () => {
    const [a, b] = await Promise.all([hashPassword('same'), hashPassword('same')]);
    expect(a).not.toBe(b);
    expect(await verifyPassword('same', b)).toBe(true);
  });

  it('rejects malformed stored hashes instead of throwing', async () => {
    expect(await verifyPassword('x', 'plaintext')).toBe(false);
    expect(await verifyPassword('x', 'bcrypt$1$2$3$aa$bb')).toBe(false);
  });

  it('makes random passwords of the asked length', () => {
    const p = randomPassword(24);
    expect(p).toHaveLength(24);
    expect(p).not.toBe(randomPassword(24));
  });
});

describe('fernet', () => {
  it('decrypts the Fernet specification test vector (tokens interchangeable with Python)', () => {
    const fernet = createFernet('cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=');
    const token =
      'gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==';
    expect(fernet.decrypt(token)).toBe('hello');
  });

  it('round-trips text, with a fresh IV each time', () => {
    const fernet = createFernet(generateFernetKey());
    const secret = 'p@ss wörd ✓ with unicode and a long tail '.repeat(5);
    const [a, b] = [fernet.encrypt(secret), fernet.encrypt(secret)];
    expect(a).not.toBe(b);
    expect(a.startsWith('gAAAAA')).toBe(true);
    expect(fernet.decrypt(a)).toBe(secret);
    expect(fernet.decrypt(b)).toBe(secret);
  });

  it('rotates keys: the first key encrypts, any listed key decrypts', () => {
    const [oldKey, newKey] = [generateFernetKey(), generateFernetKey()];
    const oldToken = createFernet(oldKey).encrypt('legacy');
    const rotated = createFernet(`${newKey},${oldKey}`);
    expect(rotated.decrypt(oldToken)).toBe('legacy');
    const newToken = rotated.encrypt('fresh');
    expect(createFernet(newKey).decrypt(newToken)).toBe('fresh');
    expect(() => createFernet(oldKey).decrypt(newToken)).toThrow(ValidationError);
  });

  it('fails clearly with the wrong key or a tampered token', () => {
    const token = createFernet(generateFernetKey()).encrypt('secret');
    expect(() => createFernet(generateFernetKey()).decrypt(token)).toThrow(/fernet_key does not match/);
    const key = generateFernetKey();
    const good = createFernet(key).encrypt('secret');
    const tampered = good.slice(0, 30) + (good[30] === 'A' ? 'B' : 'A') + good.slice(31);
    expect(() => createFernet(key).decrypt(tampered)).toThrow(ValidationError);
  });

  it('rejects a malformed key naming [core] fernet_key', () => {
    expect(() => createFernet('too-short')).toThrow(ConfigError);
    expect(() => createFernet('too-short')).toThrow(/\[core\] fernet_key/);
  });

  it('is a pass-through without a key (as Airflow stores values unencrypted)', () => {
    const none = createFernet('');
    expect(none.enabled).toBe(false);
    expect(none.encrypt('x')).toBe('x');
  });
});
