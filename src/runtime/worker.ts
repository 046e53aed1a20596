// One agent's worker inside a mission supervisor. Invariants:
// - It runs at most `max_concurrency` dispatches at a time, claimed from the database oldest first; a
//   dispatch row is `running` exactly while this worker has a run for it (or until a successor recovers it
//   after this process died).
// - Every outcome is written in one transaction: task status, dispatch row, agent activity, trace entries.
// - More than `max_restarts` crashes within `restart_window_s` escalate the worker: it stops taking work,
//   the agent's status becomes `error`, and the trace says why. Queued work stays queued.
// - Nothing here throws out of the worker: a failure is logged and the worker goes on.
// - What a run says arrives as normalized events (adapters/events.ts), applied in order by its RunSink; the
//   outputs they carry (and the worktree's branch, commit and diff stats) are written with the run's final
//   status, in the same transaction. A run's `cost_usd` is added to what its task had spent before.
// - An agent with `config.repo` runs in its task's git worktree (adapters/worktree.ts), prepared before the
//   process starts and committed when it ends; the worktree is in use (never swept) exactly while the run is.
import { asc, eq } from "drizzle-orm";
import type { FastifyBaseLogger } from "fastify";
import type { Database, Executor } from "../db/client.js";
import { findMission } from "../missions/missions.repo.js";
import { findAgent, writeStatus, type AgentRow } from "../agents/agents.repo.js";
import { EVENT_STATUS, currentTaskEffect, type AgentEvent, type AgentStatus } from "../agents/agents.state.js";
import { changeStatus, traceStatusChange } from "../agents/agents.status.js";
import { heartbeatsFor } from "../agents/heartbeats.js";
import { findTaskView, insertLogs, type TaskView } from "../tasks/tasks.repo.js";
import { taskSummaryToApi, transitionTask } from "../tasks/tasks.service.js";
import type { TaskStatus } from "../tasks/tasks.state.js";
import { appendTrace } from "../trace/trace.service.js";
import { openRejection } from "../trace/trace.lookup.js";
import { createConflictRadar, relativePaths } from "../tasks/conflicts.js";
import type { TokensService } from "../tokens/tokens.service.js";
import { requirements, taskRequirements } from "../db/schema/index.js";
import { defined, isObj } from "./adapters/events.js";
import { adapterFor } from "./adapters/index.js";
import type { AdapterKind, AdapterRun, LogLevel, RunEvent, RunOutcome } from "./adapters/types.js";
import { worktreeConfig, type WorktreeConfig, type Worktree, type Worktrees } from "./adapters/worktree.js";
import * as repo from "./dispatch.repo.js";
import { binaryProblem, describeConfigErrors, parseAgentConfig } from "./agent-config.js";

export type WorkerState = "idle" | "running" | "restarting" | "stopped" | "escalated";

export const RUNTIME_ACTOR = "runtime";

export interface AgentSettings {
  maxConcurrency: number;
  maxRetries: number;
  maxRestarts: number;
  restartWindowS: number;
  stopGraceMs: number;
  timeoutS: number | null;
}

function num(v: unknown, def: number, min: number): number {
  return typeof v === "number" && Number.isFinite(v) && v >= min ? v : def;
}

export function agentSettings(config: Record<string, unknown>): AgentSettings {
  return {
    maxConcurrency: Math.floor(num(config.max_concurrency, 1, 1)),
    maxRetries: Math.floor(num(config.max_retries, 0, 0)),
    maxRestarts: Math.floor(num(config.max_restarts, 5, 0)),
    restartWindowS: num(config.restart_window_s, 60, 1),
    stopGraceMs: num(config.stop_grace_s, 5, 0) * 1000,
    timeoutS: typeof config.timeout_s === "number" && config.timeout_s > 0 ? config.timeout_s : null,
  };
}

/** Backoff before retry n (1-based): 1 s, 2 s, 4 s … capped at 60 s, or config.retry_backoff_s as the base. */
export function retryDelayMs(config: Record<string, unknown>, retry: number): number {
  const base = num(config.retry_backoff_s, 1, 0) * 1000;
  return Math.min(base * 2 ** (retry - 1), 60_000);
}

export interface WorkerDeps {
  database: Database;
  tokens: TokensService;
  log: FastifyBaseLogger;
  owner: string;
  apiUrl(): string;
  /** Worktrees for agents with `config.repo`; without them such runs fail with a reason that says so. */
  worktrees?: Worktrees;
  /** Called (not awaited) after a run recorded a cost: the mission's budget check. */
  afterCost?(missionId: number): Promise<void>;
}

/**
 * Writes an agent's activity as if it had reported it: status (the event's, or `opts.status`: a session that
 * starts inside a run leaves the agent `working`), current task, `agent.activity` entry, and the
 * `agent.status_changed` entry (reason `run`) when the status moved.
 */
export async function runtimeActivity(
  tx: Executor,
  agent: AgentRow,
  event: Exclude<AgentEvent, "heartbeat">,
  context: { task_id?: string; mission_id?: string; reason?: string; session_id?: string },
  opts: { why: string; status?: AgentStatus },
) {
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
    actor: RUNTIME_ACTOR,
    agentId: agent.agentId,
    missionId: context.mission_id ?? null,
    taskId: context.task_id ?? null,
    data: { event, context: { ...context, source: "runtime" }, status },
  });
  if (row && row.from !== row.status) {
    await traceStatusChange(tx, row, {
      cause: "run",
      actor: RUNTIME_ACTOR,
      missionKey: context.mission_id ?? null,
      taskKey: context.task_id ?? null,
    });
  }
}

/**
 * A run of the agent stopped without its own outcome (pause, cancel, shutdown, recovery): the agent is `idle`
 * again, unless another run still holds it. Only from `working`: what the agent reported itself stays.
 */
export async function runStoppedStatus(
  tx: Executor,
  agentId: number,
  keys: { mission: string | null; task: string | null },
  why: string,
  exceptDispatches: number[],
) {
  if (await repo.otherRunningOfAgent(tx, agentId, exceptDispatches)) return;
  await changeStatus(tx, agentId, {
    to: "idle",
    cause: "run",
    reason: why,
    actor: RUNTIME_ACTOR,
    currentTask: { set: null },
    onlyFrom: ["working"],
    missionKey: keys.mission,
    taskKey: keys.task,
  });
}

async function addLog(tx: Executor, task: TaskView, level: LogLevel, message: string) {
  await insertLogs(tx, [{ taskId: task.id, message, level, timestamp: new Date() }]);
}

const costOf = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : null);

/**
 * Merges what a run produced into the task's outputs (shallow, as a report does) with a `task.reported`
 * entry. A run's `cost_usd` is added to the task's earlier spend, so outputs.cost_usd is the task's total.
 */
async function mergeRunOutputs(
  tx: Executor,
  task: TaskView,
  outputs: Record<string, unknown>,
  dispatchId: number,
): Promise<TaskView> {
  const merged = { ...outputs };
  const runCost = costOf(outputs.cost_usd);
  if (runCost !== null) merged.cost_usd = Math.round(((costOf(task.outputs.cost_usd) ?? 0) + runCost) * 1e6) / 1e6;
  const moved = await transitionTask(tx, task, task.status as TaskStatus, RUNTIME_ACTOR, {
    via: "dispatch",
    outputs: merged,
  });
  await appendTrace(tx, {
    event: "task.reported",
    actor: RUNTIME_ACTOR,
    missionId: task.missionKey,
    taskId: task.taskId,
    agentId: task.agentKey,
    data: { outputs: merged, logs_added: 0, via: "runtime", dispatch_id: dispatchId },
  });
  return moved;
}

/** The requirements a task serves, for its prompt. */
async function requirementsOf(exec: Executor, taskId: number) {
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

/** Collects output lines and writes them in batches, so a chatty agent costs a statement per batch. */
class LogBuffer {
  private lines: Array<{ level: LogLevel; message: string; timestamp: Date }> = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  constructor(
    private readonly database: Database,
    private readonly task: TaskView,
    private readonly onError: (err: unknown) => void,
  ) {}
  push(level: LogLevel, message: string) {
    this.lines.push({ level, message: message.slice(0, 16_384), timestamp: new Date() });
    if (this.lines.length >= 200) void this.flush();
    else if (!this.timer) this.timer = setTimeout(() => void this.flush(), 250);
  }
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.lines;
    this.lines = [];
    if (batch.length === 0) return this.flushing;
    this.flushing = this.flushing.then(() =>
      this.database.db
        .transaction(async (tx) => {
          await insertLogs(
            tx,
            batch.map((l) => ({ taskId: this.task.id, ...l })),
          );
          await appendTrace(tx, {
            event: "task.logged",
            actor: RUNTIME_ACTOR,
            missionId: this.task.missionKey,
            taskId: this.task.taskId,
            agentId: this.task.agentKey,
            data: { lines: batch.length, source: "agent output" },
          });
        })
        .catch(this.onError),
    );
    return this.flushing;
  }
}

/** A run's `last_output_at` is written at most this often (the agent's `last_seen_at` goes through the heartbeat coalescer). */
const TOUCH_EVERY_MS = 1_000;

/**
 * Applies one run's normalized events (adapters/events.ts) in the order they came: log lines through the
 * LogBuffer; a session as the agent's `session_start` then `task_start` with `session_id`/`model` merged into
 * the task at once; tool use as a log line and a (throttled, untraced) heartbeat; outputs and the result
 * gathered in `outputs`, written with the run's final status. Database work is chained, so it stays in
 * order; a failure is logged and the run goes on. Nothing is written for a run that is being stopped.
 */
class RunSink {
  readonly outputs: Record<string, unknown> = {};
  private sessionStarted = false;
  private chain: Promise<void> = Promise.resolve();
  private lastTouch = 0;
  private touchTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly deps: WorkerDeps,
    private readonly logs: LogBuffer,
    private readonly run: {
      agent: AgentRow;
      task: TaskView;
      dispatchId: number;
      announcesSession: boolean;
      stopping(): boolean;
      /** Files a tool call wrote (the conflict radar). */
      onFiles?(files: string[]): void;
    },
  ) {}

  push(e: RunEvent): void {
    try {
      this.alive();
      switch (e.type) {
        case "log":
          this.logs.push(e.level, String(e.message));
          return;
        case "tool":
          this.logs.push(e.level ?? "info", String(e.message));
          if (e.files && e.files.length > 0 && !this.run.stopping()) this.run.onFiles?.(e.files);
          return;
        case "outputs":
        case "result":
          if (isObj(e.outputs)) Object.assign(this.outputs, e.outputs);
          return;
        case "session":
          this.session(e.sessionId, e.model ?? null);
          return;
      }
    } catch (err) {
      this.deps.log.error({ err }, "applying an agent event failed");
    }
  }

  /** Everything queued so far has been written. */
  drain(): Promise<void> {
    return this.chain;
  }

  private enqueue(what: string, fn: () => Promise<unknown>) {
    this.chain = this.chain
      .then(async () => {
        if (this.run.stopping()) return;
        await fn();
      })
      .catch((err) => this.deps.log.error({ err }, what));
  }

  /**
   * Every line or event of the run is a sign of life: the agent's `last_seen_at` through the heartbeat
   * coalescer (in memory, written twice a second), the run's `last_output_at` at most once a second (with a
   * trailing write, so the last output is never more than a second behind).
   */
  private alive() {
    if (this.run.stopping()) return;
    heartbeatsFor(this.deps.database)
      .beat(this.run.agent.id)
      .catch((err) => this.deps.log.error({ err }, "recording the run's sign of life failed"));
    const wait = this.lastTouch + TOUCH_EVERY_MS - Date.now();
    if (wait <= 0) {
      this.lastTouch = Date.now();
      this.enqueue("recording the run's last output failed", () =>
        repo.touchOutput(this.deps.database.db, this.run.dispatchId),
      );
    } else if (!this.touchTimer) {
      this.touchTimer = setTimeout(() => {
        this.touchTimer = null;
        this.alive();
      }, wait);
      this.touchTimer.unref();
    }
  }

  /** The run is over: no more writes of its liveness. */
  close() {
    if (this.touchTimer) clearTimeout(this.touchTimer);
    this.touchTimer = null;
  }

  private session(sessionId: string | null, model: string | null) {
    const outputs = defined({ session_id: sessionId, model });
    Object.assign(this.outputs, outputs);
    const first = !this.sessionStarted;
    this.sessionStarted = true;
    const { task, agent, dispatchId } = this.run;
    this.enqueue("recording the agent's session failed", () =>
      this.deps.database.db.transaction(async (tx) => {
        const t = await findTaskView(tx, task.id, { lock: true });
        if (!t) return;
        if (Object.keys(outputs).length > 0) {
          await transitionTask(tx, t, t.status as TaskStatus, RUNTIME_ACTOR, { via: "dispatch", outputs });
          await appendTrace(tx, {
            event: "task.reported",
            actor: RUNTIME_ACTOR,
            missionId: t.missionKey,
            taskId: t.taskId,
            agentId: t.agentKey,
            data: { outputs, logs_added: 0, via: "runtime", dispatch_id: dispatchId },
          });
        }
        if (!first || !this.run.announcesSession) return;
        const a = (await findAgent(tx, agent.id)) ?? agent;
        const context = {
          task_id: t.taskId,
          mission_id: t.missionKey,
          ...(sessionId ? { session_id: sessionId } : {}),
        };
        // The run holds the agent: it stays working through its session's start.
        const why = `running ${t.taskId}`;
        await runtimeActivity(tx, a, "session_start", context, { why, status: "working" });
        await runtimeActivity(tx, a, "task_start", context, { why });
      }),
    );
  }
}

interface ActiveRun {
  dispatch: repo.DispatchRow;
  taskKey: string | null;
  run: AdapterRun | null;
  stopping: boolean;
  logs: LogBuffer | null;
}

export class AgentWorker {
  state: WorkerState = "idle";
  currentTaskIds: string[] = [];
  private runs = new Map<number, ActiveRun>();
  private crashes: number[] = [];
  private pumping = false;
  private again = false;
  private stopped = false;
  private stopMode: "requeue" | "cancel" | "settled" | "abandon" | null = null;
  private poll: NodeJS.Timeout;

  constructor(
    private readonly deps: WorkerDeps,
    readonly missionId: number,
    readonly agentId: number,
    readonly agentKey: string,
  ) {
    // Signals wake the worker at once; this slow poll only catches what a lost signal or a backoff delayed.
    this.poll = setInterval(() => this.wake(), 1_000);
    this.poll.unref();
  }

  view() {
    return { agent_id: this.agentKey, state: this.state, current_task_id: this.currentTaskIds[0] ?? null };
  }

  wake(): void {
    if (this.stopped || this.state === "escalated") return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    void this.pump()
      .catch((err) => this.deps.log.error({ err, agent: this.agentKey }, "worker pump failed"))
      .finally(() => {
        this.pumping = false;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  private async pump() {
    const { database, owner } = this.deps;
    for (;;) {
      if (this.stopped || this.state === "escalated") return;
      const agent = await findAgent(database.db, this.agentId);
      if (!agent) return;
      const settings = agentSettings(agent.config);
      if (this.runs.size >= settings.maxConcurrency) return;
      const d = await repo.claimNext(database.db, this.missionId, this.agentId, owner);
      // A run that ended while this pass awaited the database may have stopped or escalated the worker:
      // that state stands, and a dispatch claimed meanwhile goes back to the queue untouched.
      if (this.halted()) {
        if (d) await repo.unclaim(database.db, d.id, owner);
        return;
      }
      if (!d) {
        if (this.runs.size === 0 && this.state === "running") this.state = "idle";
        return;
      }
      const active: ActiveRun = { dispatch: d, taskKey: null, run: null, stopping: false, logs: null };
      this.runs.set(d.id, active);
      this.state = "running";
      void this.execute(active, agent).catch((err) => this.deps.log.error({ err, dispatch: d.id }, "run failed"));
    }
  }

  /** Stopped or escalated: the worker takes no work. A method, so a check after an await reads the state anew. */
  private halted(): boolean {
    return this.stopped || this.state === "escalated";
  }

  private refreshCurrent() {
    this.currentTaskIds = [...this.runs.values()].flatMap((r) => (r.taskKey ? [r.taskKey] : []));
  }

  private async execute(active: ActiveRun, agent: AgentRow) {
    const { database, tokens } = this.deps;
    const d = active.dispatch;
    const adapter = adapterFor(agent.adapterModule);
    const settings = agentSettings(agent.config);

    // Set up inside one transaction: the task moves to in_progress (for agents that run here) and the
    // agent says task_start, or the dispatch is dropped if the task can no longer run.
    const setup = await database.db.transaction(async (tx) => {
      const task = await findTaskView(tx, d.taskId, { lock: true });
      const mission = await findMission(tx, d.missionId);
      if (!task || !mission || !["pending", "blocked", "rejected", "in_progress"].includes(task.status)) {
        await repo.setDispatch(tx, d.id, {
          status: "cancelled",
          reason: `task is ${task?.status ?? "gone"}`,
          finishedAt: new Date(),
          owner: null,
        });
        return null;
      }
      let t = task;
      if (adapter.kind === "process" && t.status !== "in_progress") {
        t = await transitionTask(tx, t, "in_progress", RUNTIME_ACTOR, {
          via: "dispatch",
          comment: `dispatch ${d.id} started`,
        });
      }
      // A run is proof of life: the agent is working on the task from now until the run ends. An agent that
      // announces its session says task_start when the session starts (RunSink).
      if (adapter.kind === "process" && !adapter.sessions) {
        await runtimeActivity(
          tx,
          agent,
          "task_start",
          { task_id: t.taskId, mission_id: mission.missionId },
          { why: `running ${t.taskId}` },
        );
      } else if (adapter.kind === "process") {
        await changeStatus(tx, agent.id, {
          to: "working",
          cause: "run",
          reason: `running ${t.taskId}`,
          actor: RUNTIME_ACTOR,
          currentTask: { set: t.taskId },
          seen: true,
          missionKey: mission.missionId,
          taskKey: t.taskId,
        });
      }
      return { task: t, mission };
    });
    if (!setup) {
      this.finishRun(d.id);
      return;
    }
    const { task, mission } = setup;
    active.taskKey = task.taskId;
    this.refreshCurrent();
    // The run's token acts on this task only and is revoked when the run ends (settle, stop, recovery).
    const token = await tokens.issueRunToken(agent.id, (settings.timeoutS ?? 24 * 3600) + 600, `run-${d.id}`, {
      taskId: task.id,
      dispatchId: d.id,
    });
    const logs = new LogBuffer(database, task, (err) => this.deps.log.error({ err }, "writing agent output failed"));
    active.logs = logs;
    // The conflict radar (src/tasks/conflicts.ts): the files the agent's Write/Edit calls name, as they
    // happen, and the worktree's diff once the run is recorded.
    const radar = createConflictRadar(database, RUNTIME_ACTOR);
    let touched: Promise<void> = Promise.resolve();
    const onFiles = (files: string[]) => {
      const wt = worktree?.wt;
      if (!wt) return;
      const rel = relativePaths(wt.path, files);
      touched = touched
        .then(() => radar.recordTouchedFiles(task.id, wt.repo, rel))
        .catch((err) => this.deps.log.error({ err, task: task.taskId }, "conflict radar failed"));
    };
    const sink = new RunSink(this.deps, logs, {
      onFiles,
      agent,
      task,
      dispatchId: d.id,
      announcesSession: adapter.kind === "process" && adapter.sessions === true,
      stopping: () => active.stopping,
    });

    // The config was checked when it was written; a row from before that check, or a CLI binary that is not
    // (or no longer) on this server, fails the run at once with the reason.
    const parsed = parseAgentConfig(agent.adapterModule, agent.config);
    const unusable = parsed.ok
      ? binaryProblem(agent.adapterModule, agent.config)
      : `agent config: ${describeConfigErrors(parsed.errors)}`;
    if (unusable !== null) {
      this.deps.log.warn(
        { task_id: task.taskId, agent_id: agent.agentId, dispatch_id: d.id, reason: unusable },
        "run cannot start",
      );
      await this.settle(active, agent, adapter.kind, { ok: false, reason: unusable }, {});
      return;
    }

    // An agent with config.repo works in its task's own worktree: prepared before the process starts.
    let worktree: { wt: Worktree; cfg: WorktreeConfig } | null = null;
    let config = agent.config;
    if (adapter.kind === "process") {
      const cfg = worktreeConfig(agent.config);
      let problem: string | null = null;
      if (cfg && "error" in cfg) problem = cfg.error;
      else if (cfg && !this.deps.worktrees)
        problem = "agent config.repo is set, but this server has no worktree directory";
      else if (cfg && this.deps.worktrees) {
        try {
          const wt = await this.deps.worktrees.prepare(cfg, task, agent);
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
        if (worktree) this.deps.worktrees?.release(worktree.wt);
        await logs.flush();
        if (active.stopping) {
          await tokens
            .revokeRunTokens(database.db, [d.id])
            .catch((err) => this.deps.log.error({ err }, "revoking a run token failed"));
          return;
        }
        await this.settle(active, agent, adapter.kind, { ok: false, reason: problem! }, {});
        return;
      }
    }

    const api = taskSummaryToApi(task);
    const reqs = await requirementsOf(database.db, task.id).catch(() => []);
    // A rerun after a rejection: the reviewer's comment goes into the agent's prompt.
    const review = await openRejection(database.db, task.taskId).catch(() => null);
    const run = adapter.start({
      task: api,
      mission: { id: mission.id, mission_id: mission.missionId, goal: mission.goal },
      requirements: reqs,
      review,
      agent: { id: agent.id, agent_id: agent.agentId, adapter_module: agent.adapterModule, config },
      dispatchId: d.id,
      attempt: d.attempt,
      apiUrl: this.deps.apiUrl(),
      agentToken: token,
      log: (level, message) => sink.push({ type: "log", level, message }),
      emit: (event) => sink.push(event),
    });
    active.run = run;
    const startedAt = Date.now();
    const said = {
      task_id: task.taskId,
      agent_id: agent.agentId,
      mission_id: mission.missionId,
      dispatch_id: d.id,
      attempt: d.attempt,
    };
    this.deps.log.info({ ...said, adapter: agent.adapterModule, pid: run.pid ?? null }, "agent run started");
    if (run.pid !== undefined) await repo.setDispatch(database.db, d.id, { pid: run.pid });
    if (active.stopping) void run.stop(settings.stopGraceMs);
    const outcome = await run.done;
    sink.close();
    // A stopped run's token may have been issued after whoever stopped it revoked the mission's tokens.
    if (active.stopping)
      await tokens
        .revokeRunTokens(database.db, [d.id])
        .catch((err) => this.deps.log.error({ err }, "revoking a run token failed"));
    const ended = { ...said, pid: run.pid ?? null, duration_ms: Date.now() - startedAt };
    if (active.stopping) this.deps.log.info(ended, "agent run stopped");
    else if (outcome.ok) this.deps.log.info(ended, "agent run succeeded");
    else this.deps.log.warn({ ...ended, reason: outcome.reason }, "agent run failed");
    await sink.drain();
    await logs.flush();

    // The run is over: what the agent left in its worktree is committed and measured.
    let outputs = { ...sink.outputs };
    if (worktree && !active.stopping) {
      try {
        const fin = await this.deps.worktrees!.finish(worktree.wt, worktree.cfg, {
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
    if (worktree) this.deps.worktrees?.release(worktree.wt);
    // A run we stopped ourselves (pause, shutdown, lost lease) is settled by whoever stopped it; what it
    // reported (its cost, above all) is still kept, unless the mission is no longer ours.
    if (active.stopping) {
      // The session's outputs are on the task already.
      const { session_id: _s, model: _m, ...rest } = outputs;
      if (Object.keys(rest).length > 0 && this.stopMode !== "abandon") {
        await this.keepOutputs(d, outputs);
        if (costOf(outputs.cost_usd) !== null) void this.deps.afterCost?.(this.missionId).catch(() => {});
      }
      return;
    }
    await this.settle(active, agent, adapter.kind, outcome, outputs);
    await touched;
    if (worktree)
      await radar
        .check(task.id)
        .catch((err) => this.deps.log.error({ err, task: task.taskId }, "conflict radar failed"));
    if (costOf(outputs.cost_usd) !== null) {
      void this.deps
        .afterCost?.(this.missionId)
        .catch((err) => this.deps.log.error({ err }, "checking the mission budget failed"));
    }
  }

  /** Outputs of a run that was stopped: merged without touching the status (whoever stopped it decides). */
  private async keepOutputs(d: repo.DispatchRow, outputs: Record<string, unknown>) {
    await this.deps.database.db
      .transaction(async (tx) => {
        const task = await findTaskView(tx, d.taskId, { lock: true });
        if (task) await mergeRunOutputs(tx, task, outputs, d.id);
      })
      .catch((err) => this.deps.log.error({ err, dispatch: d.id }, "recording a stopped run's outputs failed"));
  }

  private finishRun(dispatchId: number) {
    this.runs.delete(dispatchId);
    this.refreshCurrent();
    if (this.runs.size === 0 && this.state === "running") this.state = "idle";
    this.wake();
  }

  /** Writes how a run ended, then retries or escalates on a crash. */
  private async settle(
    active: ActiveRun,
    agentBefore: AgentRow,
    kind: AdapterKind,
    outcome: RunOutcome,
    outputs: Record<string, unknown>,
  ) {
    const { database } = this.deps;
    const d = active.dispatch;
    let retry: { delayMs: number } | null = null;
    let escalate: string | null = null;
    if (!outcome.ok) {
      const now = Date.now();
      const s = agentSettings(agentBefore.config);
      this.crashes = this.crashes.filter((t) => now - t < s.restartWindowS * 1000);
      this.crashes.push(now);
      if (this.crashes.length > s.maxRestarts) {
        escalate = `${this.crashes.length} crashes within ${s.restartWindowS} s (max_restarts ${s.maxRestarts})`;
      } else if (d.attempt <= s.maxRetries) {
        retry = { delayMs: retryDelayMs(agentBefore.config, d.attempt) };
      }
    }
    let settledElsewhere = false;
    try {
      await database.db.transaction(async (tx) => {
        // A pause or cancel (or a successor's recovery) may have settled this run in its own transaction
        // while it was ending: then it is theirs, and nothing here is written.
        if (!(await repo.lockRunning(tx, d.id, this.deps.owner))) {
          settledElsewhere = true;
          return;
        }
        const agent = (await findAgent(tx, this.agentId)) ?? agentBefore;
        let task = await findTaskView(tx, d.taskId, { lock: true });
        if (!task) return;
        const mission = task.missionKey;
        // The run is over, and its token with it (a remote agent keeps its token for the work it accepted).
        if (kind !== "remote" || !outcome.ok) await this.deps.tokens.revokeRunTokens(tx, [d.id]);
        const othersLive = [...this.runs.keys()].some((id) => id !== d.id);
        if (Object.keys(outputs).length > 0) task = await mergeRunOutputs(tx, task, outputs, d.id);
        const move = async (to: TaskStatus, comment: string) => {
          if (task && task.status !== to)
            task = await transitionTask(tx, task, to, RUNTIME_ACTOR, { via: "dispatch", comment });
        };
        if (outcome.ok) {
          switch (kind) {
            case "process":
              // Exit 0 hands the work to review, unless the agent's own reports already took it further.
              if (task.status === "in_progress") await move("pending_review", `agent finished (dispatch ${d.id})`);
              await runtimeActivity(
                tx,
                agent,
                "task_complete",
                { task_id: task.taskId, mission_id: mission },
                { why: `run of ${task.taskId} finished`, ...(othersLive ? { status: "working" as const } : {}) },
              );
              break;
            case "remote":
              if (["pending", "blocked", "rejected"].includes(task.status))
                await move("in_progress", `remote agent accepted dispatch ${d.id}`);
              break;
            case "manual":
              if (["blocked", "rejected"].includes(task.status))
                await move("pending", `handed over to ${agent.agentId}`);
              await appendTrace(tx, {
                event: "task.handed_over",
                actor: RUNTIME_ACTOR,
                missionId: mission,
                taskId: task.taskId,
                agentId: agent.agentId,
                data: { dispatch_id: d.id },
              });
              break;
          }
          await repo.setDispatch(tx, d.id, {
            status: kind === "process" ? "succeeded" : "delivered",
            finishedAt: new Date(),
            owner: null,
          });
          return;
        }
        await addLog(tx, task, "error", `run failed: ${outcome.reason}`);
        if (["pending", "in_progress", "blocked"].includes(task.status)) await move("failed", outcome.reason);
        await repo.setDispatch(tx, d.id, {
          status: "failed",
          reason: outcome.reason,
          finishedAt: new Date(),
          owner: null,
        });
        await runtimeActivity(
          tx,
          agent,
          "error",
          { task_id: task.taskId, mission_id: mission, reason: outcome.reason },
          { why: `run of ${task.taskId} failed: ${outcome.reason}` },
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
        if (retry && task.status === "failed") {
          await move("pending", `retrying (attempt ${d.attempt + 1})`);
          await addLog(
            tx,
            task,
            "warn",
            `retrying in ${Math.round(retry.delayMs / 1000)} s (attempt ${d.attempt + 1})`,
          );
          const next = await repo.insertDispatch(tx, {
            taskId: d.taskId,
            missionId: d.missionId,
            agentId: d.agentId,
            attempt: d.attempt + 1,
            runAfter: new Date(Date.now() + retry.delayMs),
          });
          await appendTrace(tx, {
            event: "task.dispatched",
            actor: RUNTIME_ACTOR,
            missionId: mission,
            taskId: task.taskId,
            agentId: agent.agentId,
            data: {
              dispatch_id: next.id,
              attempt: next.attempt,
              retry_of: d.id,
              run_after: next.runAfter.toISOString(),
            },
          });
        }
      });
    } catch (err) {
      this.deps.log.error({ err, dispatch: d.id }, "recording the end of a run failed");
    }
    const said = { task_id: active.taskKey, agent_id: agentBefore.agentId, dispatch_id: d.id, attempt: d.attempt };
    if (escalate)
      this.deps.log.warn(
        { ...said, reason: escalate, last_failure: !outcome.ok ? outcome.reason : null },
        "agent worker escalated: it takes no more work until reset",
      );
    else if (retry)
      this.deps.log.warn(
        { ...said, retry_in_ms: retry.delayMs, next_attempt: d.attempt + 1 },
        "agent run will be retried",
      );
    if (settledElsewhere) {
      this.finishRun(d.id);
      return;
    }
    if (escalate) this.state = "escalated";
    else if (retry) this.state = "restarting";
    this.finishRun(d.id);
  }

  /** A person reset the agent: an escalated worker forgets its crashes and takes work again. */
  unescalate(): void {
    this.crashes = [];
    if (this.state !== "escalated") return;
    this.state = "idle";
    this.wake();
  }

  /**
   * Stops the worker. `requeue`: runs are stopped, their tasks blocked with `note`, their dispatches queued
   * again (shutdown). `cancel`: the same, but dispatches are cancelled (agent taken off the mission).
   * `settled`: the database was already moved by whoever stopped the mission (pause, cancel: in the
   * transaction of the mission's move), so only the processes are stopped. `abandon`: processes are killed
   * and the database is left to the process that took the mission over. Every stopped run but an abandoned
   * one gets a `runtime.run_stopped` entry saying how its process ended; requeue and cancel revoke its token.
   */
  async stop(mode: "requeue" | "cancel" | "settled" | "abandon", note: string): Promise<void> {
    this.stopped = true;
    this.stopMode = mode;
    clearInterval(this.poll);
    const agent = await findAgent(this.deps.database.db, this.agentId).catch(() => undefined);
    const grace = agentSettings(agent?.config ?? {}).stopGraceMs;
    const stopping = [...this.runs.keys()];
    await Promise.all(
      [...this.runs.values()].map(async (active) => {
        active.stopping = true;
        let exit: string | null = null;
        if (active.run) {
          await active.run.stop(grace);
          const o = await active.run.done;
          exit = o.ok ? "exited with code 0" : o.reason;
        }
        await active.logs?.flush();
        if (mode === "abandon") return;
        const d = active.dispatch;
        await this.deps.database.db
          .transaction(async (tx) => {
            const task = await findTaskView(tx, d.taskId, { lock: mode !== "settled" });
            const keys = { mission: task?.missionKey ?? null, task: task?.taskId ?? null };
            if (mode !== "settled" && (await repo.lockRunning(tx, d.id, this.deps.owner))) {
              if (task && task.status === "in_progress") {
                await addLog(tx, task, "warn", note);
                await transitionTask(tx, task, "blocked", RUNTIME_ACTOR, { via: "dispatch", comment: note });
              }
              await repo.setDispatch(
                tx,
                d.id,
                mode === "requeue"
                  ? { status: "queued", owner: null, pid: null, startedAt: null, lastOutputAt: null, reason: note }
                  : { status: "cancelled", owner: null, reason: note, finishedAt: new Date() },
              );
              await this.deps.tokens.revokeRunTokens(tx, [d.id]);
              await runStoppedStatus(
                tx,
                this.agentId,
                keys,
                `run of ${keys.task ?? "a task"} stopped: ${note}`,
                stopping,
              );
            }
            if (active.run) {
              await appendTrace(tx, {
                event: "runtime.run_stopped",
                actor: RUNTIME_ACTOR,
                missionId: keys.mission,
                taskId: keys.task,
                agentId: this.agentKey,
                data: { dispatch_id: d.id, pid: active.run.pid ?? null, exit, grace_ms: grace, note },
              });
            }
          })
          .catch((err) => this.deps.log.error({ err }, "stopping a run failed"));
      }),
    );
    this.runs.clear();
    this.currentTaskIds = [];
    if (this.state !== "escalated") this.state = "stopped";
  }
}
