// Agent statuses and what each activity event does to them. Pure. Unlike tasks and missions, an agent's
// status has no state machine: the agent reports what it is doing and any event may follow any other; the
// only rule is this mapping, applied by the activity service and nowhere else.
import { assertNever } from "../core/assert-never.js";

export const AGENT_STATUSES = ["idle", "working", "blocked", "waiting_for_input", "error", "offline"] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];

/** Named statuses for writes (so no status is spelled outside this file). */
export const AGENT = {
  idle: "idle",
  working: "working",
  blocked: "blocked",
  waitingForInput: "waiting_for_input",
  error: "error",
  offline: "offline",
} as const satisfies Record<string, AgentStatus>;

/** Not heard from: never yet, since a `stop`, or for too long. A heartbeat brings it back (`idle`). */
export function isOffline(s: AgentStatus): boolean {
  return s === AGENT.offline;
}

/** On a task: its own report, or a run of the runtime that holds it. */
export function isWorking(s: AgentStatus): boolean {
  return s === AGENT.working;
}

export const AGENT_EVENTS = [
  "session_start",
  "task_start",
  "task_complete",
  "blocked",
  "completed",
  "error",
  "stop",
  "waiting_for_input",
  "heartbeat",
] as const;
export type AgentEvent = (typeof AGENT_EVENTS)[number];

/** The status each event sets. `heartbeat` sets none: it keeps the status (or revives an `offline` agent). */
export const EVENT_STATUS: Record<Exclude<AgentEvent, "heartbeat">, AgentStatus> = {
  session_start: "idle",
  task_start: "working",
  task_complete: "idle",
  completed: "idle",
  blocked: "blocked",
  waiting_for_input: "waiting_for_input",
  error: "error",
  stop: "offline",
};

/**
 * What an event does to `current_task_id`: `set` takes it from `context.task_id`, `clear` empties it, `keep`
 * leaves it (an agent that is blocked or erroring is still on its task).
 */
export function currentTaskEffect(event: AgentEvent): "set" | "clear" | "keep" {
  switch (event) {
    case "task_start":
      return "set";
    case "task_complete":
    case "completed":
    case "stop":
      return "clear";
    case "session_start":
    case "blocked":
    case "error":
    case "waiting_for_input":
    case "heartbeat":
      return "keep";
    default:
      return assertNever(event);
  }
}

/** What changed an agent's status, as `agent.status_changed` entries and `status_reason` name it. */
export const STATUS_CAUSES = ["activity", "hook", "run", "stale", "reset", "heartbeat"] as const;
export type StatusCause = (typeof STATUS_CAUSES)[number];
export const CAUSE = {
  activity: "activity",
  hook: "hook",
  run: "run",
  stale: "stale",
  reset: "reset",
  heartbeat: "heartbeat",
} as const satisfies { [C in StatusCause]: C };

/** The statuses silence can end: `error` stays until someone acts, `offline` already is. */
export const STALEABLE: readonly AgentStatus[] = ["idle", "working", "blocked", "waiting_for_input"];

/** Where a reset takes an agent: `idle`, or `offline` when it was never heard from. */
export function resetStatus(lastSeenAt: Date | null): AgentStatus {
  return lastSeenAt === null ? AGENT.offline : AGENT.idle;
}

/** The status a heartbeat gives an agent it registers or revives. */
export const HEARTBEAT_STATUS: AgentStatus = AGENT.idle;
