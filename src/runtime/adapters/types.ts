// The contract between the runtime and an adapter: the runtime owns the task's status, the dispatch row,
// logs and activity; an adapter only starts the agent its way, says what happens as normalized events
// (events.ts), and says how the run ended.
import type { LogLevel, RunEvent } from "./events.js";

export type { LogLevel, RunEvent } from "./events.js";

export interface RunContext {
  task: {
    id: number;
    task_id: string;
    mission_id: string;
    objective: string;
    status: string;
    agent_id: string | null;
    requirement_ids: string[];
    required_capabilities: string[];
    priority: number | null;
    outputs: Record<string, unknown>;
  };
  mission: { id: number; mission_id: string; goal: string };
  /**
   * The review that sent the task back (its latest rejection, when no run has been reviewed since): the
   * reviewer's comment goes into the rerun's prompt.
   */
  review?: { comment: string | null; by: string; at: string } | null;
  /** The requirements the task serves, for the agent's prompt. */
  requirements: Array<{ requirement_id: string; title: string; description: string | null }>;
  /**
   * The agent. When the agent's `config.repo` gave the run a git worktree, `config.cwd` is that worktree:
   * every process adapter runs the agent there.
   */
  agent: { id: number; agent_id: string; adapter_module: string; config: Record<string, unknown> };
  dispatchId: number;
  attempt: number;
  /** This server's base URL, for agents that call back. */
  apiUrl: string;
  /** An agent-role token for this agent, valid for this run only. */
  agentToken: string;
  /** Shorthand for `emit({type: "log", level, message})`. */
  log(level: LogLevel, message: string): void;
  /** What the agent is doing, in the normalized event model (events.ts). Never throws. */
  emit(event: RunEvent): void;
}

export type RunOutcome = { ok: true } | { ok: false; reason: string };

export interface AdapterRun {
  pid?: number;
  done: Promise<RunOutcome>;
  /** Stop the run (pause, shutdown): SIGTERM to its process group, then SIGKILL after `graceMs`. */
  stop(graceMs: number): Promise<void>;
}

/**
 * How a dispatch is delivered:
 * - `process`: the agent runs as a child process here; the task is `in_progress` while it runs.
 * - `remote`: the task is handed to a remote agent that accepts it and reports through the API.
 * - `manual`: nothing runs; the agent pulls its work with GET /api/tasks.
 */
export type AdapterKind = "process" | "remote" | "manual";

export interface Adapter {
  readonly kind: AdapterKind;
  /**
   * The agent announces its session (a `session` event): the worker then records the agent's `task_start`
   * when the session starts rather than before the process runs, so the activity reads session_start,
   * task_start, task_complete.
   */
  readonly sessions?: boolean;
  start(ctx: RunContext): AdapterRun;
}
