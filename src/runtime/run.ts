// One run of a claimed dispatch, from its start to its settlement. Invariants:
// - Set up in one transaction: the task moves to `in_progress` (agents that run here) and the agent is
//   `working` on it, or the dispatch is dropped (cancelled) when its task can no longer run.
// - The run's token acts on its task only and is revoked when the run ends, whoever ends it.
// - An agent with `config.repo` runs in its task's git worktree (adapters/worktree.ts), prepared before the
//   process starts and committed when it ends; the worktree is in use (never swept) exactly while the run is.
// - A run the worker is stopping (`active.stopping`) is settled by whoever stopped it; what it reported (its
//   cost above all) is still kept, unless the mission is no longer ours (`abandon`).
import { findMission } from "../missions/missions.lookup.js";
import { runActivity, runHoldsAgent, type AgentRow } from "../agents/agents.runs.js";
import { taskSummaryToApi } from "../tasks/tasks.service.js";
import { findTaskForRun, recordStoppedRunOutputs, requirementsOfTask, startRun } from "../tasks/tasks.runs.js";
import { isRunnable } from "../tasks/tasks.state.js";
import { createConflictRadar, relativePaths } from "../tasks/conflicts.js";
import { openRejection } from "../trace/trace.lookup.js";
import { adapterFor } from "./adapters/index.js";
import type { AdapterRun } from "./adapters/types.js";
import { worktreeConfig, type Worktree, type WorktreeConfig } from "./adapters/worktree.js";
import { binaryProblem, describeConfigErrors, parseAgentConfig, type AgentSettings } from "./agent-config.js";
import * as repo from "./dispatch.repo.js";
import { DISPATCH } from "./dispatch.state.js";
import { LogBuffer, RunSink } from "./run-output.js";
import { RUNTIME_ACTOR } from "./runtime.types.js";
import { settleRun, type Crashes, type StopMode } from "./settle.js";
import type { WorkerDeps } from "./worker.js";
import type { AfterRun } from "./worker.state.js";

/** A dispatch the worker has claimed, while it runs. */
export interface ActiveRun {
  dispatch: repo.DispatchRow;
  taskKey: string | null;
  run: AdapterRun | null;
  stopping: boolean;
  logs: LogBuffer | null;
}

/** What a run needs from its worker (AgentWorker). */
export interface RunHost {
  readonly deps: WorkerDeps;
  readonly missionId: number;
  readonly agentId: number;
  readonly agentKey: string;
  readonly crashes: Crashes;
  /** How the worker is being stopped, once it is. */
  readonly stopMode: StopMode | null;
  /** Whether other runs of the worker than this dispatch's are live (the agent stays `working`). */
  othersLive(dispatchId: number): boolean;
  /** The run's task is known: the worker's current tasks change. */
  taskKnown(): void;
  /** The run is over for the worker; `after` is what its end did to the worker. */
  runEnded(dispatchId: number, after: AfterRun): void;
}

const revokeFailed = (deps: WorkerDeps) => (err: unknown) => deps.log.error({ err }, "revoking a run token failed");

/** Sets up, runs and settles one claimed dispatch. */
export async function runDispatch(host: RunHost, active: ActiveRun, agent: AgentRow, settings: AgentSettings) {
  const { deps } = host;
  const { database, tokens } = deps;
  const d = active.dispatch;
  const adapter = adapterFor(agent.adapterModule);
  const runsHere = adapter.kind === "process";
  const run = { actor: RUNTIME_ACTOR, dispatchId: d.id };

  const setup = await database.db.transaction(async (tx) => {
    const found = await findTaskForRun(tx, d.taskId, { lock: true });
    const mission = await findMission(tx, d.missionId);
    if (!found || !mission || !isRunnable(found.status)) {
      await repo.setDispatch(tx, d.id, {
        status: DISPATCH.cancelled,
        reason: `task is ${found?.status ?? "gone"}`,
        finishedAt: new Date(),
        owner: null,
      });
      return null;
    }
    const task = await startRun(tx, found, { ...run, runsHere });
    // A run is proof of life: the agent is working on the task from now until the run ends. An agent that
    // announces its session says task_start when the session starts (RunSink).
    if (runsHere && !adapter.sessions) {
      await runActivity(
        tx,
        agent,
        "task_start",
        { task_id: task.taskId, mission_id: mission.missionId },
        { actor: RUNTIME_ACTOR, why: `running ${task.taskId}` },
      );
    } else if (runsHere) {
      await runHoldsAgent(tx, agent.id, { actor: RUNTIME_ACTOR, missionKey: mission.missionId, taskKey: task.taskId });
    }
    return { task, mission };
  });
  if (!setup) {
    host.runEnded(d.id, null);
    return;
  }
  const { task, mission } = setup;
  active.taskKey = task.taskId;
  host.taskKnown();
  const token = await tokens.issueRunToken(agent.id, (settings.timeoutS ?? 24 * 3600) + 600, `run-${d.id}`, {
    taskId: task.id,
    dispatchId: d.id,
  });
  const logs = new LogBuffer(database, task, (err) => deps.log.error({ err }, "writing agent output failed"));
  active.logs = logs;
  // The conflict radar (src/tasks/conflicts.ts): the files the agent's Write/Edit calls name, as they
  // happen, and the worktree's diff once the run is recorded.
  const radar = createConflictRadar(database, RUNTIME_ACTOR);
  let worktree: { wt: Worktree; cfg: WorktreeConfig } | null = null;
  let touched: Promise<void> = Promise.resolve();
  const onFiles = (files: string[]) => {
    const wt = worktree?.wt;
    if (!wt) return;
    const rel = relativePaths(wt.path, files);
    touched = touched
      .then(() => radar.recordTouchedFiles(task.id, wt.repo, rel))
      .catch((err) => deps.log.error({ err, task: task.taskId }, "conflict radar failed"));
  };
  const sink = new RunSink(deps, logs, {
    onFiles,
    agent,
    task,
    dispatchId: d.id,
    announcesSession: runsHere && adapter.sessions === true,
    stopping: () => active.stopping,
  });
  const settle = (outcome: Parameters<typeof settleRun>[2]["outcome"], outputs: Record<string, unknown>) =>
    settleRun(host, active, { agent, kind: adapter.kind, settings, outcome, outputs });

  // The config was checked when it was written; a row from before that check, or a CLI binary that is not
  // (or no longer) on this server, fails the run at once with the reason.
  const parsed = parseAgentConfig(agent.adapterModule, agent.config);
  const unusable = parsed.ok
    ? binaryProblem(agent.adapterModule, agent.config)
    : `agent config: ${describeConfigErrors(parsed.errors)}`;
  if (unusable !== null) {
    deps.log.warn(
      { task_id: task.taskId, agent_id: agent.agentId, dispatch_id: d.id, reason: unusable },
      "run cannot start",
    );
    await settle({ ok: false, reason: unusable }, {});
    return;
  }

  // An agent with config.repo works in its task's own worktree: prepared before the process starts.
  let config = agent.config;
  if (runsHere) {
    const cfg = worktreeConfig(agent.config);
    let problem: string | null = null;
    if (cfg && "error" in cfg) problem = cfg.error;
    else if (cfg && !deps.worktrees) problem = "agent config.repo is set, but this server has no worktree directory";
    else if (cfg && deps.worktrees) {
      try {
        const wt = await deps.worktrees.prepare(cfg, task, agent);
        worktree = { wt, cfg };
        config = { ...agent.config, cwd: wt.path };
        logs.push(
          "info",
          wt.reused
            ? `continuing in worktree ${wt.path} on branch ${wt.branch}`
            : `working in worktree ${wt.path} on new branch ${wt.branch} from ${wt.base}`,
        );
      } catch (err) {
        problem = `worktree: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
    if (problem !== null || active.stopping) {
      if (worktree) deps.worktrees?.release(worktree.wt);
      await logs.flush();
      if (active.stopping) {
        await tokens.revokeRunTokens(database.db, [d.id]).catch(revokeFailed(deps));
        return;
      }
      await settle({ ok: false, reason: problem! }, {});
      return;
    }
  }

  const reqs = await requirementsOfTask(database.db, task.id).catch(() => []);
  // A rerun after a rejection: the reviewer's comment goes into the agent's prompt.
  const review = await openRejection(database.db, task.taskId).catch(() => null);
  const started = adapter.start({
    task: taskSummaryToApi(task),
    mission: { id: mission.id, mission_id: mission.missionId, goal: mission.goal },
    requirements: reqs,
    review,
    agent: { id: agent.id, agent_id: agent.agentId, adapter_module: agent.adapterModule, config },
    dispatchId: d.id,
    attempt: d.attempt,
    apiUrl: deps.apiUrl(),
    agentToken: token,
    log: (level, message) => sink.push({ type: "log", level, message }),
    emit: (event) => sink.push(event),
  });
  active.run = started;
  const startedAt = Date.now();
  const said = {
    task_id: task.taskId,
    agent_id: agent.agentId,
    mission_id: mission.missionId,
    dispatch_id: d.id,
    attempt: d.attempt,
  };
  // `run_pid`, not `pid`: pino writes its own process's pid under `pid`, and a second key of that name would hide it.
  deps.log.info({ ...said, adapter: agent.adapterModule, run_pid: started.pid ?? null }, "agent run started");
  if (started.pid !== undefined) await repo.setDispatch(database.db, d.id, { pid: started.pid });
  if (active.stopping) void started.stop(settings.stopGraceMs);
  const outcome = await started.done;
  sink.close();
  // A stopped run's token may have been issued after whoever stopped it revoked the mission's tokens.
  if (active.stopping) await tokens.revokeRunTokens(database.db, [d.id]).catch(revokeFailed(deps));
  const ended = { ...said, run_pid: started.pid ?? null, duration_ms: Date.now() - startedAt };
  if (active.stopping) deps.log.info(ended, "agent run stopped");
  else if (outcome.ok) deps.log.info(ended, "agent run succeeded");
  else deps.log.warn({ ...ended, reason: outcome.reason }, "agent run failed");
  await sink.drain();
  await logs.flush();

  // The run is over: what the agent left in its worktree is committed and measured.
  let outputs = { ...sink.outputs };
  if (worktree && !active.stopping) {
    try {
      const fin = await deps.worktrees!.finish(worktree.wt, worktree.cfg, {
        objective: task.objective,
        taskKey: task.taskId,
        agentKey: agent.agentId,
      });
      for (const n of fin.notes) logs.push(n.level, n.message);
      outputs = { ...outputs, ...fin.outputs };
    } catch (err) {
      logs.push("warn", `recording the worktree failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    await logs.flush();
  }
  if (worktree) deps.worktrees?.release(worktree.wt);
  if (active.stopping) {
    // The session's outputs are on the task already.
    const { session_id: _s, model: _m, ...rest } = outputs;
    if (Object.keys(rest).length > 0 && host.stopMode !== "abandon") {
      await keepStoppedOutputs(deps, d, outputs);
      if (costOf(outputs.cost_usd) !== null) void deps.afterCost?.(host.missionId).catch(() => {});
    }
    return;
  }
  await settle(outcome, outputs);
  await touched;
  if (worktree)
    await radar.check(task.id).catch((err) => deps.log.error({ err, task: task.taskId }, "conflict radar failed"));
  if (costOf(outputs.cost_usd) !== null) {
    void deps.afterCost?.(host.missionId).catch((err) => deps.log.error({ err }, "checking the mission budget failed"));
  }
}

const costOf = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : null);

/** Outputs of a run that was stopped: merged without touching the status (whoever stopped it decides). */
async function keepStoppedOutputs(deps: WorkerDeps, d: repo.DispatchRow, outputs: Record<string, unknown>) {
  await deps.database.db
    .transaction((tx) => recordStoppedRunOutputs(tx, d.taskId, outputs, { actor: RUNTIME_ACTOR, dispatchId: d.id }))
    .catch((err) => deps.log.error({ err, dispatch: d.id }, "recording a stopped run's outputs failed"));
}
