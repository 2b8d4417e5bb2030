import type { Kysely } from 'kysely';
import type { ColumnKit } from './column-types.js';

/**
 * login_attempt: sign-in attempts counted per key (a user at an address, or an address) and
 * one-minute window, in the metadata database so every webserver process shares the count; an
 * upsert increments it atomically, so parallel guesses cannot all slip under the limit.
 *
 * session: one row per signed-in browser session (Airflow keeps its sessions in a `session` table
 * too). The cookie names the row; signing out deletes it, and a password change, role change or
 * deactivation deletes every row of that user, so an old cookie stops working at once.
 */
/** Tables this migration creates, dropped by `db reset` (session first: it references ab_user). */
export const createdTables = ['session', 'login_attempt'] as const;

export async function up(db: Kysely<unknown>, k: ColumnKit): Promise<void> {
  await k
    .finish(
      db.schema
        .createTable('login_attempt')
        .addColumn('counter_key', 'varchar(64)', (c) => k.id(c).notNull())
        .addColumn('window_start', 'bigint', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('pk_login_attempt', ['counter_key', 'window_start']),
    )
    .execute();
  await k
    .finish(
      k
        .serialPk(db.schema.createTable('session'), 'id')
        .addColumn('session_id', 'varchar(64)', (c) => k.id(c).notNull().unique())
        .addColumn('user_id', 'integer', (c) => c.notNull().references('ab_user.id').onDelete('cascade'))
        .addColumn('expiry', 'bigint', (c) => c.notNull()),
    )
    .execute();
  await db.schema.createIndex('idx_session_user').on('session').column('user_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('session').execute();
  await db.schema.dropTable('login_attempt').execute();
}
