// The task state machine: the only definition of which status moves are legal, exactly the contract's
// table. Pure; the tasks service's `transitionTask` and its plain-move statement are the only code that writes a
// task's status.
export const TASK_STATUSES = [
  "pending",
  "in_progress",
  "blocked",
  "pending_review",
  "rejected",
  "completed",
  "failed",
] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
/** The statuses by name, for code that writes or compares one: no status is spelled outside this file. */
export const TASK = {
  pending: "pending",
  in_progress: "in_progress",
  blocked: "blocked",
  pending_review: "pending_review",
  rejected: "rejected",
  completed: "completed",
  failed: "failed",
} as const satisfies { [S in TaskStatus]: S };

/** What asked for the move. Recorded in the `task.status_changed` entry; some moves belong to one route. */
export type TransitionVia = "create" | "update" | "report" | "approve" | "reject" | "dispatch" | (string & {});

const MOVES: Record<TaskStatus, readonly TaskStatus[]> = {
  pending: ["in_progress", "blocked", "failed"],
  in_progress: ["blocked", "pending_review", "completed", "failed"],
  blocked: ["pending", "in_progress", "failed"],
  pending_review: ["completed", "rejected", "in_progress"],
  rejected: ["pending", "in_progress"],
  failed: ["pending"],
  completed: [],
};

/**
 * Moves that only one action may make: a review's outcome is decided by approve or reject, never by a
 * report or a PATCH naming the status.
 */
const RESERVED: Array<{ from: TaskStatus; to: TaskStatus; via: TransitionVia }> = [
  { from: "pending_review", to: "completed", via: "approve" },
  { from: "pending_review", to: "rejected", via: "reject" },
];

/**
 * A mission that ends (completed, failed, cancelled) fails every task still open with it, `rejected` ones
 * included (a move no route may make); `pending_review` stays for its review.
 */
export const MISSION_END: TransitionVia = "mission";
export const ENDED_WITH_MISSION: readonly TaskStatus[] = ["pending", "in_progress", "blocked", "rejected"];

/** The console narrows a status read from the API with it before asking which moves are legal. */
export function isTaskStatus(s: string): s is TaskStatus {
  return (TASK_STATUSES as readonly string[]).includes(s);
}

/**
 * Why `from → to` is not allowed for `via`, or null when it is. Staying in the same status is always legal
 * (a report that only adds outputs or logs).
 */
export function moveError(from: TaskStatus, to: TaskStatus, via: TransitionVia): string | null {
  if (from === to) return null;
  if (via === MISSION_END && to === "failed" && ENDED_WITH_MISSION.includes(from)) return null;
  if (!MOVES[from].includes(to)) return `cannot move from ${from} to ${to}`;
  const reserved = RESERVED.find((r) => r.from === from && r.to === to);
  if (reserved && reserved.via !== via) return `only ${reserved.via} can move a task from ${from} to ${to}`;
  return null;
}

export function canMoveTask(from: TaskStatus, to: TaskStatus, via: TransitionVia): boolean {
  return moveError(from, to, via) === null;
}

export function isTerminalTask(s: TaskStatus): boolean {
  return MOVES[s].length === 0;
}

// What runs do to a task (tasks.runs.ts applies these; the runtime only names the event).

/** Execute dispatches a task from these; a `failed` one is first moved back to `pending` (a retry). */
const EXECUTABLE: readonly TaskStatus[] = ["pending", "blocked", "rejected"];
const RETRIED_BY_EXECUTE: readonly TaskStatus[] = ["failed"];
/** A claimed dispatch runs only while its task is in one of these; otherwise the dispatch is dropped. */
const RUNNABLE: readonly TaskStatus[] = ["pending", "blocked", "rejected", "in_progress"];
/** A remote agent that accepted the task moves it from these to `in_progress`. */
export const ACCEPTED_BY_REMOTE: readonly TaskStatus[] = ["pending", "blocked", "rejected"];
/** A manual hand-over puts these back to `pending` (the agent pulls it from there). */
export const HANDED_OVER: readonly TaskStatus[] = ["blocked", "rejected"];
/** A failed run fails its task from these (a task the agent already moved to review stays there). */
export const FAILED_BY_RUN: readonly TaskStatus[] = ["pending", "in_progress", "blocked"];

export const isExecutable = (s: TaskStatus): boolean => EXECUTABLE.includes(s) || RETRIED_BY_EXECUTE.includes(s);
export const isRetriedByExecute = (s: TaskStatus): boolean => RETRIED_BY_EXECUTE.includes(s);
export const isRunnable = (s: TaskStatus): boolean => RUNNABLE.includes(s);
export const isEndedWithMission = (s: TaskStatus): boolean => ENDED_WITH_MISSION.includes(s);
