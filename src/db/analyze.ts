// Planner statistics for our tables. PGlite has no autovacuum, and a PostgreSQL may run without it (this
// project's CI machine does): without statistics the planner cannot tell a 50-row page from a full scan,
// and the task list read and sorted every task of a mission (bench/README.md, "list path": 123 ms against
// 0.95 ms per page on PGlite at 1,300 tasks). So the server analyzes, on both backends, what autovacuum's
// default rule would: a table never analyzed, or one changed by more than 50 rows + 10 % since its last
// analyze. ANALYZE samples a bounded number of rows, so a pass costs milliseconds per stale table.

import { singleFlight } from "../core/single-flight.js";
import type { Database } from "./client.js";

const STALE_TABLES = `
  SELECT quote_ident(s.schemaname) || '.' || quote_ident(s.relname) AS name
  FROM pg_stat_user_tables s
  JOIN pg_class c ON c.oid = s.relid
  WHERE s.schemaname NOT IN ('pg_catalog', 'information_schema')
    AND (
      (s.last_analyze IS NULL AND s.last_autoanalyze IS NULL AND (s.n_live_tup > 0 OR s.n_mod_since_analyze > 0))
      OR s.n_mod_since_analyze > 50 + 0.1 * GREATEST(c.reltuples, 0)
    )
  ORDER BY s.relname`;

/** Analyzes the tables whose statistics are missing or stale; returns their names. */
export async function analyzeStaleTables(database: Database): Promise<string[]> {
  const rows = await database.query<{ name: string }>(STALE_TABLES);
  for (const { name } of rows) await database.query(`ANALYZE ${name}`);
  return rows.map((r) => r.name);
}

/**
 * The loop that keeps statistics current: a pass when the server starts (after migrations, so a database
 * restored or grown offline is planned well from the first request) and one a minute after that. A failed
 * pass is logged and the next one tries again.
 */
export function statisticsLoop(
  database: Database,
  log: { warn(obj: object, msg: string): void },
  everyMs = 60_000,
): { start(): Promise<void>; stop(): Promise<void> } {
  const pass = singleFlight(
    async () => void (await analyzeStaleTables(database)),
    (err) => log.warn({ err }, "updating planner statistics failed"),
  );
  let timer: NodeJS.Timeout | null = null;
  return {
    async start() {
      await pass.trigger();
      timer = setInterval(() => void pass.trigger(), everyMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
      await pass.idle();
    },
  };
}
