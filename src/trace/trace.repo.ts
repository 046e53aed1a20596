import { and, asc, eq, gt, gte, lte } from "drizzle-orm";
import type { Executor } from "../db/client.js";
import { traceEntries } from "../db/schema/index.js";
import type { Page } from "../http/pagination.js";

export interface TraceFilter {
  missionId?: string;
  taskId?: string;
  agentId?: string;
  event?: string;
  since?: Date;
  until?: Date;
}

export async function listTrace(exec: Executor, f: TraceFilter, page: Page) {
  return exec
    .select()
    .from(traceEntries)
    .where(
      and(
        f.missionId === undefined ? undefined : eq(traceEntries.missionId, f.missionId),
        f.taskId === undefined ? undefined : eq(traceEntries.taskId, f.taskId),
        f.agentId === undefined ? undefined : eq(traceEntries.agentId, f.agentId),
        f.event === undefined ? undefined : eq(traceEntries.event, f.event),
        f.since === undefined ? undefined : gte(traceEntries.at, f.since),
        f.until === undefined ? undefined : lte(traceEntries.at, f.until),
        page.after === null ? undefined : gt(traceEntries.id, page.after),
      ),
    )
    .orderBy(asc(traceEntries.id))
    .limit(page.limit + 1);
}
