import { describe, expect, it } from 'vitest';
import { ConfigError, PermissionDeniedError } from '../../src/errors.js';
import { parseApiAuthBackends } from '../../src/web/auth/api-backends.js';
import { can, effectiveRole, requirePermission } from '../../src/web/auth/roles.js';
import { SessionCodec } from '../../src/web/auth/session.js';
import { problemFor } from '../../src/web/http-errors.js';
import { NotFoundError, ValidationError, ConflictError, AuthenticationError } from '../../src/errors.js';

describe('sessions', () => {
  it('round-trips, expires after session_lifetime_minutes, and rejects other keys and edits', () => {
    const codec = new SessionCodec('key-one', 60_000);
    const session = codec.createSignedIn(7, 'sid-1', 1_000);
    const cookie = codec.encode(session);
    expect(codec.decode(cookie, 2_000)).toEqual(session);
    expect(codec.decode(cookie, 61_001)).toBeNull();
    expect(new SessionCodec('key-two', 60_000).decode(cookie, 2_000)).toBeNull();
    // Any other text is refused, also a last character that decodes to the same signature bytes
    // (its two spare bits differ): every one of the 63 alternatives is tried.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (const c of alphabet.replace(cookie.slice(-1), '')) {
      expect(codec.decode(cookie.slice(0, -1) + c, 2_000)).toBeNull();
    }
    const [body, signature] = cookie.split('.');
    const forged = Buffer.from(JSON.stringify({ ...session, uid: 1 })).toString('base64url');
    expect(codec.decode(`${forged}.${signature}`, 2_000)).toBeNull();
    expect(codec.decode(`${body}.`, 2_000)).toBeNull();
    expect(codec.decode('garbage', 2_000)).toBeNull();
    expect(codec.decode(undefined)).toBeNull();
  });
});

describe('api auth backends', () => {
  it('accepts Airflow and Updraft spellings and rejects unknown ones', () => {
    expect([
      ...parseApiAuthBackends(['airflow.api.auth.backend.basic_auth', 'airflow.api.auth.backend.session']),
    ]).toEqual(['basic_auth', 'session']);
    expect([...parseApiAuthBackends(['updraft.api.auth.backend.deny_all'])]).toEqual(['deny_all']);
    expect([...parseApiAuthBackends(['basic_auth'])]).toEqual(['basic_auth']);
    expect(() => parseApiAuthBackends(['airflow.api.auth.backend.kerberos_auth'])).toThrow(ConfigError);
  });
});

describe('roles and permissions', () => {
  it('nest Public < Viewer < User < Op < Admin', () => {
    expect(effectiveRole(['Viewer', 'Op'])).toBe('Op');
    expect(effectiveRole(['Custom'])).toBe('Public');
    expect(can('Viewer', 'read')).toBe(true);
    expect(can('Viewer', 'operate_dags')).toBe(false);
    expect(can('User', 'operate_dags')).toBe(true);
    expect(can('User', 'manage_resources')).toBe(false);
    expect(can('Op', 'manage_resources')).toBe(true);
    expect(can('Op', 'manage_users')).toBe(false);
    expect(can('Admin', 'read_config')).toBe(true);
    expect(can('Public', 'read')).toBe(false);
    expect(() => requirePermission('Viewer', 'operate_dags')).toThrow(PermissionDeniedError);
  });
});

describe('errors to HTTP statuses', () => {
  it('maps each typed error once, hides internal messages', () => {
    expect(problemFor(new ValidationError('bad')).status).toBe(400);
    expect(problemFor(new NotFoundError('x')).status).toBe(404);
    expect(problemFor(new ConflictError('x')).status).toBe(409);
    expect(problemFor(new AuthenticationError('x')).status).toBe(401);
    expect(problemFor(new PermissionDeniedError('x')).status).toBe(403);
    const internal = problemFor(new Error('password=hunter2 in SQL'));
    expect(internal.status).toBe(500);
    expect(internal.detail).not.toContain('hunter2');
  });
});
