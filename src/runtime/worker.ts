// One agent's worker inside a mission supervisor: the claim loop. Invariants:
// - It runs at most `max_concurrency` dispatches at a time, claimed from the database oldest first; a
//   dispatch row is `running` exactly while this worker has a run for it (or until a successor recovers it
//   after this process died). One claim pass at a time (singleFlight); a wake during a pass runs one more.
// - A worker escalated or stopped while a claim pass awaited the database stays so, and a dispatch claimed
//   meanwhile goes back to the queue untouched.
// - More than `max_restarts` crashes within `restart_window_s` escalate the worker (settle.ts): it stops
//   taking work, the agent's status becomes `error`, and the trace says why. Queued work stays queued.
// - Nothing here throws out of the worker: a failure is logged and the worker goes on.
// One run's lifecycle is run.ts, its output sink run-output.ts, its end (settle, retry, escalate) settle.ts.
import type { FastifyBaseLogger } from "fastify";
import type { Database } from "../db/client.js";
import { agentForRun } from "../agents/agents.runs.js";
import type { TokensService } from "../tokens/tokens.service.js";
import { singleFlight, type SingleFlight } from "../core/single-flight.js";
import type { Worktrees } from "./adapters/worktree.js";
import { agentSettings } from "./agent-config.js";
import * as repo from "./dispatch.repo.js";
import { runDispatch, type ActiveRun, type RunHost } from "./run.js";
import { Crashes, settleStoppedRun, type StopMode } from "./settle.js";
import { WORKER, type AfterRun, type WorkerState } from "./worker.state.js";

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

export class AgentWorker implements RunHost {
  state: WorkerState = WORKER.idle;
  currentTaskIds: string[] = [];
  readonly crashes = new Crashes();
  stopMode: StopMode | null = null;
  private runs = new Map<number, ActiveRun>();
  private stopped = false;
  private poll: NodeJS.Timeout;
  private readonly claims: SingleFlight;

  constructor(
    readonly deps: WorkerDeps,
    readonly missionId: number,
    readonly agentId: number,
    readonly agentKey: string,
  ) {
    this.claims = singleFlight(
      () => this.claim(),
      (err) => this.deps.log.error({ err, agent: this.agentKey }, "worker pump failed"),
    );
    // Signals wake the worker at once; this slow poll only catches what a lost signal or a backoff delayed.
    this.poll = setInterval(() => this.wake(), 1_000);
    this.poll.unref();
  }

  view() {
    return { agent_id: this.agentKey, state: this.state, current_task_id: this.currentTaskIds[0] ?? null };
  }

  wake(): void {
    if (this.halted()) return;
    void this.claims.trigger();
  }

  /** Claims due dispatches while the agent has room, and starts a run for each. */
  private async claim() {
    const { database, owner } = this.deps;
    for (;;) {
      if (this.halted()) return;
      const agent = await agentForRun(database.db, this.agentId);
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
        if (this.runs.size === 0 && this.state === WORKER.running) this.state = WORKER.idle;
        return;
      }
      const active: ActiveRun = { dispatch: d, taskKey: null, run: null, stopping: false, logs: null };
      this.runs.set(d.id, active);
      this.state = WORKER.running;
      void runDispatch(this, active, agent, settings).catch((err) =>
        this.deps.log.error({ err, dispatch: d.id }, "run failed"),
      );
    }
  }

  /** Stopped or escalated: the worker takes no work. A method, so a check after an await reads the state anew. */
  private halted(): boolean {
    return this.stopped || this.state === WORKER.escalated;
  }

  othersLive(dispatchId: number): boolean {
    return [...this.runs.keys()].some((id) => id !== dispatchId);
  }

  taskKnown(): void {
    this.currentTaskIds = [...this.runs.values()].flatMap((r) => (r.taskKey ? [r.taskKey] : []));
  }

  runEnded(dispatchId: number, after: AfterRun): void {
    if (after !== null) this.state = after;
    this.runs.delete(dispatchId);
    this.taskKnown();
    if (this.runs.size === 0 && this.state === WORKER.running) this.state = WORKER.idle;
    this.wake();
  }

  /** A person reset the agent: an escalated worker forgets its crashes and takes work again. */
  unescalate(): void {
    this.crashes.forget();
    if (this.state !== WORKER.escalated) return;
    this.state = WORKER.idle;
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
  async stop(mode: StopMode, note: string): Promise<void> {
    this.stopped = true;
    this.stopMode = mode;
    clearInterval(this.poll);
    const agent = await agentForRun(this.deps.database.db, this.agentId).catch(() => undefined);
    const graceMs = agentSettings(agent?.config ?? {}).stopGraceMs;
    const stopping = [...this.runs.keys()];
    await Promise.all(
      [...this.runs.values()].map(async (active) => {
        active.stopping = true;
        let exit: string | null = null;
        if (active.run) {
          await active.run.stop(graceMs);
          const o = await active.run.done;
          exit = o.ok ? "exited with code 0" : o.reason;
        }
        await active.logs?.flush();
        if (mode === "abandon") return;
        await this.deps.database.db
          .transaction((tx) => settleStoppedRun(tx, this, active, { mode, note, exit, graceMs, stopping }))
          .catch((err) => this.deps.log.error({ err }, "stopping a run failed"));
      }),
    );
    this.runs.clear();
    this.currentTaskIds = [];
    if (this.state !== WORKER.escalated) this.state = WORKER.stopped;
  }
}
