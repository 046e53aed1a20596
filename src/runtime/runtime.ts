// The mission runtime of one server process: a supervisor per active mission it holds the lease of, with a
// worker per agent on the mission. Invariants:
// - A mission's tree runs in at most one process: the one holding its lease row, renewed every ttl/3. A
//   process that fails to renew kills its runs at once and lets the new owner recover the rows.
// - Taking a mission (start, restart, takeover) first recovers what a previous owner left `running`: its
//   process groups are killed where they are still alive here, its tasks are blocked as interrupted and its
//   dispatches queued again, so no dispatch is lost and none runs twice at the same time.
// - Signals between processes go through NOTIFY on `mc_runtime`; every loop also re-checks the database,
//   so a lost signal only delays.
// - Pause and cancel answer at once: what the move does to the mission's work is written in the move's own
//   transaction (`missionMoving`); afterwards the processes are stopped in the background (SIGTERM, SIGKILL
//   after stop_grace_s), each exit traced (`runtime.run_stopped`), and nothing waits for them.
// - A run's token is revoked in the transaction that ends the run, whoever ends it: the worker's settle or
//   stop, a mission's move, or the recovery of an orphan.
import { randomUUID } from "node:crypto";
import os from "node:os";
import type { FastifyBaseLogger } from "fastify";
import type { Database, Executor } from "../db/client.js";
import { notify, type Notifier } from "../db/notify.js";
import { assertNever } from "../core/assert-never.js";
import { findMission } from "../missions/missions.lookup.js";
import type { RuntimeView } from "../missions/missions.schemas.js";
import { isTerminalMission, missionRuns, type MissionStatus, MISSION } from "../missions/missions.state.js";
import {
  failOpenTasksOfMission,
  findTaskForRun,
  interruptRun,
  lockTasks,
  openTaskIdsOfMission,
  taskKeyOf,
} from "../tasks/tasks.runs.js";
import type { TokensService } from "../tokens/tokens.service.js";
import { appendTrace } from "../trace/trace.append.js";
import * as repo from "./dispatch.repo.js";
import { DISPATCH, isRunningDispatch } from "./dispatch.state.js";
import { groupAlive, killGroup, pidAlive } from "./process.js";
import { listMissionAgentIds } from "./runtime.repo.js";
import { RUNTIME_ACTOR, type MissionRuntime } from "./runtime.types.js";
import { releaseAgentOfStoppedRun, type StopMode } from "./settle.js";
import { AgentWorker, type WorkerDeps } from "./worker.js";

export const RUNTIME_CHANNEL = "mc_runtime";

export type RuntimeSignal =
  | { t: "dispatch"; m: number; a: number }
  | { t: "mission"; m: number }
  | { t: "members"; m: number }
  | { t: "reset"; a: number };

export interface RuntimeDeps {
  database: Database;
  notifier: Notifier;
  tokens: TokensService;
  log: FastifyBaseLogger;
  leaseTtlS: number;
  apiUrl(): string;
  /** Git worktrees for agents with config.repo. */
  worktrees?: WorkerDeps["worktrees"];
  /** Called after a run that cost something: the mission's budget check. */
  afterCost?: WorkerDeps["afterCost"];
}

class MissionSupervisor {
  readonly workers = new Map<number, AgentWorker>();
  constructor(
    private readonly rt: Runtime,
    readonly missionId: number,
    readonly missionKey: string,
  ) {}

  async start() {
    await this.rt.recover(this.missionId);
    await this.syncAgents();
  }

  async syncAgents() {
    const rows = await listMissionAgentIds(this.rt.deps.database.db, this.missionId);
    const want = new Map(rows.map((r) => [r.id, r.agentId]));
    for (const [id, key] of want) {
      if (!this.workers.has(id)) {
        const w = new AgentWorker(this.rt.workerDeps, this.missionId, id, key);
        this.workers.set(id, w);
        w.wake();
      }
    }
    for (const [id, w] of this.workers) {
      if (!want.has(id)) {
        this.workers.delete(id);
        await w.stop("cancel", "agent was taken off the mission");
      }
    }
  }

  wake(agentId?: number) {
    if (agentId === undefined) for (const w of this.workers.values()) w.wake();
    else this.workers.get(agentId)?.wake();
  }

  async stop(mode: StopMode, note: string) {
    await Promise.all([...this.workers.values()].map((w) => w.stop(mode, note)));
  }

  view(): RuntimeView {
    return { running: true, workers: [...this.workers.values()].map((w) => w.view()) };
  }
}

export class Runtime implements MissionRuntime {
  /** Host and pid first: a successor only ever signals process groups that were started on its own host. */
  readonly owner = `${os.hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  private supervisors = new Map<number, MissionSupervisor>();
  private starting = new Map<number, Promise<void>>();
  private loop: NodeJS.Timeout | null = null;
  private unlisten: (() => void) | null = null;
  private closed = false;
  readonly workerDeps: WorkerDeps;

  constructor(readonly deps: RuntimeDeps) {
    this.workerDeps = {
      database: deps.database,
      tokens: deps.tokens,
      log: deps.log,
      owner: this.owner,
      apiUrl: deps.apiUrl,
      worktrees: deps.worktrees,
      afterCost: deps.afterCost,
    };
  }

  async start() {
    this.unlisten = await this.deps.notifier.listen(RUNTIME_CHANNEL, (p) => this.onSignal(p));
    await this.tick();
    const every = Math.max(200, (this.deps.leaseTtlS * 1000) / 3);
    this.loop = setInterval(() => void this.tick(), every);
    this.loop.unref();
  }

  /** Graceful stop: runs stopped, their tasks blocked and dispatches queued for whoever runs the mission next. */
  async close() {
    this.closed = true;
    if (this.loop) clearInterval(this.loop);
    this.unlisten?.();
    await Promise.allSettled([...this.starting.values()]);
    await Promise.all(
      [...this.supervisors.values()].map(async (s) => {
        await s.stop(
          "requeue",
          "interrupted: the server running this task is shutting down; it will be dispatched again",
        );
        await repo.releaseLease(this.deps.database.db, s.missionId, this.owner).catch(() => {});
      }),
    );
    this.supervisors.clear();
  }

  view(missionId: number): RuntimeView {
    return this.supervisors.get(missionId)?.view() ?? { running: false, workers: [] };
  }

  async lockForMove(tx: Executor, missionId: number, to: MissionStatus) {
    const terminal = isTerminalMission(to);
    if (to !== MISSION.paused && !terminal) return;
    const live = await repo.liveForMission(tx, missionId, { lock: true });
    const ids = terminal
      ? await openTaskIdsOfMission(tx, missionId)
      : live.filter((d) => isRunningDispatch(d.status)).map((d) => d.taskId);
    await lockTasks(tx, ids);
  }

  async missionMoving(
    tx: Executor,
    mission: { id: number; missionId: string },
    _from: string,
    to: MissionStatus,
    actor: string,
  ) {
    if (to === MISSION.paused) await this.pauseWork(tx, mission, actor);
    else if (isTerminalMission(to)) await this.endWork(tx, mission, to, actor);
  }

  /** Tasks with a live run are blocked and their dispatches queued again; run tokens revoked. */
  private async pauseWork(tx: Executor, mission: { id: number; missionId: string }, actor: string) {
    const note = "mission paused; the task will be dispatched again when the mission starts";
    const running = (await repo.liveForMission(tx, mission.id, { lock: true })).filter((d) =>
      isRunningDispatch(d.status),
    );
    for (const d of running) {
      const task = await findTaskForRun(tx, d.taskId, { lock: true });
      await interruptRun(tx, task, { note, actor, via: "mission" });
      await repo.setDispatch(tx, d.id, {
        status: DISPATCH.queued,
        owner: null,
        pid: null,
        startedAt: null,
        lastOutputAt: null,
        reason: note,
      });
      await releaseAgentOfStoppedRun(
        tx,
        d.agentId,
        { mission: mission.missionId, task: task?.taskId ?? null },
        `run of ${task?.taskId ?? "a task"} stopped: mission paused`,
        running.map((x) => x.id),
      );
    }
    await this.deps.tokens.revokeRunTokens(tx, await repo.dispatchIdsOfMission(tx, mission.id));
  }

  /** Every open task fails with the reason, `pending_review` stays; live dispatches are cancelled. */
  private async endWork(tx: Executor, mission: { id: number; missionId: string }, to: string, actor: string) {
    const note = `mission ${to}`;
    const live = await repo.liveForMission(tx, mission.id, { lock: true });
    const running = live.filter((d) => isRunningDispatch(d.status));
    for (const d of live)
      await repo.setDispatch(tx, d.id, {
        status: DISPATCH.cancelled,
        owner: null,
        reason: note,
        finishedAt: new Date(),
      });
    await failOpenTasksOfMission(tx, mission.id, { note, actor });
    for (const d of running) {
      const key = await taskKeyOf(tx, d.taskId);
      await releaseAgentOfStoppedRun(
        tx,
        d.agentId,
        { mission: mission.missionId, task: key ?? null },
        `run of ${key ?? "a task"} stopped: ${note}`,
        running.map((x) => x.id),
      );
    }
    await this.deps.tokens.revokeRunTokens(tx, await repo.dispatchIdsOfMission(tx, mission.id));
  }

  /** A person reset an agent: its escalated workers, here and in every process, take work again. */
  async agentReset(agentId: number) {
    this.unescalate(agentId);
    await this.signal({ t: "reset", a: agentId });
  }

  private unescalate(agentId: number) {
    for (const sup of this.supervisors.values()) sup.workers.get(agentId)?.unescalate();
  }

  async missionStatusChanged(mission: { id: number; missionId: string }, _from: string, to: string) {
    if (missionRuns(to as MissionStatus)) await this.take(mission.id);
    // The move's transaction did the database's part; the processes are stopped in the background.
    else
      void this.release(mission.id, to).catch((err) =>
        this.deps.log.error({ err, missionId: mission.id }, "stopping a mission tree failed"),
      );
    // Whoever else holds or wants it hears of it too.
    await this.signal({ t: "mission", m: mission.id });
  }

  /** Called after mission membership commits. */
  async membershipChanged(missionId: number) {
    await this.supervisors.get(missionId)?.syncAgents();
    await this.signal({ t: "members", m: missionId });
  }

  async signal(s: RuntimeSignal) {
    await notify(this.deps.database.db, RUNTIME_CHANNEL, JSON.stringify(s)).catch(() => {});
  }

  private onSignal(payload: string) {
    let s: RuntimeSignal;
    try {
      s = JSON.parse(payload) as RuntimeSignal;
    } catch {
      return;
    }
    if (s.t === "reset") {
      this.unescalate(s.a);
      return;
    }
    const sup = this.supervisors.get(s.m);
    switch (s.t) {
      case "dispatch":
        sup?.wake(s.a);
        break;
      case "members":
        void sup?.syncAgents().catch((err) => this.deps.log.error({ err }, "syncing mission agents failed"));
        break;
      case "mission":
        void this.recheck(s.m);
        break;
      default:
        assertNever(s);
    }
  }

  private async recheck(missionId: number) {
    const m = await findMission(this.deps.database.db, missionId).catch(() => undefined);
    if (!m) return;
    if (missionRuns(m.status as MissionStatus)) await this.take(missionId);
    else await this.release(missionId, m.status);
  }

  /** Takes the mission's lease and starts its tree here, unless another live process holds it. */
  async take(missionId: number): Promise<void> {
    if (this.closed || this.supervisors.has(missionId)) return;
    const pending = this.starting.get(missionId);
    if (pending) return pending;
    const p = (async () => {
      const { database, leaseTtlS } = this.deps;
      if (!(await repo.acquireLease(database.db, missionId, this.owner, leaseTtlS))) return;
      const m = await findMission(database.db, missionId);
      if (!m || !missionRuns(m.status as MissionStatus)) {
        await repo.releaseLease(database.db, missionId, this.owner);
        return;
      }
      const sup = new MissionSupervisor(this, m.id, m.missionId);
      this.supervisors.set(missionId, sup);
      await sup.start();
    })()
      .catch((err) => this.deps.log.error({ err, missionId }, "starting a mission tree failed"))
      .finally(() => this.starting.delete(missionId));
    this.starting.set(missionId, p);
    return p;
  }

  private async release(missionId: number, status: string) {
    await this.starting.get(missionId);
    const sup = this.supervisors.get(missionId);
    if (!sup) return;
    this.supervisors.delete(missionId);
    await sup.stop("settled", `mission ${status}`);
    await repo.releaseLease(this.deps.database.db, missionId, this.owner).catch(() => {});
  }

  /** Renews our leases, drops what we lost, and takes active missions that nobody runs. */
  private async tick() {
    if (this.closed) return;
    const db = this.deps.database.db;
    try {
      const held = new Set(await repo.renewLeases(db, this.owner, this.deps.leaseTtlS));
      for (const [id, sup] of this.supervisors) {
        if (!held.has(id) && !this.starting.has(id)) {
          this.deps.log.warn({ missionId: id }, "lost the lease of a mission; stopping its runs here");
          this.supervisors.delete(id);
          await sup.stop("abandon", "lease lost");
        }
      }
      // An owner on this host whose process is gone (kill -9, crash) cannot renew: no need to wait out its TTL.
      for (const l of await repo.othersLeases(db, this.owner)) {
        const [host, pid] = l.owner.split("/");
        if (host === os.hostname() && pid && Number(pid) !== process.pid && !pidAlive(Number(pid))) {
          await repo.expireLease(db, l.missionId, l.owner);
        }
      }
      for (const id of await repo.orphanedActiveMissions(db)) await this.take(id);
    } catch (err) {
      this.deps.log.error({ err }, "runtime tick failed");
    }
  }

  /**
   * What a previous owner left running is interrupted: its process groups are ended where they still live
   * on this machine, tasks blocked with a note, dispatches queued again.
   */
  async recover(missionId: number) {
    const db = this.deps.database.db;
    for (const d of await repo.runningForMission(db, missionId)) {
      const sameHost = d.owner?.split("/")[0] === os.hostname();
      if (d.pid && sameHost && d.owner !== this.owner && groupAlive(d.pid)) killGroup(d.pid, "SIGKILL");
      await db.transaction(async (tx) => {
        const note = "interrupted: the server running this task stopped; it will be dispatched again";
        const task = await findTaskForRun(tx, d.taskId, { lock: true });
        await interruptRun(tx, task, { note, actor: RUNTIME_ACTOR, via: "dispatch" });
        await repo.setDispatch(tx, d.id, {
          status: DISPATCH.queued,
          owner: null,
          pid: null,
          startedAt: null,
          lastOutputAt: null,
          reason: "interrupted",
        });
        // The orphan's run is over: its token dies with it, and its agent is no longer held by it.
        await this.deps.tokens.revokeRunTokens(tx, [d.id]);
        await releaseAgentOfStoppedRun(
          tx,
          d.agentId,
          { mission: task?.missionKey ?? null, task: task?.taskId ?? null },
          `run of ${task?.taskId ?? "a task"} interrupted: the server running it stopped`,
          [d.id],
        );
        await appendTrace(tx, {
          event: "dispatch.recovered",
          actor: RUNTIME_ACTOR,
          missionId: task?.missionKey ?? null,
          taskId: task?.taskId ?? null,
          agentId: task?.agentKey ?? null,
          data: { dispatch_id: d.id, previous_owner: d.owner },
        });
      });
    }
  }
}
