// The agent writes the runtime may ask for: what a run does to its agent (the activity the agent would have
// reported, `working` while a run holds it, `idle` when a stopped run no longer does) and the reads a run
// needs. Invariants: every status write goes through agents.repo writeStatus / agents.status changeStatus,
// so each change has its `agent.status_changed` entry in the caller's transaction; every `agent.*` entry a
// run causes is built here or in agents.status.ts.
import type { Executor } from "../db/client.js";
import { agents } from "../db/schema/index.js";
import { eq } from "drizzle-orm";
import { appendTrace } from "../trace/trace.append.js";
import { findAgent, writeStatus, type AgentRow } from "./agents.repo.js";
import { EVENT_STATUS, currentTaskEffect, type AgentEvent, type AgentStatus, AGENT } from "./agents.state.js";
import { changeStatus, traceStatusChange } from "./agents.status.js";

export type { AgentRow } from "./agents.repo.js";

/** The agent's row as a run reads it (its adapter and config). */
export function agentForRun(exec: Executor, id: number): Promise<AgentRow | undefined> {
  return findAgent(exec, id);
}

export async function agentKeyOf(exec: Executor, id: number): Promise<string | undefined> {
  const rows = await exec.select({ k: agents.agentId }).from(agents).where(eq(agents.id, id)).limit(1);
  return rows[0]?.k;
}

/** Where a run's entries go and what they name. */
export interface RunKeys {
  actor: string;
  missionKey: string | null;
  taskKey: string | null;
}

/**
 * Writes an agent's activity as if it had reported it: status (the event's, or `opts.status`: a session that
 * starts inside a run leaves the agent `working`), current task, `agent.activity` entry (context marked
 * `source: runtime`), and the `agent.status_changed` entry (reason `run`) when the status moved.
 */
export async function runActivity(
  tx: Executor,
  agent: Pick<AgentRow, "id" | "agentId">,
  event: Exclude<AgentEvent, "heartbeat">,
  context: { task_id?: string; mission_id?: string; reason?: string; session_id?: string },
  opts: { actor: string; why: string; status?: AgentStatus },
): Promise<void> {
  const effect = currentTaskEffect(event);
  const status = opts.status ?? EVENT_STATUS[event];
  const row = await writeStatus(tx, agent.id, {
    status,
    cause: "run",
    reason: opts.why,
    event,
    currentTask: effect === "set" ? { set: context.task_id ?? null } : effect === "clear" ? { set: null } : "keep",
    seen: true,
  });
  await appendTrace(tx, {
    event: "agent.activity",
    actor: opts.actor,
    agentId: agent.agentId,
    missionId: context.mission_id ?? null,
    taskId: context.task_id ?? null,
    data: { event, context: { ...context, source: "runtime" }, status },
  });
  if (row && row.from !== row.status) {
    await traceStatusChange(tx, row, {
      cause: "run",
      actor: opts.actor,
      missionKey: context.mission_id ?? null,
      taskKey: context.task_id ?? null,
    });
  }
}

/**
 * A run of an agent that announces its session started: the agent is `working` on the task now (its
 * session_start and task_start follow when the session does).
 */
export async function runHoldsAgent(tx: Executor, agentId: number, keys: RunKeys & { taskKey: string }) {
  await changeStatus(tx, agentId, {
    to: AGENT.working,
    cause: "run",
    reason: `running ${keys.taskKey}`,
    actor: keys.actor,
    currentTask: { set: keys.taskKey },
    seen: true,
    missionKey: keys.missionKey,
    taskKey: keys.taskKey,
  });
}

/**
 * A run stopped without its own outcome (pause, cancel, shutdown, recovery) and no other run holds the
 * agent (the caller checked): it is `idle` again. Only from `working`: what the agent reported itself stays.
 */
export async function runReleasesAgent(tx: Executor, agentId: number, keys: RunKeys, why: string) {
  await changeStatus(tx, agentId, {
    to: AGENT.idle,
    cause: "run",
    reason: why,
    actor: keys.actor,
    currentTask: { set: null },
    onlyFrom: [AGENT.working],
    missionKey: keys.missionKey,
    taskKey: keys.taskKey,
  });
}
