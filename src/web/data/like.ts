import { sql, type Expression, type SqlBool } from 'kysely';

/**
 * `column LIKE '%text%'` matching `text` literally on every dialect. The escape character is `!`
 * because a backslash means different things in MySQL and SQLite/PostgreSQL string literals.
 */
export function containsText(
  column: Expression<unknown> | ReturnType<typeof sql.ref>,
  text: string,
): Expression<SqlBool> {
  const pattern = `%${text.replace(/[!%_]/g, (c) => `!${c}`)}%`;
  return sql<SqlBool>`${column} like ${pattern} escape '!'`;
}
