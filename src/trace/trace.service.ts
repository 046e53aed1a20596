// Every change writes exactly one trace entry through `append`, on the same executor (transaction) as the
// change itself, so an acknowledged change always has its entry and a rolled-back one never does.
import type { Executor } from "../db/client.js";
import { traceEntries } from "../db/schema/index.js";

export interface TraceInput {
  event: string;
  actor: string;
  missionId?: string | null;
  taskId?: string | null;
  agentId?: string | null;
  data?: Record<string, unknown>;
}

export type TraceRow = typeof traceEntries.$inferSelect;

export async function appendTrace(exec: Executor, entry: TraceInput): Promise<TraceRow> {
  const rows = await exec
    .insert(traceEntries)
    .values({
      event: entry.event,
      actor: entry.actor,
      missionId: entry.missionId ?? null,
      taskId: entry.taskId ?? null,
      agentId: entry.agentId ?? null,
      data: entry.data ?? {},
    })
    .returning();
  return rows[0]!;
}
