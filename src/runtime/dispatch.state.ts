// Dispatch statuses: the only definition of what a dispatch row's status may be and how it moves. Pure.
// A dispatch is live (holds its task: the partial unique index `dispatches_one_live_per_task`) while it is
// awaiting approval, queued or running; the other statuses are final. Who moves it:
// - execute: a new row is `queued`, or `awaiting_approval` when a guardrail asks for a member's approval;
// - approve: awaiting_approval → queued;
// - a worker's claim: queued → running; unclaim, a pause, a shutdown or a recovery: running → queued;
// - the run's end: running → succeeded (a process exited 0), delivered (a webhook or manual hand-over took
//   it), failed, or cancelled (its task can no longer run, its agent left the mission);
// - a mission's end: any live status → cancelled.
import { assertNever } from "../core/assert-never.js";
import type { AdapterKind } from "./adapters/types.js";

export const DISPATCH_STATUSES = [
  "awaiting_approval",
  "queued",
  "running",
  "succeeded",
  "delivered",
  "failed",
  "cancelled",
] as const;
export type DispatchStatus = (typeof DISPATCH_STATUSES)[number];

const MOVES: Record<DispatchStatus, readonly DispatchStatus[]> = {
  awaiting_approval: ["queued", "cancelled"],
  queued: ["running", "cancelled"],
  running: ["queued", "succeeded", "delivered", "failed", "cancelled"],
  succeeded: [],
  delivered: [],
  failed: [],
  cancelled: [],
};

/** The statuses in which a dispatch holds its task (at most one per task). */
export const LIVE_DISPATCH_STATUSES = ["queued", "running", "awaiting_approval"] as const satisfies DispatchStatus[];
/** What counts as an agent's load when execute picks the least busy agent. */
export const LOAD_DISPATCH_STATUSES = ["queued", "running"] as const satisfies DispatchStatus[];

/** The status a new dispatch starts in: parked until approved, or queued for its worker. */
export function initialDispatchStatus(awaitsApproval: boolean): DispatchStatus {
  return awaitsApproval ? "awaiting_approval" : "queued";
}

export function canMoveDispatch(from: DispatchStatus, to: DispatchStatus): boolean {
  return MOVES[from].includes(to);
}

export function isLiveDispatch(s: DispatchStatus): boolean {
  return (LIVE_DISPATCH_STATUSES as readonly DispatchStatus[]).includes(s);
}

export function isFinalDispatch(s: DispatchStatus): boolean {
  return MOVES[s].length === 0;
}

/** A worker may claim it (once its run_after has come). */
export function isDispatchable(s: DispatchStatus): boolean {
  return s === "queued";
}

/** A worker holds a run for it. */
export function isRunningDispatch(s: DispatchStatus): boolean {
  return s === "running";
}

/** Parked by a guardrail until a member approves. */
export function isAwaitingApproval(s: DispatchStatus): boolean {
  return s === "awaiting_approval";
}

/** The status of a run that ended well: a process that exited 0 succeeded; a hand-over was delivered. */
export function succeededStatus(kind: AdapterKind): DispatchStatus {
  switch (kind) {
    case "process":
      return "succeeded";
    case "remote":
    case "manual":
      return "delivered";
    default:
      return assertNever(kind);
  }
}

/** Named statuses for writes (so no literal is spelled outside this file). */
export const DISPATCH = {
  awaitingApproval: "awaiting_approval",
  queued: "queued",
  running: "running",
  failed: "failed",
  cancelled: "cancelled",
} as const satisfies Record<string, DispatchStatus>;
