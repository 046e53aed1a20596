// The sprint state machine: the only definition of which status moves are legal. Pure; the sprints
// service's transition function is the only code that writes a sprint's status.
// planned → active → closed is the life of a sprint; a planned sprint may be closed without running
// (dropped), and a closed sprint may be reopened (active) when it was closed by mistake or work spills over.
export const SPRINT_STATUSES = ["planned", "active", "closed"] as const;
export type SprintStatus = (typeof SPRINT_STATUSES)[number];

/** Named statuses for writes (so no status is spelled outside this file). */
export const SPRINT = { planned: "planned", active: "active", closed: "closed" } as const satisfies {
  [S in SprintStatus]: S;
};

const MOVES: Record<SprintStatus, readonly SprintStatus[]> = {
  planned: ["active", "closed"],
  active: ["closed"],
  closed: ["active"],
};

export function canMoveSprint(from: SprintStatus, to: SprintStatus): boolean {
  return MOVES[from].includes(to);
}
