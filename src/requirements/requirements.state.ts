// Requirement statuses. Pure. A requirement's status is set by whoever edits it: any status may follow any
// other (there is no state machine); what the statuses mean for progress is decided here.
export const REQUIREMENT_STATUSES = ["proposed", "accepted", "in_progress", "done", "rejected"] as const;
export type RequirementStatus = (typeof REQUIREMENT_STATUSES)[number];

/** Named statuses for writes (so no status is spelled outside this file). */
export const REQUIREMENT = {
  proposed: "proposed",
  accepted: "accepted",
  inProgress: "in_progress",
  done: "done",
  rejected: "rejected",
} as const satisfies Record<string, RequirementStatus>;

/** Delivered, whatever its tasks say: it counts as complete. */
export function isDoneRequirement(s: RequirementStatus): boolean {
  return s === REQUIREMENT.done;
}

/** Will not be delivered: left out of its objective's progress. */
export function isRejectedRequirement(s: RequirementStatus): boolean {
  return s === REQUIREMENT.rejected;
}
