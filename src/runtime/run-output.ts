// A run's output sink: what the agent says while it runs, applied in the order it came. Invariants:
// - Log lines are written in batches (LogBuffer), one statement and one `task.logged` entry per batch.
// - Every event is a sign of life: the agent's `last_seen_at` through the heartbeat coalescer, the run's
//   `last_output_at` at most once a second (with a trailing write, so it is never more than a second behind).
// - Outputs and the result are gathered in memory and written with the run's final status (settle.ts), in
//   the same transaction; only a session (its id and model) goes onto the task at once.
// - Database work is chained, so it stays in order; a failure is logged and the run goes on. Nothing is
//   written for a run that is being stopped.
import type { Database } from "../db/client.js";
import { heartbeatsFor } from "../agents/heartbeats.js";
import { agentForRun, runActivity, type AgentRow } from "../agents/agents.runs.js";
import { appendRunLogs, recordRunSession, type TaskView } from "../tasks/tasks.runs.js";
import { assertNever } from "../core/assert-never.js";
import { defined, isObj } from "./adapters/events.js";
import type { LogLevel, RunEvent } from "./adapters/types.js";
import * as repo from "./dispatch.repo.js";
import { RUNTIME_ACTOR } from "./runtime.types.js";
import type { WorkerDeps } from "./worker.js";
import { AGENT } from "../agents/agents.state.js";

/** Collects output lines and writes them in batches, so a chatty agent costs a statement per batch. */
export class LogBuffer {
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
      this.database.db.transaction((tx) => appendRunLogs(tx, this.task, batch, RUNTIME_ACTOR)).catch(this.onError),
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
 * gathered in `outputs`, written with the run's final status.
 */
export class RunSink {
  readonly outputs: Record<string, unknown> = {};
  private sessionStarted = false;
  private chain: Promise<void> = Promise.resolve();
  private lastTouch = 0;
  private touchTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly deps: Pick<WorkerDeps, "database" | "log">,
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
        default:
          assertNever(e);
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

  /** A sign of life: the agent's `last_seen_at` (coalesced), the run's `last_output_at` (throttled). */
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
        const t = await recordRunSession(tx, task.id, outputs, { actor: RUNTIME_ACTOR, dispatchId });
        if (!t || !first || !this.run.announcesSession) return;
        const a = (await agentForRun(tx, agent.id)) ?? agent;
        const context = {
          task_id: t.taskId,
          mission_id: t.missionKey,
          ...(sessionId ? { session_id: sessionId } : {}),
        };
        // The run holds the agent: it stays working through its session's start.
        const why = `running ${t.taskId}`;
        await runActivity(tx, a, "session_start", context, { actor: RUNTIME_ACTOR, why, status: AGENT.working });
        await runActivity(tx, a, "task_start", context, { actor: RUNTIME_ACTOR, why });
      }),
    );
  }
}
