// Prepared statements for hot reads. On PostgreSQL a named statement is parsed and planned once per pool
// connection and then only bound and executed (planning the task reads costs several times their execution);
// on both backends the SQL text is built once instead of on every request. A statement is kept per executor
// (the database, or an open transaction) and name; one name always stands for one SQL text, which is what
// node-postgres requires of names on a connection.
import type { SQL } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import type { Database, Executor } from "./client.js";

const byExecutor = new WeakMap<Executor, Map<string, unknown>>();

export function prepared<T>(exec: Executor, name: string, build: (exec: Executor, name: string) => T): T {
  let m = byExecutor.get(exec);
  if (!m) {
    m = new Map();
    byExecutor.set(exec, m);
  }
  let p = m.get(name) as T | undefined;
  if (p === undefined) {
    p = build(exec, name);
    m.set(name, p);
  }
  return p;
}

const dialect = new PgDialect();

/**
 * A raw statement (one that Drizzle's query builder cannot express, such as a chain of writing CTEs) run as a
 * named prepared statement: parsed and planned once per connection (each pool connection on PostgreSQL,
 * PGlite's one connection), which for a long statement costs more than running it. Outside transactions
 * only. `name` must always stand for the same SQL text (the same template with other parameter values).
 */
export async function queryPrepared<T>(database: Database, name: string, query: SQL): Promise<T[]> {
  const q = dialect.sqlToQuery(query);
  return database.queryNamed<T>(name, q.sql, q.params);
}

/** A raw statement whose text varies (optional filters): an ordinary parameterized query on both backends. */
export async function runQuery<T>(database: Database, query: SQL): Promise<T[]> {
  const q = dialect.sqlToQuery(query);
  if (database.pool) return (await database.pool.query({ text: q.sql, values: q.params })).rows as T[];
  return database.query<T>(q.sql, q.params);
}
