// The mission state machine: the only definition of which status moves are legal. Pure; the service's
// transition function is the only caller that writes a status.
export const MISSION_STATUSES = ["planning", "active", "paused", "completed", "failed", "cancelled"] as const;
export type MissionStatus = (typeof MISSION_STATUSES)[number];

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

/** Whether the mission's process tree should be running in this status. */
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
  }
}
