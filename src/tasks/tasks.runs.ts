// The task writes the runtime may ask for, and nothing else: execute's retry and agent choice, a run's start,
// its log lines, outputs and session, how it ended (review, hand-over, failure, retry), and an interruption
// (pause, shutdown, recovery, a mission's end). Invariants:
// - Every write runs on the caller's transaction (the one that also moves the dispatch row), and every
//   status change goes through `transitionTask`, so the state machine and its `task.status_changed` entry
//   hold for runs exactly as for requests.
// - Which task statuses a run's event moves from and to is decided here (with tasks.state.ts); the runtime
//   only says what happened. Every `task.*` entry a run causes is built here or in tasks.service.ts.
// - A run's `cost_usd` is added to what its task had spent before, so outputs.cost_usd is the task's total.
import { asc, eq, inArray, and } from "drizzle-orm";
import type { Executor } from "../db/client.js";
import { requirements, taskRequirements, tasks } from "../db/schema/index.js";
import type { Ref } from "../core/ids.js";
import { appendTrace } from "../trace/trace.append.js";
import * as repo from "./tasks.repo.js";
import { reportedEntry, transitionTask } from "./tasks.service.js";
import {
  ACCEPTED_BY_REMOTE,
  ENDED_WITH_MISSION,
  FAILED_BY_RUN,
  HANDED_OVER,
  isEndedWithMission,
  MISSION_END,
  type TaskStatus,
  type TransitionVia,
} from "./tasks.state.js";
import { TASK } from "./tasks.state.js";

export type { TaskView } from "./tasks.repo.js";
type TaskView = repo.TaskView;

export type RunLogLevel = "debug" | "info" | "warn" | "error";

/** Who writes, and for which dispatch (named in the entries a run causes). */
export interface RunActor {
  actor: string;
  dispatchId: number;
}

// Reads ------------------------------------------------------------------------------------------------

/** The task as a run sees it; `lock` takes its row FOR UPDATE first (see tasks.repo findTaskView). */
export function findTaskForRun(exec: Executor, ref: Ref, opts: { lock?: boolean } = {}): Promise<TaskView | undefined> {
  return repo.findTaskView(exec, ref, opts);
}

export async function taskKeyOf(exec: Executor, id: number): Promise<string | undefined> {
  const rows = await exec.select({ k: tasks.taskId }).from(tasks).where(eq(tasks.id, id)).limit(1);
  return rows[0]?.k;
}

/** The requirements a task serves, for its prompt. */
export async function requirementsOfTask(exec: Executor, taskId: number) {
  return exec
    .select({
      requirement_id: requirements.requirementId,
      title: requirements.title,
      description: requirements.description,
    })
    .from(taskRequirements)
    .innerJoin(requirements, eq(requirements.id, taskRequirements.requirementId))
    .where(eq(taskRequirements.taskId, taskId))
    .orderBy(asc(requirements.id));
}

/** Locks these tasks (in id order, as every path that locks several does). */
export async function lockTasks(exec: Executor, ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  await exec.select({ id: tasks.id }).from(tasks).where(inArray(tasks.id, ids)).orderBy(asc(tasks.id)).for("update");
}

/** Ids of the mission's tasks that its end fails, oldest first. */
export async function openTaskIdsOfMission(exec: Executor, missionId: number): Promise<number[]> {
  const rows = await exec
    .select({ id: tasks.id })
    .from(tasks)
    .where(and(eq(tasks.missionId, missionId), inArray(tasks.status, [...ENDED_WITH_MISSION])))
    .orderBy(asc(tasks.id));
  return rows.map((r) => r.id);
}

// Execute ----------------------------------------------------------------------------------------------

/** Executing a failed task retries it: back to `pending`, in the dispatch's transaction. */
export function retryByExecute(tx: Executor, task: TaskView, actor: string): Promise<TaskView> {
  return transitionTask(tx, task, TASK.pending, actor, { via: "execute", comment: "retried by execute" });
}

/** Execute chose the agent of a task that had none: assigned, with its `task.updated` entry. */
export async function assignDispatchedAgent(
  tx: Executor,
  task: TaskView,
  agent: { id: number; agentId: string },
  actor: string,
): Promise<TaskView> {
  const row = await repo.updateTask(tx, task.id, { agentId: agent.id });
  await appendTrace(tx, {
    event: "task.updated",
    actor,
    missionId: task.missionKey,
    taskId: task.taskId,
    agentId: agent.agentId,
    data: {
      changes: { agent_id: agent.agentId },
      via: "dispatch",
      reason: "least busy agent on the mission with the required capabilities",
    },
  });
  return { ...task, ...row, agentKey: agent.agentId };
}

/** The `task.dispatched` entry of a new dispatch (execute's, or a retry's). */
export async function traceDispatched(
  tx: Executor,
  task: Pick<TaskView, "missionKey" | "taskId">,
  agentKey: string,
  actor: string,
  data: { dispatch_id: number; attempt: number; awaiting_approval?: number; retry_of?: number; run_after?: string },
): Promise<void> {
  await appendTrace(tx, {
    event: "task.dispatched",
    actor,
    missionId: task.missionKey,
    taskId: task.taskId,
    agentId: agentKey,
    data,
  });
}

// A run ------------------------------------------------------------------------------------------------

/** A run starts: an agent that runs here has the task `in_progress` from now until the run ends. */
export async function startRun(tx: Executor, task: TaskView, run: RunActor & { runsHere: boolean }): Promise<TaskView> {
  if (!run.runsHere || task.status === TASK.in_progress) return task;
  return transitionTask(tx, task, TASK.in_progress, run.actor, {
    via: "dispatch",
    comment: `dispatch ${run.dispatchId} started`,
  });
}

/** A batch of the agent's output lines, with one `task.logged` entry. */
export async function appendRunLogs(
  tx: Executor,
  task: Pick<TaskView, "id" | "missionKey" | "taskId" | "agentKey">,
  lines: Array<{ level: RunLogLevel; message: string; timestamp: Date }>,
  actor: string,
): Promise<void> {
  await repo.insertLogs(
    tx,
    lines.map((l) => ({ taskId: task.id, ...l })),
  );
  await appendTrace(tx, {
    event: "task.logged",
    actor,
    missionId: task.missionKey,
    taskId: task.taskId,
    agentId: task.agentKey,
    data: { lines: lines.length, source: "agent output" },
  });
}

/** One line the runtime says about the run (no entry of its own: the move or event it explains has one). */
async function note(tx: Executor, task: TaskView, level: RunLogLevel, message: string) {
  await repo.insertLogs(tx, [{ taskId: task.id, message, level, timestamp: new Date() }]);
}

const costOf = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : null);

/** Outputs merged into the task (shallow) without moving it, with their `task.reported` entry. */
async function report(tx: Executor, task: TaskView, outputs: Record<string, unknown>, run: RunActor) {
  const moved = await transitionTask(tx, task, task.status, run.actor, { via: "dispatch", outputs });
  await appendTrace(
    tx,
    reportedEntry(moved, run.actor, { outputs, logsAdded: 0, via: "runtime", dispatchId: run.dispatchId }),
  );
  return moved;
}

/**
 * What the run produced, merged into the task's outputs as a report does. A run's `cost_usd` is added to the
 * task's earlier spend.
 */
export async function recordRunOutputs(
  tx: Executor,
  task: TaskView,
  outputs: Record<string, unknown>,
  run: RunActor,
): Promise<TaskView> {
  if (Object.keys(outputs).length === 0) return task;
  const merged = { ...outputs };
  const runCost = costOf(outputs.cost_usd);
  if (runCost !== null) merged.cost_usd = Math.round(((costOf(task.outputs.cost_usd) ?? 0) + runCost) * 1e6) / 1e6;
  return report(tx, task, merged, run);
}

/** The outputs of a run that was stopped: merged without touching the status (whoever stopped it decides). */
export async function recordStoppedRunOutputs(
  tx: Executor,
  taskId: number,
  outputs: Record<string, unknown>,
  run: RunActor,
): Promise<void> {
  const task = await repo.findTaskView(tx, taskId, { lock: true });
  if (task) await recordRunOutputs(tx, task, outputs, run);
}

/**
 * The agent's session started (its id, its model): on the task at once. Returns the task as it now is, or
 * undefined when it is gone.
 */
export async function recordRunSession(
  tx: Executor,
  taskId: number,
  outputs: Record<string, unknown>,
  run: RunActor,
): Promise<TaskView | undefined> {
  const task = await repo.findTaskView(tx, taskId, { lock: true });
  if (!task) return undefined;
  return Object.keys(outputs).length > 0 ? report(tx, task, outputs, run) : task;
}

async function moveIf(
  tx: Executor,
  task: TaskView,
  from: readonly TaskStatus[],
  to: TaskStatus,
  actor: string,
  comment: string,
) {
  if (!from.includes(task.status) || task.status === to) return task;
  return transitionTask(tx, task, to, actor, { via: "dispatch", comment });
}

/** A run here exited 0: the work goes to review, unless the agent's own reports already took it further. */
export function submitRunForReview(tx: Executor, task: TaskView, run: RunActor): Promise<TaskView> {
  return moveIf(
    tx,
    task,
    [TASK.in_progress],
    TASK.pending_review,
    run.actor,
    `agent finished (dispatch ${run.dispatchId})`,
  );
}

/** A remote agent accepted the task: it works on it now. */
export function acceptedByRemote(tx: Executor, task: TaskView, run: RunActor): Promise<TaskView> {
  return moveIf(
    tx,
    task,
    ACCEPTED_BY_REMOTE,
    TASK.in_progress,
    run.actor,
    `remote agent accepted dispatch ${run.dispatchId}`,
  );
}

/** The task was handed to an agent that pulls its work: back to `pending` for it, with `task.handed_over`. */
export async function handedOver(tx: Executor, task: TaskView, agentKey: string, run: RunActor): Promise<TaskView> {
  const moved = await moveIf(tx, task, HANDED_OVER, TASK.pending, run.actor, `handed over to ${agentKey}`);
  await appendTrace(tx, {
    event: "task.handed_over",
    actor: run.actor,
    missionId: moved.missionKey,
    taskId: moved.taskId,
    agentId: agentKey,
    data: { dispatch_id: run.dispatchId },
  });
  return moved;
}

/** The run failed: its reason in the logs, and the task failed unless it already went on to review. */
export async function failRun(tx: Executor, task: TaskView, reason: string, actor: string): Promise<TaskView> {
  await note(tx, task, "error", `run failed: ${reason}`);
  return moveIf(tx, task, FAILED_BY_RUN, TASK.failed, actor, reason);
}

/**
 * A failed run will be retried: the failed task back to `pending` with a line saying when. Null when the task
 * is not failed (nothing to retry); the caller then queues no new dispatch.
 */
export async function requeueFailedRun(
  tx: Executor,
  task: TaskView,
  retry: { nextAttempt: number; delayMs: number; actor: string },
): Promise<TaskView | null> {
  if (task.status !== TASK.failed) return null;
  const moved = await transitionTask(tx, task, TASK.pending, retry.actor, {
    via: "dispatch",
    comment: `retrying (attempt ${retry.nextAttempt})`,
  });
  await note(tx, moved, "warn", `retrying in ${Math.round(retry.delayMs / 1000)} s (attempt ${retry.nextAttempt})`);
  return moved;
}

/** A run was stopped before its end (pause, shutdown, recovery): a task in progress is blocked with the note. */
export async function interruptRun(
  tx: Executor,
  task: TaskView | undefined,
  why: { note: string; actor: string; via: TransitionVia },
): Promise<void> {
  if (!task || task.status !== TASK.in_progress) return;
  await note(tx, task, "warn", why.note);
  await transitionTask(tx, task, TASK.blocked, why.actor, { via: why.via, comment: why.note });
}

/** A mission ended: every task still open with it fails with the note (`pending_review` stays for its review). */
export async function failOpenTasksOfMission(tx: Executor, missionId: number, why: { note: string; actor: string }) {
  for (const id of await openTaskIdsOfMission(tx, missionId)) {
    const task = await repo.findTaskView(tx, id, { lock: true });
    if (!task || !isEndedWithMission(task.status)) continue;
    await note(tx, task, "warn", why.note);
    await transitionTask(tx, task, TASK.failed, why.actor, { via: MISSION_END, comment: why.note });
  }
}
