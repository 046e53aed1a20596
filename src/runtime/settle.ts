// How a run ends, written in one transaction each: the task (through tasks.runs), the dispatch row, the
// agent's activity (through agents.runs), the run token, and the trace entries. Invariants:
// - A run is settled once: by its worker (settleRun, settleStoppedRun) only while its dispatch is still this
//   owner's `running` row, locked first; a pause, cancel or successor's recovery that settled it meanwhile
//   wins, and nothing here is written then.
// - A crash (a run that did not end well) counts towards the worker's escalation: more than `max_restarts`
//   within `restart_window_s` escalate it; otherwise a run with retries left is dispatched again after its
//   backoff, as a new dispatch (`attempt` + 1).
// - The run's token dies with the run (a remote agent keeps its token for the work it accepted).
import type { Executor } from "../db/client.js";
import { agentForRun, runActivity, runReleasesAgent, type AgentRow } from "../agents/agents.runs.js";
import {
  acceptedByRemote,
  failRun,
  findTaskForRun,
  handedOver,
  interruptRun,
  recordRunOutputs,
  requeueFailedRun,
  submitRunForReview,
  traceDispatched,
} from "../tasks/tasks.runs.js";
import { appendTrace } from "../trace/trace.append.js";
import { assertNever } from "../core/assert-never.js";
import type { AdapterKind, RunOutcome } from "./adapters/types.js";
import { retryDelayMs, type AgentSettings } from "./agent-config.js";
import * as repo from "./dispatch.repo.js";
import { DISPATCH, succeededStatus } from "./dispatch.state.js";
import { RUNTIME_ACTOR } from "./runtime.types.js";
import type { ActiveRun, RunHost } from "./run.js";
import { AGENT } from "../agents/agents.state.js";
import { WORKER } from "./worker.state.js";

/** What a failed run does to its worker. */
export type AfterCrash = { retry: { delayMs: number } | null; escalate: string | null };

/** The worker's recent crashes, for its escalation. */
export class Crashes {
  private times: number[] = [];

  /** Counts a crash now: escalate past max_restarts within the window, else retry while retries are left. */
  record(s: AgentSettings, attempt: number): AfterCrash {
    const now = Date.now();
    this.times = this.times.filter((t) => now - t < s.restartWindowS * 1000);
    this.times.push(now);
    if (this.times.length > s.maxRestarts) {
      return {
        retry: null,
        escalate: `${this.times.length} crashes within ${s.restartWindowS} s (max_restarts ${s.maxRestarts})`,
      };
    }
    return { retry: attempt <= s.maxRetries ? { delayMs: retryDelayMs(s, attempt) } : null, escalate: null };
  }

  /** A person reset the agent. */
  forget() {
    this.times = [];
  }
}

/**
 * A run stopped without its own outcome (pause, cancel, shutdown, recovery): its agent is `idle` again,
 * unless another run (than these dispatches) still holds it.
 */
export async function releaseAgentOfStoppedRun(
  tx: Executor,
  agentId: number,
  keys: { actor?: string; mission: string | null; task: string | null },
  why: string,
  exceptDispatches: number[],
) {
  if (await repo.otherRunningOfAgent(tx, agentId, exceptDispatches)) return;
  await runReleasesAgent(
    tx,
    agentId,
    { actor: keys.actor ?? RUNTIME_ACTOR, missionKey: keys.mission, taskKey: keys.task },
    why,
  );
}

/** Writes how a run ended, then retries or escalates on a crash; tells the worker the run is over. */
export async function settleRun(
  host: RunHost,
  active: ActiveRun,
  end: {
    agent: AgentRow;
    kind: AdapterKind;
    settings: AgentSettings;
    outcome: RunOutcome;
    outputs: Record<string, unknown>;
  },
) {
  const { database, tokens, owner, log } = host.deps;
  const { agent: agentBefore, kind, outcome, outputs } = end;
  const d = active.dispatch;
  const { retry, escalate } = outcome.ok
    ? { retry: null, escalate: null }
    : host.crashes.record(end.settings, d.attempt);
  const run = { actor: RUNTIME_ACTOR, dispatchId: d.id };
  let settledElsewhere = false;
  try {
    await database.db.transaction(async (tx) => {
      // A pause or cancel (or a successor's recovery) may have settled this run in its own transaction
      // while it was ending: then it is theirs, and nothing here is written.
      if (!(await repo.lockRunning(tx, d.id, owner))) {
        settledElsewhere = true;
        return;
      }
      const agent = (await agentForRun(tx, host.agentId)) ?? agentBefore;
      let task = await findTaskForRun(tx, d.taskId, { lock: true });
      if (!task) return;
      const mission = task.missionKey;
      // A delivered webhook's token lives on: the remote agent reports with it. Its run is that remote work,
      // so the token is revoked when the task leaves in_progress (tasks.service -> revokeDeliveredRunTokens),
      // or the mission is paused or ends.
      if (kind !== "remote" || !outcome.ok) await tokens.revokeRunTokens(tx, [d.id]);
      const othersLive = host.othersLive(d.id);
      task = await recordRunOutputs(tx, task, outputs, run);
      if (outcome.ok) {
        switch (kind) {
          case "process":
            task = await submitRunForReview(tx, task, run);
            await runActivity(
              tx,
              agent,
              "task_complete",
              { task_id: task.taskId, mission_id: mission },
              {
                actor: RUNTIME_ACTOR,
                why: `run of ${task.taskId} finished`,
                ...(othersLive ? { status: AGENT.working } : {}),
              },
            );
            break;
          case "remote":
            task = await acceptedByRemote(tx, task, run);
            break;
          case "manual":
            task = await handedOver(tx, task, agent.agentId, run);
            break;
          default:
            assertNever(kind);
        }
        await repo.setDispatch(tx, d.id, { status: succeededStatus(kind), finishedAt: new Date(), owner: null });
        return;
      }
      task = await failRun(tx, task, outcome.reason, RUNTIME_ACTOR);
      await repo.setDispatch(tx, d.id, {
        status: DISPATCH.failed,
        reason: outcome.reason,
        finishedAt: new Date(),
        owner: null,
      });
      await runActivity(
        tx,
        agent,
        "error",
        { task_id: task.taskId, mission_id: mission, reason: outcome.reason },
        { actor: RUNTIME_ACTOR, why: `run of ${task.taskId} failed: ${outcome.reason}` },
      );
      if (escalate) {
        await appendTrace(tx, {
          event: "runtime.worker_escalated",
          actor: RUNTIME_ACTOR,
          missionId: mission,
          agentId: agent.agentId,
          data: { reason: escalate, last_failure: outcome.reason },
        });
        return;
      }
      if (!retry) return;
      const requeued = await requeueFailedRun(tx, task, {
        nextAttempt: d.attempt + 1,
        delayMs: retry.delayMs,
        actor: RUNTIME_ACTOR,
      });
      if (!requeued) return;
      const next = await repo.insertDispatch(tx, {
        taskId: d.taskId,
        missionId: d.missionId,
        agentId: d.agentId,
        attempt: d.attempt + 1,
        runAfter: new Date(Date.now() + retry.delayMs),
      });
      await traceDispatched(tx, requeued, agent.agentId, RUNTIME_ACTOR, {
        dispatch_id: next.id,
        attempt: next.attempt,
        retry_of: d.id,
        run_after: next.runAfter.toISOString(),
      });
    });
  } catch (err) {
    log.error({ err, dispatch: d.id }, "recording the end of a run failed");
  }
  const said = { task_id: active.taskKey, agent_id: agentBefore.agentId, dispatch_id: d.id, attempt: d.attempt };
  if (escalate)
    log.warn(
      { ...said, reason: escalate, last_failure: !outcome.ok ? outcome.reason : null },
      "agent worker escalated: it takes no more work until reset",
    );
  else if (retry)
    log.warn({ ...said, retry_in_ms: retry.delayMs, next_attempt: d.attempt + 1 }, "agent run will be retried");
  host.runEnded(d.id, settledElsewhere ? null : escalate ? WORKER.escalated : retry ? WORKER.restarting : null);
}

/** How a worker stops its runs (see AgentWorker.stop). */
export type StopMode = "requeue" | "cancel" | "settled" | "abandon";

/**
 * The database side of stopping one run (not for `abandon`): unless `settled` (the mission's move did it), a
 * run still ours has its task interrupted, its dispatch queued again (requeue) or cancelled, its token revoked
 * and its agent released; every stopped process gets its `runtime.run_stopped` entry.
 */
export async function settleStoppedRun(
  tx: Executor,
  host: RunHost,
  active: ActiveRun,
  stop: {
    mode: Exclude<StopMode, "abandon">;
    note: string;
    exit: string | null;
    graceMs: number;
    stopping: number[];
  },
) {
  const { mode, note } = stop;
  const d = active.dispatch;
  const task = await findTaskForRun(tx, d.taskId, { lock: mode !== "settled" });
  const keys = { mission: task?.missionKey ?? null, task: task?.taskId ?? null };
  if (mode !== "settled" && (await repo.lockRunning(tx, d.id, host.deps.owner))) {
    await interruptRun(tx, task, { note, actor: RUNTIME_ACTOR, via: "dispatch" });
    await repo.setDispatch(
      tx,
      d.id,
      mode === "requeue"
        ? { status: DISPATCH.queued, owner: null, pid: null, startedAt: null, lastOutputAt: null, reason: note }
        : { status: DISPATCH.cancelled, owner: null, reason: note, finishedAt: new Date() },
    );
    await host.deps.tokens.revokeRunTokens(tx, [d.id]);
    await releaseAgentOfStoppedRun(
      tx,
      host.agentId,
      keys,
      `run of ${keys.task ?? "a task"} stopped: ${note}`,
      stop.stopping,
    );
  }
  if (active.run) {
    await appendTrace(tx, {
      event: "runtime.run_stopped",
      actor: RUNTIME_ACTOR,
      missionId: keys.mission,
      taskId: keys.task,
      agentId: host.agentKey,
      data: { dispatch_id: d.id, pid: active.run.pid ?? null, exit: stop.exit, grace_ms: stop.graceMs, note },
    });
  }
}
