import { and, asc, eq, gt, gte, lte, sql, type SQL } from "drizzle-orm";
import type { Executor } from "../db/client.js";
import { traceEntries } from "../db/schema/index.js";
import type { Page } from "../core/pagination.js";

export interface TraceFilter {
  missionId?: string;
  taskId?: string;
  agentId?: string;
  event?: string;
  since?: Date;
  until?: Date;
  /** Only entries with an id at most this (the live stream's replay stops at the bus's horizon). */
  upTo?: number;
}

/**
 * The time filters. Within a mission's chain `at` never decreases as the id grows (appendTrace), so a
 * mission's window [since, until] is exactly an id range, found with one probe of (mission_id, at) at each
 * end; the page is then an ordinary keyset scan of (mission_id, id). Comparing `at` row by row instead lets
 * the planner walk the mission from its first entry to reach a recent window (it cannot know that `at` and
 * the id grow together). Across missions `at` is only roughly ordered by id, so there it is compared as is.
 */
function timeWindow(f: TraceFilter): Array<SQL | undefined> {
  if (f.missionId === undefined) {
    return [
      f.since === undefined ? undefined : gte(traceEntries.at, f.since),
      f.until === undefined ? undefined : lte(traceEntries.at, f.until),
    ];
  }
  return [
    f.since === undefined
      ? undefined
      : sql`${traceEntries.id} >= (SELECT id FROM trace_entries WHERE mission_id = ${f.missionId}
          AND at >= ${f.since.toISOString()}::timestamptz ORDER BY at, id LIMIT 1)`,
    f.until === undefined
      ? undefined
      : sql`${traceEntries.id} <= (SELECT id FROM trace_entries WHERE mission_id = ${f.missionId}
          AND at <= ${f.until.toISOString()}::timestamptz ORDER BY at DESC, id DESC LIMIT 1)`,
  ];
}

/** The list query itself (the scale test EXPLAINs it): filters, then keyset over the id, oldest first. */
export function listTraceQuery(exec: Executor, f: TraceFilter, page: Page) {
  return exec
    .select()
    .from(traceEntries)
    .where(
      and(
        f.missionId === undefined ? undefined : eq(traceEntries.missionId, f.missionId),
        f.taskId === undefined ? undefined : eq(traceEntries.taskId, f.taskId),
        f.agentId === undefined ? undefined : eq(traceEntries.agentId, f.agentId),
        f.event === undefined ? undefined : eq(traceEntries.event, f.event),
        ...timeWindow(f),
        f.upTo === undefined ? undefined : lte(traceEntries.id, f.upTo),
        page.after === null ? undefined : gt(traceEntries.id, page.after),
      ),
    )
    .orderBy(asc(traceEntries.id))
    .limit(page.limit + 1);
}

export async function listTrace(exec: Executor, f: TraceFilter, page: Page) {
  return listTraceQuery(exec, f, page);
}
