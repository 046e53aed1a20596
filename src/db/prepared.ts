// Prepared statements for hot paths. A named statement is parsed and planned once per connection (each pool
// connection on PostgreSQL, PGlite's one connection) and then only bound and executed (planning the task reads
// costs several times their execution), and its SQL text is built once instead of on every request:
// `prepared` keeps a Drizzle query-builder statement per executor (the database, or an open transaction) and
// name; `compiledQuery` keeps a raw statement's text once per process. One name always stands for one SQL
// text, which is what node-postgres requires of names on a connection.
import { fillPlaceholders, type Query, type SQL } from "drizzle-orm";
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
 * A raw statement written with `sql.placeholder(name)` for its values, turned into SQL text once and then run
 * as a named prepared statement with the values filled in: parsed and planned once per connection (each pool
 * connection on PostgreSQL, PGlite's one connection), which for a long statement costs more than running it.
 * A statement that Drizzle's query builder cannot express (a chain of writing CTEs) is written this way too.
 * Outside transactions only. Walking a Drizzle SQL template costs more than binding it: on a task list it was
 * ~12% of the request's CPU, redone on every request.
 */
export function compiledQuery<T, V extends Record<string, unknown>>(name: string, build: () => SQL) {
  let compiled: Query | undefined;
  const query = () => (compiled ??= dialect.sqlToQuery(build()));
  const run = (database: Database, values: V): Promise<T[]> =>
    database.queryNamed<T>(name, query().sql, fillPlaceholders(query().params, values));
  /** The statement's text and its parameters for these values (to EXPLAIN it, say). */
  run.bound = (values: V) => ({ text: query().sql, params: fillPlaceholders(query().params, values) });
  return run;
}

/** A raw statement whose text varies (optional filters): an ordinary parameterized query on both backends. */
export async function runQuery<T>(database: Database, query: SQL): Promise<T[]> {
  const q = dialect.sqlToQuery(query);
  if (database.pool) return (await database.pool.query({ text: q.sql, values: q.params })).rows as T[];
  return database.query<T>(q.sql, q.params);
}
