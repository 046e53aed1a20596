// Prepared statements for hot reads. On PostgreSQL a named statement is parsed and planned once per pool
// connection and then only bound and executed (planning the task reads costs several times their execution);
// on both backends the SQL text is built once instead of on every request. A statement is kept per executor
// (the database, or an open transaction) and name; one name always stands for one SQL text, which is what
// node-postgres requires of names on a connection.
import type { Executor } from "./client.js";

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
