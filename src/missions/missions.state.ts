// The mission state machine: the only definition of which status moves are legal. Pure; the service's
// transition function is the only caller that writes a status.
import { assertNever } from "../core/assert-never.js";

export const MISSION_STATUSES = ["planning", "active", "paused", "completed", "failed", "cancelled"] as const;
export type MissionStatus = (typeof MISSION_STATUSES)[number];

/** Named statuses for writes (so no status is spelled outside this file). */
export const MISSION = {
  planning: "planning",
  active: "active",
  paused: "paused",
  completed: "completed",
  failed: "failed",
  cancelled: "cancelled",
} as const satisfies { [S in MissionStatus]: S };

const MOVES: Record<MissionStatus, readonly MissionStatus[]> = {
  planning: ["active", "completed", "failed", "cancelled"],
  active: ["paused", "completed", "failed", "cancelled"],
  paused: ["active", "completed", "failed", "cancelled"],
  completed: [],
  failed: [],
  cancelled: [],
};

export function canMoveMission(from: MissionStatus, to: MissionStatus): boolean {
  return MOVES[from].includes(to);
}

export function isTerminalMission(s: MissionStatus): boolean {
  return MOVES[s].length === 0;
}

/**
 * Whether the mission's process tree should be running in this status. Spend accrues only then: a mission is
 * refused this status while over its budget, and paused when it goes over in it.
 */
export function missionRuns(s: MissionStatus): boolean {
  switch (s) {
    case "active":
      return true;
    case "planning":
    case "paused":
    case "completed":
    case "failed":
    case "cancelled":
      return false;
    default:
      return assertNever(s);
  }
}
