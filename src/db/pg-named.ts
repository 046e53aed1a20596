// Every parameterized statement on PostgreSQL runs as a named prepared statement, named by its text.
// node-postgres sends an unnamed statement as Parse + Bind + Execute each time, and PostgreSQL parses and plans
// it again: measured on a PATCH of a task (7 statements), parse and bind (which plans) took ~2.6 ms of the
// server's ~3.1 ms, the executions ~0.4 ms. A named statement is parsed once per pool connection; later runs
// are Bind + Execute, and PostgreSQL's plan cache picks custom or generic plans by its own rules.
// Invariants:
// - One name stands for one text, process-wide (node-postgres refuses another text under a parsed name).
// - Only statements with parameters are named (those without go through the simple protocol, which allows
//   several statements in one text: the migrator, BEGIN/COMMIT).
// - Bounded: the first MAX_AUTO_NAMED texts get names; later texts run unnamed (each named statement holds
//   memory in every connection that ran it).
// - A statement PostgreSQL refuses to run from its cached plan (0A000, "cached plan must not change result
//   type": a schema change by another process) fails that once; its text is never named again here, so the
//   connection does not keep failing.
import type pg from "pg";

const MAX_AUTO_NAMED = 2_000;

type QueryConfig = { text: string; name?: string; values?: unknown[] } & Record<string, unknown>;

export function createStatementNamer() {
  const names = new Map<string, string>();
  /** Texts that must run unnamed (a stale plan was seen). */
  const unnamed = new Set<string>();
  let next = 0;

  function nameFor(text: string): string | undefined {
    let name = names.get(text);
    if (name === undefined && next < MAX_AUTO_NAMED && !unnamed.has(text)) {
      name = `mc_${(next++).toString(36)}`;
      names.set(text, name);
    }
    return name;
  }

  function failed(text: string, err: unknown): void {
    if ((err as { code?: unknown } | null)?.code === "0A000") {
      unnamed.add(text);
      names.delete(text);
    }
  }

  /** Wraps `client.query` so that parameterized statements carry their text's name. */
  function attach(client: pg.PoolClient): void {
    const original = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as { query: unknown }).query = (config: unknown, values?: unknown, callback?: unknown) => {
      let q: QueryConfig | null = null;
      if (typeof config === "string") q = { text: config };
      else if (config && typeof config === "object" && typeof (config as QueryConfig).text === "string")
        q = config as QueryConfig;
      const params = Array.isArray(values) ? values : q?.values;
      if (
        !q ||
        q.name ||
        !params ||
        params.length === 0 ||
        typeof values === "function" ||
        (q as { submit?: unknown }).submit
      ) {
        return original(config, values, callback);
      }
      const name = nameFor(q.text);
      if (name === undefined) return original(config, values, callback);
      const named = { ...q, name };
      const text = q.text;
      if (typeof callback === "function") {
        return original(named, values, (err: unknown, res: unknown) => {
          if (err) failed(text, err);
          (callback as (e: unknown, r: unknown) => void)(err, res);
        });
      }
      return (original(named, values) as Promise<unknown>).catch((err: unknown) => {
        failed(text, err);
        throw err;
      });
    };
  }

  return { attach };
}
