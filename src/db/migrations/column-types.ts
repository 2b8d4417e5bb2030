import { sql, type ColumnDefinitionBuilder, type CreateTableBuilder, type Expression } from 'kysely';
import type { DialectName } from '../connection-url.js';

/**
 * Column shapes that differ by dialect, in one place so migrations read the same on all three.
 * Identifier columns are ASCII on MySQL: 250 ASCII bytes keep composite keys within InnoDB's
 * limits even on MySQL 5.7 row formats with the 767-byte index prefix limit, where utf8mb4
 * VARCHAR(250) (1000 bytes) fails with "Specified key was too long".
 */
export const ID_LEN = 250;
/** Indexed human text: 190 utf8mb4 characters fit MySQL 5.7's 767-byte index prefix. */
export const SHORT_TEXT_LEN = 190;

export interface ColumnKit {
  dialect: DialectName;
  /** An identifier (dag_id, task_id …): ASCII, case-sensitive. */
  id(col: ColumnDefinitionBuilder): ColumnDefinitionBuilder;
  idType: Expression<unknown>;
  /** Free text of any length (JSON, logs, source code). */
  longText: Expression<unknown>;
  /** Indexed human text (usernames, pool names): VARCHAR(190) so utf8mb4 indexes fit 767 bytes. */
  shortText: Expression<unknown>;
  /** An autoincrement integer primary key. */
  serialPk<T extends string, C extends string>(
    t: CreateTableBuilder<T, C>,
    name: string,
  ): CreateTableBuilder<T, C>;
  /** Table options: InnoDB, utf8mb4 on MySQL. */
  finish<T extends string, C extends string>(t: CreateTableBuilder<T, C>): CreateTableBuilder<T, C>;
}

export function columnKit(dialect: DialectName): ColumnKit {
  const mysql = dialect === 'mysql';
  return {
    dialect,
    id: (col) => (mysql ? col.modifyFront(sql`character set ascii collate ascii_bin`) : col),
    idType: sql.raw(`varchar(${ID_LEN})`),
    longText: mysql ? sql`longtext` : sql`text`,
    shortText: sql.raw(`varchar(${SHORT_TEXT_LEN})`),
    serialPk: (t, name) =>
      dialect === 'postgres'
        ? t.addColumn(name, 'serial', (c) => c.primaryKey())
        : t.addColumn(name, 'integer', (c) => c.primaryKey().autoIncrement()),
    finish: (t) =>
      mysql ? t.modifyEnd(sql`engine=InnoDB default charset=utf8mb4 collate=utf8mb4_unicode_ci`) : t,
  };
}
