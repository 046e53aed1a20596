// Review decisions read back from the trace: every approve and reject is a `task.status_changed` entry with
// `via` `approve` or `reject` and the reviewer's comment, so the trace is where an agent learns what people
// said about its work (the MCP `list_decisions` tool and `get_context`).
import { and, desc, eq, inArray, sql } from "drizzle-orm";
import type { Executor } from "../db/client.js";
import { traceEntries } from "../db/schema/index.js";
import type { TraceEventName } from "./trace.events.js";

export interface DecisionFilter {
  /** The agent the task was assigned to when it was reviewed. */
  agentKey?: string | null;
  taskKey?: string | null;
  limit: number;
}

export interface Decision {
  task_id: string | null;
  decision: "approved" | "rejected";
  comment: string | null;
  by: string;
  at: string;
}

/** Newest first, at most `limit`. */
export async function listDecisions(exec: Executor, f: DecisionFilter): Promise<Decision[]> {
  const via = sql<string>`${traceEntries.data}->>'via'`;
  const rows = await exec
    .select({ taskId: traceEntries.taskId, actor: traceEntries.actor, at: traceEntries.at, data: traceEntries.data })
    .from(traceEntries)
    .where(
      and(
        eq(traceEntries.event, "task.status_changed" satisfies TraceEventName),
        inArray(via, ["approve", "reject"]),
        f.agentKey ? eq(traceEntries.agentId, f.agentKey) : undefined,
        f.taskKey ? eq(traceEntries.taskId, f.taskKey) : undefined,
      ),
    )
    .orderBy(desc(traceEntries.id))
    .limit(f.limit);
  return rows.map((r) => {
    const data = (r.data ?? {}) as Record<string, unknown>;
    return {
      task_id: r.taskId,
      decision: data.via === "approve" ? "approved" : "rejected",
      comment: typeof data.comment === "string" ? data.comment : null,
      by: r.actor,
      at: r.at.toISOString(),
    };
  });
}
