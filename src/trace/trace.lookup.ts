import { and, desc, eq, inArray, sql } from "drizzle-orm";
import type { Executor } from "../db/client.js";
import { tasks, traceEntries } from "../db/schema/index.js";
import type { TraceEventName } from "./trace.events.js";
import { TASK } from "../tasks/tasks.state.js";

export async function findTaskKey(exec: Executor, id: number): Promise<string | undefined> {
  const rows = await exec.select({ k: tasks.taskId }).from(tasks).where(eq(tasks.id, id)).limit(1);
  return rows[0]?.k;
}

/**
 * The review that sent a task back: its latest `rejected` move, when no later move to `pending_review` (a
 * run that was reviewed again) followed it; with the reviewer's comment, for the rerun's prompt.
 */
export async function openRejection(
  exec: Executor,
  taskKey: string,
): Promise<{ comment: string | null; by: string; at: string } | null> {
  const rows = await exec
    .select({ actor: traceEntries.actor, at: traceEntries.at, data: traceEntries.data })
    .from(traceEntries)
    .where(
      and(
        eq(traceEntries.taskId, taskKey),
        eq(traceEntries.event, "task.status_changed" satisfies TraceEventName),
        sql`${traceEntries.data}->>'to' in (${TASK.rejected}, ${TASK.pending_review})`,
      ),
    )
    .orderBy(desc(traceEntries.id))
    .limit(1);
  const last = rows[0];
  if (!last || last.data.to !== TASK.rejected) return null;
  const comment = typeof last.data.comment === "string" ? last.data.comment : null;
  return { comment, by: last.actor, at: last.at.toISOString() };
}

/**
 * The require_approval decision that parked each of these dispatches, by dispatch id: execute records it on
 * the dispatch's `task.dispatched` trace entry (`awaiting_approval`), so it is read back from there (the
 * trace is append-only and keyed by task, which bounds the scan to these tasks' entries).
 */
export async function parkingDecisionIds(
  exec: Executor,
  of: Array<{ id: number; taskKey: string }>,
): Promise<Map<number, number>> {
  if (of.length === 0) return new Map();
  const rows = await exec
    .select({
      dispatchId: sql<string>`${traceEntries.data}->>'dispatch_id'`,
      decisionId: sql<string>`${traceEntries.data}->>'awaiting_approval'`,
    })
    .from(traceEntries)
    .where(
      and(
        inArray(traceEntries.taskId, [...new Set(of.map((d) => d.taskKey))]),
        eq(traceEntries.event, "task.dispatched" satisfies TraceEventName),
        sql`${traceEntries.data}->>'awaiting_approval' IS NOT NULL`,
        inArray(
          sql`${traceEntries.data}->>'dispatch_id'`,
          of.map((d) => String(d.id)),
        ),
      ),
    );
  return new Map(rows.map((r) => [Number(r.dispatchId), Number(r.decisionId)]));
}
