// An agent worker's state (in memory, shown in a mission's `runtime.workers`). Moves: idle ⇄ running; a crash
// with a retry left makes it restarting until the retry is claimed; too many crashes make it escalated until a
// person resets the agent (then idle); stop makes it stopped, except that escalated stays (a reset must see it).
export const WORKER_STATES = ["idle", "running", "restarting", "stopped", "escalated"] as const;
export type WorkerState = (typeof WORKER_STATES)[number];

export const WORKER = {
  idle: "idle",
  running: "running",
  restarting: "restarting",
  stopped: "stopped",
  escalated: "escalated",
} as const satisfies { [S in WorkerState]: S };

/** How a run's end leaves the worker: escalated, waiting for a retry, or as it was. */
export type AfterRun = typeof WORKER.escalated | typeof WORKER.restarting | null;
