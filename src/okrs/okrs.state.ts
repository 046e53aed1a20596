// Objective statuses. Pure. An objective's status is set by whoever edits it: any status may follow any other
// (there is no state machine, unlike missions and tasks), so this file is only the list and its names.
export const OBJECTIVE_STATUSES = ["draft", "active", "completed", "cancelled"] as const;
export type ObjectiveStatus = (typeof OBJECTIVE_STATUSES)[number];

/** Named statuses for writes (so no status is spelled outside this file). */
export const OBJECTIVE = {
  draft: "draft",
  active: "active",
  completed: "completed",
  cancelled: "cancelled",
} as const satisfies { [S in ObjectiveStatus]: S };
