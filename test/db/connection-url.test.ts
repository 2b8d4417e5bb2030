import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMetadataDb, parseConnectionUrl } from '../../src/db/index.js';
import { DatabaseError } from '../../src/errors.js';
import {
  createTestDatabase,
  MYSQL_SERVER,
  POSTGRES_SERVER,
  type TestDatabase,
} from '../support/databases.js';

/**
 * sql_alchemy_conn in the spellings SQLAlchemy users copy, including a local server's Unix socket:
 * `?unix_socket=` for MySQL, `?host=/dir` (and a user with no host) for PostgreSQL.
 */
describe('sql_alchemy_conn URLs', () => {
  it('parses host, port, user, password and database, with each dialect’s defaults', () => {
    expect(parseConnectionUrl('mysql+pymysql://airflow:p%40ss@db.example:3307/airflow')).toMatchObject({
      dialect: 'mysql',
      host: 'db.example',
      port: 3307,
      user: 'airflow',
      password: 'p@ss',
      database: 'airflow',
      socketPath: null,
    });
    expect(parseConnectionUrl('postgresql://u@h/db')).toMatchObject({ host: 'h', port: 5432, user: 'u' });
    expect(parseConnectionUrl('mysql://u@h/db')).toMatchObject({ port: 3306 });
  });

  it('takes a Unix socket: ?unix_socket= for MySQL, ?host=/dir and a user with no host for PostgreSQL', () => {
    expect(
      parseConnectionUrl('mysql+mysqldb://airflow:pw@localhost/airflow?unix_socket=/run/mysqld/mysqld.sock'),
    ).toMatchObject({ dialect: 'mysql', socketPath: '/run/mysqld/mysqld.sock', database: 'airflow' });
    expect(parseConnectionUrl('postgresql://airflow@/airflow?host=/var/run/postgresql')).toMatchObject({
      dialect: 'postgres',
      host: '/var/run/postgresql',
      user: 'airflow',
      database: 'airflow',
    });
    expect(parseConnectionUrl('postgresql://airflow:pw@/airflow?host=/tmp')).toMatchObject({
      host: '/tmp',
      password: 'pw',
    });
  });

  it('refuses a URL with no database, naming the form it expects', () => {
    expect(() => parseConnectionUrl('mysql://u@h')).toThrow(/the database name is missing/);
    expect(() => parseConnectionUrl('oracle://u@h/db')).toThrow(/sqlite:\/\/, mysql:\/\//);
  });
});

describe('connecting through the local server’s Unix socket', () => {
  const created: TestDatabase[] = [];
  let mysqlUrl: string;
  let postgresUrl: string;

  beforeAll(async () => {
    // The servers say where their sockets are; the database names come from the usual TCP URLs.
    const mysql = await createTestDatabase('mysql');
    const postgres = await createTestDatabase('postgres');
    created.push(mysql, postgres);
    const overTcp = [await openMetadataDb(mysql.url), await openMetadataDb(postgres.url)];
    const mysqlSocket = await sql<{ s: string }>`select @@socket as s`.execute(overTcp[0]!.kysely);
    const postgresDirs = await sql<{
      d: string;
    }>`select setting as d from pg_settings where name = 'unix_socket_directories'`.execute(
      overTcp[1]!.kysely,
    );
    await Promise.all(overTcp.map((db) => db.close()));
    const mysqlName = parseConnectionUrl(mysql.url);
    const postgresName = parseConnectionUrl(postgres.url);
    if (mysqlName.dialect === 'sqlite' || postgresName.dialect === 'sqlite') throw new Error('unexpected');
    mysqlUrl = `mysql://${MYSQL_SERVER.user}@localhost/${mysqlName.database}?unix_socket=${mysqlSocket.rows[0]!.s}`;
    const dir = postgresDirs.rows[0]!.d.split(',')[0]!.trim();
    postgresUrl = `postgresql://${POSTGRES_SERVER.user}@/${postgresName.database}?host=${dir}`;
  });
  afterAll(async () => {
    for (const db of created) await db.drop();
  });

  it('MySQL: the session is a socket session (its host has no port), and batches use it too', async () => {
    const db = await openMetadataDb(mysqlUrl);
    try {
      const host = sql<{
        h: string;
      }>`select host as h from information_schema.processlist where id = connection_id()`;
      expect((await host.execute(db.kysely)).rows[0]?.h).toBe('localhost');
      expect((await host.execute(db.batches!)).rows[0]?.h).toBe('localhost');
    } finally {
      await db.close();
    }
    // Over TCP the same query names the client's port: the check above can tell the two apart.
    const tcp = await openMetadataDb(created[0]!.url);
    try {
      const row = await sql<{
        h: string;
      }>`select host as h from information_schema.processlist where id = connection_id()`.execute(tcp.kysely);
      expect(row.rows[0]?.h).toMatch(/:\d+$/);
    } finally {
      await tcp.close();
    }
  });

  it('PostgreSQL: the session has no client address (a Unix socket)', async () => {
    const db = await openMetadataDb(postgresUrl);
    try {
      const row = await sql<{ a: string | null }>`select inet_client_addr()::text as a`.execute(db.kysely);
      expect(row.rows[0]?.a).toBeNull();
    } finally {
      await db.close();
    }
  });

  it('a socket that does not exist is a clear error naming the URL', async () => {
    const missing = 'mysql://root@localhost/nothing?unix_socket=/nonexistent/mysqld.sock';
    const error = await openMetadataDb(missing).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseError);
    expect((error as Error).message).toMatch(/Cannot connect to the metadata database .*ENOENT/);
  });
});

describe('MySQL sessions', () => {
  let created: TestDatabase;
  beforeAll(async () => {
    created = await createTestDatabase('mysql');
  });
  afterAll(async () => {
    await created.drop();
  });

  it('run at READ COMMITTED, as Airflow sets them: a transaction sees what others commit meanwhile', async () => {
    const db = await openMetadataDb(created.url);
    const other = await openMetadataDb(created.url);
    try {
      await sql`create table seen (id int primary key)`.execute(db.kysely);
      let id = 0;
      // Both pools: the main one and the one for statement batches.
      for (const pool of [db.kysely, db.batches!]) {
        const counts = await pool.transaction().execute(async (trx) => {
          const count = async () =>
            Number((await sql<{ n: number }>`select count(*) as n from seen`.execute(trx)).rows[0]?.n);
          const before = await count();
          await sql`insert into seen values (${++id})`.execute(other.kysely);
          return [before, await count()];
        });
        // REPEATABLE READ (MySQL's default) would show the same count twice: the first read fixes
        // the snapshot.
        expect(counts).toEqual([id - 1, id]);
      }
    } finally {
      await Promise.all([db.close(), other.close()]);
    }
  });
});
