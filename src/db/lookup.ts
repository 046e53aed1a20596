import { eq, sql, type SQL } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";
import type { Ref } from "../core/ids.js";

/** `id = ref` for an integer reference, `key = ref` for a string one. */
export function refWhere(idCol: PgColumn, keyCol: PgColumn, ref: Ref): SQL {
  return typeof ref === "number" ? eq(idCol, ref) : eq(keyCol, ref);
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
