import { eq, sql, type SQL, type SQLWrapper } from "drizzle-orm";
import type { PgColumn, PgTable } from "drizzle-orm/pg-core";
import type { Ref } from "../core/ids.js";

/** `id = ref` for an integer reference, `key = ref` for a string one. */
export function refWhere(idCol: PgColumn, keyCol: PgColumn, ref: Ref): SQL {
  return typeof ref === "number" ? eq(idCol, ref) : eq(keyCol, ref);
}

/** The id of `table`'s row with this key, as a scalar subquery: one lookup per statement, not per row. */
export function idOfKey(table: PgTable, idCol: PgColumn, keyCol: PgColumn, key: SQLWrapper | string): SQL {
  return sql`(SELECT ${idCol} FROM ${table} WHERE ${keyCol} = ${key})`;
}

/** `fk = ref` for a column referring to `table`: the id as given, a key through `idOfKey` (no join needed). */
export function refersTo(fk: PgColumn, table: PgTable, idCol: PgColumn, keyCol: PgColumn, ref: Ref): SQL {
  return typeof ref === "number" ? eq(fk, ref) : eq(fk, idOfKey(table, idCol, keyCol, ref));
}

/** Which column a reference names: a prepared lookup is one statement per kind. */
export function refKind(ref: Ref): "id" | "key" {
  return typeof ref === "number" ? "id" : "key";
}

/** `refWhere` for a prepared statement: the reference is its `ref` placeholder. */
export function refPlaceholderWhere(idCol: PgColumn, keyCol: PgColumn, kind: "id" | "key"): SQL {
  return eq(kind === "id" ? idCol : keyCol, sql.placeholder("ref"));
}

/** PostgreSQL error code of a failed query, looking through Drizzle's wrapper. */
export function pgErrorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 3 && e && typeof e === "object"; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export const isUniqueViolation = (err: unknown) => pgErrorCode(err) === "23505";

/** A timestamp as ISO 8601 text with milliseconds in UTC, as `Date#toISOString` writes it. */
export const isoText = (col: SQLWrapper) =>
  sql<string>`to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
