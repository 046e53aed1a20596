// Every write of an agent's status goes through `changeStatus` (activity, hooks, runs, staleness, resets,
// heartbeat revivals), so every change has its one `agent.status_changed` entry {from, to, reason} in the
// transaction that makes it, and `status_reason` / `status_since` always describe the stored status.
// Invariants:
// - The entry is written only when the status actually changed; `from` is read from the row the write
//   locked (agents.repo writeStatus), so two racing writes each describe the change they made.
// - `status_reason` is stored as the sentence of the change; the two that depend on the clock (a live run's
//   "last output N s ago", staleness's "no heartbeat for N s") are rendered on read by `statusReasonOf`.
import type { Database, Executor } from "../db/client.js";
import type { Ref } from "../core/ids.js";
import { appendTrace } from "../trace/trace.append.js";
import * as repo from "./agents.repo.js";
import {
  AGENT,
  CAUSE,
  HEARTBEAT_STATUS,
  isOffline,
  isWorking,
  type AgentStatus,
  type StatusCause,
} from "./agents.state.js";

export interface StatusChange {
  to: AgentStatus;
  cause: StatusCause;
  reason: string;
  /** Who the entry names; null: the agent itself (`agent:<key>`). */
  actor: string | null;
  event?: string;
  currentTask?: { set: string | null } | "keep";
  seen?: boolean;
  onlyFrom?: readonly AgentStatus[];
  changedBeforeAgeMs?: number;
  /** Where the entry goes: the mission's chain when the change belongs to a mission's work. */
  missionKey?: string | null;
  taskKey?: string | null;
  /** More for the entry's data (the stale agent's last_seen_at, a run's dispatch id). */
  data?: Record<string, unknown>;
}

/** Writes the status (one statement) and, when it changed, its `agent.status_changed` entry. */
export async function changeStatus(tx: Executor, ref: Ref, c: StatusChange) {
  const row = await repo.writeStatus(tx, ref, {
    status: c.to,
    cause: c.cause,
    reason: c.reason,
    event: c.event,
    currentTask: c.currentTask ?? "keep",
    seen: c.seen ?? false,
    onlyFrom: c.onlyFrom,
    changedBeforeAgeMs: c.changedBeforeAgeMs,
  });
  if (row && row.from !== row.status) await traceStatusChange(tx, row, c);
  return row;
}

export async function traceStatusChange(
  tx: Executor,
  row: { agentId: string; from: string; status: string },
  c: Pick<StatusChange, "cause" | "actor" | "missionKey" | "taskKey" | "data">,
) {
  await appendTrace(tx, {
    event: "agent.status_changed",
    actor: c.actor ?? `agent:${row.agentId}`,
    agentId: row.agentId,
    missionId: c.missionKey ?? null,
    taskId: c.taskKey ?? null,
    data: { from: row.from, to: row.status, reason: c.cause, ...(c.data ?? {}) },
  });
}

/**
 * A heartbeat from an `offline` agent brings it back as `idle`, with its entry. `ageMs`: how long ago the
 * heartbeat arrived; an agent that went offline after that (a `stop` that came later) stays offline.
 * Returns the row as it now is, or undefined when there is no such agent.
 */
export async function reviveByHeartbeat(database: Database, ref: Ref, ageMs = 0): Promise<repo.AgentView | undefined> {
  return database.db.transaction(async (tx) => {
    const revived = await changeStatus(tx, ref, {
      to: HEARTBEAT_STATUS,
      cause: CAUSE.heartbeat,
      reason: "heartbeat after being offline",
      actor: null,
      onlyFrom: [AGENT.offline],
      changedBeforeAgeMs: ageMs,
      seen: ageMs === 0,
    });
    if (revived) {
      const { from: _from, ...row } = revived;
      return row;
    }
    // Not offline (any more), or a heartbeat older than the change: it only proves the agent alive.
    return (await repo.heartbeat(tx, ref)) ?? (await repo.findAgentView(tx, ref));
  });
}

const secondsSince = (ms: number, now: number) => Math.max(0, Math.round((now - ms) / 1000));

/** The sentence a person reads for the agent's status right now. */
export function statusReasonOf(a: repo.AgentView, now = Date.now()): string {
  if (isWorking(a.status) && a.run) {
    const pid = a.run.pid === null ? "" : ` (pid ${a.run.pid})`;
    const out =
      a.run.last_output_at === null ? "no output yet" : `last output ${secondsSince(a.run.last_output_at, now)} s ago`;
    return `running ${a.run.task_id}${pid}, ${out}`;
  }
  if (isOffline(a.status) && a.statusCause === CAUSE.stale && a.lastSeenAt) {
    return `no heartbeat for ${secondsSince(a.lastSeenAt.getTime(), now)} s`;
  }
  if (a.statusReason) return a.statusReason;
  if (a.lastSeenAt === null) return "never heard from";
  return `${a.status}`;
}
