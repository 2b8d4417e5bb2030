import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokerTarget, parseBrokerUrl, redactBrokerUrl } from '../../src/broker/broker-url.js';
import { brokerFromConfig, connectChecked } from '../../src/broker/connection.js';
import { loadConfig } from '../../src/config/index.js';
import { ConfigError, RemoteError } from '../../src/errors.js';
import { makeAirflowHome, runUpdraft, type AirflowHome } from '../support/cli.js';
import { freePort, privateRedis, type PrivateRedis } from '../worker/celery-support.js';

describe('[celery] broker_url', () => {
  it('reads host, port, db, user and password as Airflow users write them', () => {
    const t = parseBrokerUrl('redis://:s3cr%40t@10.0.0.5:6380/2');
    expect(t).toMatchObject({
      host: '10.0.0.5',
      port: 6380,
      db: 2,
      password: 's3cr@t',
      display: 'redis://:***@10.0.0.5:6380/2',
    });
    expect(t.tls).toBeUndefined();
    expect(parseBrokerUrl('redis://app:pw@redis.internal')).toMatchObject({
      host: 'redis.internal',
      port: 6379,
      db: 0,
      username: 'app',
      password: 'pw',
    });
    expect(parseBrokerUrl('redis://127.0.0.1:6379/0').password).toBeUndefined();
  });

  it('rediss:// and [celery] ssl_* turn TLS on; kombu query options set verification and files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'updraft-tls-'));
    try {
      await writeFile(join(dir, 'ca.pem'), 'CA-PEM');
      const strict = parseBrokerUrl(`rediss://:pw@cache.example:6380/1?ssl_ca_certs=${join(dir, 'ca.pem')}`);
      expect(strict.tls).toMatchObject({ rejectUnauthorized: true, servername: 'cache.example' });
      expect(String(strict.tls!.ca)).toBe('CA-PEM');
      expect(parseBrokerUrl('rediss://h:1/0?ssl_cert_reqs=CERT_NONE').tls!.rejectUnauthorized).toBe(false);
      expect(
        parseBrokerUrl('redis://h:1/0', { active: true, cacert: join(dir, 'ca.pem') }).tls,
      ).toBeDefined();
      expect(() => parseBrokerUrl('rediss://h:1/0?ssl_cert_reqs=MAYBE')).toThrow(
        /ssl_cert_reqs must be one of/,
      );
      expect(() => parseBrokerUrl('rediss://:pw@h:1/0?ssl_ca_certs=/nonexistent/ca.pem')).toThrow(
        /cannot be read/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses other brokers and bad URLs with an error that never shows the password', () => {
    const cases = [
      'amqp://guest:hunter2@rabbit:5672//',
      'redis://:hunter2@h:1/notanumber',
      'redis://:hunter2@',
    ];
    for (const url of cases) {
      let error: unknown;
      try {
        parseBrokerUrl(url);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).not.toContain('hunter2');
      expect((error as Error).message).toContain('***');
    }
    expect(redactBrokerUrl('redis://user:p@ss@h:1/0')).toBe('redis://user:***@h:1/0');
  });

  it('takes the password from broker_url_cmd in the file or AIRFLOW__CELERY__BROKER_URL_CMD', async () => {
    const home = await mkdtemp(join(tmpdir(), 'updraft-cmd-'));
    try {
      await writeFile(
        join(home, 'airflow.cfg'),
        '[celery]\nbroker_url_cmd = echo redis://:from-file@127.0.0.1:7001/3\n',
      );
      const fromFile = loadConfig({ env: { AIRFLOW_HOME: home } });
      expect(brokerTarget(fromFile.values)).toMatchObject({ password: 'from-file', port: 7001, db: 3 });
      const fromEnv = loadConfig({
        env: {
          AIRFLOW_HOME: home,
          AIRFLOW__CELERY__BROKER_URL_CMD: 'echo redis://:from-env@127.0.0.1:7002/4',
        },
      });
      expect(brokerTarget(fromEnv.values)).toMatchObject({ password: 'from-env', port: 7002, db: 4 });
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});

describe('broker failures at start (a private redis-server with a password)', () => {
  let dir: string;
  let redis: PrivateRedis;
  let home: AirflowHome;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'updraft-redis-'));
    redis = await privateRedis(dir, { password: 'right-pass' });
    await redis.start();
    home = await makeAirflowHome({ AIRFLOW__CORE__EXECUTOR: 'CeleryExecutor' });
    const migrated = await runUpdraft(['db', 'migrate'], { env: home.env });
    expect(migrated.code).toBe(0);
  }, 60_000);
  afterAll(async () => {
    await redis?.kill();
    await home?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  const configWith = (url: string) =>
    loadConfig({
      env: {
        AIRFLOW_HOME: home.home,
        AIRFLOW__CELERY__BROKER_URL: url,
        AIRFLOW__CELERY__OPERATION_TIMEOUT: '0.5',
      },
    }).values;

  it('connects with the right password (from broker_url_cmd)', async () => {
    const values = loadConfig({
      env: {
        AIRFLOW_HOME: home.home,
        AIRFLOW__CELERY__BROKER_URL_CMD: `echo redis://:right-pass@127.0.0.1:${redis.port}/0`,
      },
    }).values;
    const connection = await connectChecked(brokerFromConfig(values));
    expect(await connection.ping()).toBe('PONG');
    connection.disconnect();
  });

  it('a wrong password is refused at once with a RemoteError naming the URL without the password', async () => {
    const error = await connectChecked(
      brokerFromConfig(configWith(`redis://:wrong-pass@127.0.0.1:${redis.port}/0`)),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteError);
    expect((error as Error).message).toContain(`redis://:***@127.0.0.1:${redis.port}/0`);
    expect((error as Error).message).not.toContain('wrong-pass');
    expect((error as Error).message).toMatch(/refused the credentials/);
  });

  it('`celery worker` and `scheduler` exit with the remote-failure code (13) on a wrong password, without a crash loop', async () => {
    const env = { ...home.env, AIRFLOW__CELERY__BROKER_URL: `redis://:wrong-pass@127.0.0.1:${redis.port}/0` };
    for (const args of [
      ['celery', 'worker', '-s'],
      ['scheduler', '-n', '1'],
    ]) {
      const r = await runUpdraft(args, { env, timeoutMs: 150_000 });
      expect(r.code).toBe(13);
      expect(r.stderr).toContain(`redis://:***@127.0.0.1:${redis.port}/0`);
      expect(r.stdout + r.stderr).not.toContain('wrong-pass');
    }
  }, 320_000);

  it('an unreachable Redis ends `celery worker` with code 13 after a few attempts, naming the URL', async () => {
    const port = await freePort();
    const r = await runUpdraft(['celery', 'worker', '-s'], {
      env: {
        ...home.env,
        AIRFLOW__CELERY__BROKER_URL: `redis://:secret@127.0.0.1:${port}/0`,
        AIRFLOW__CELERY__OPERATION_TIMEOUT: '0.5',
      },
      timeoutMs: 150_000,
    });
    expect(r.code).toBe(13);
    expect(r.stderr).toContain(`Cannot reach the Redis broker at redis://:***@127.0.0.1:${port}/0`);
    expect(r.stdout + r.stderr).not.toContain('secret');
  }, 160_000);
});
