import { Type, type Static } from "@sinclair/typebox";
import { nameSchemas, StringEnum } from "../core/envelope.js";
import { Objective, OrNull, RefFilter } from "../okrs/okrs.schemas.js";
import { Requirement } from "../requirements/requirements.schemas.js";

export const MatrixTask = Type.Object({
  id: Type.Integer(),
  task_id: Type.String(),
  objective: Type.String({ description: "the task's objective (its title)" }),
  status: Type.String(),
  mission_id: Type.String(),
  sprint_id: OrNull(Type.String()),
  agent_id: OrNull(Type.String()),
});

export const MatrixRequirement = Type.Composite([
  Requirement,
  Type.Object({ tasks: Type.Array(MatrixTask, { description: "the tasks in scope serving it, oldest first" }) }),
]);

export const MatrixObjective = Type.Composite([
  Objective,
  Type.Object({ requirements: Type.Array(MatrixRequirement) }),
]);

const Pct = (description: string) =>
  Type.Number({ description: `${description}; 0–100, one decimal, 0 when undefined` });

/** The figures given both overall and per requirement priority. */
const requirementFigures = {
  total_requirements: Type.Integer(),
  linked_requirements: Type.Integer({ description: "requirements with at least one task in scope" }),
  requirement_coverage_pct: Pct("linked_requirements ÷ total_requirements × 100"),
  delivered_requirements: Type.Integer({ description: "requirements with tasks, all of them completed" }),
  delivery_pct: Pct("delivered_requirements ÷ linked_requirements × 100"),
};

export const PriorityFigures = Type.Object({
  ...requirementFigures,
  total_tasks: Type.Integer({ description: "tasks in scope serving at least one requirement of this priority" }),
  completed_tasks: Type.Integer({ description: "of those, the completed ones" }),
});

export const MatrixStats = Type.Object({
  total_objectives: Type.Integer(),
  total_tasks: Type.Integer({ description: "tasks in scope" }),
  linked_tasks: Type.Integer({ description: "tasks in scope serving at least one requirement in scope" }),
  unlinked_tasks: Type.Integer(),
  task_coverage_pct: Pct("linked_tasks ÷ total_tasks × 100"),
  completed_tasks: Type.Integer({ description: "tasks in scope whose status is completed" }),
  ...requirementFigures,
  by_priority: Type.Object(
    { p0: PriorityFigures, p1: PriorityFigures, p2: PriorityFigures, p3: PriorityFigures, none: PriorityFigures },
    { description: "the requirement figures per requirement priority (`none`: requirements without one)" },
  ),
});

export const Matrix = Type.Object({
  objectives: Type.Array(MatrixObjective),
  unlinked_requirements: Type.Array(MatrixRequirement, { description: "requirements without an objective" }),
  unlinked_tasks: Type.Array(MatrixTask, { description: "tasks in scope serving no requirement" }),
  stats: MatrixStats,
});
export type Matrix = Static<typeof Matrix>;

export const MatrixQuery = Type.Object({
  objective_id: Type.Optional(RefFilter),
  mission_id: Type.Optional(RefFilter),
  sprint_id: Type.Optional(RefFilter),
  format: Type.Optional(StringEnum(["json", "csv"] as const, { description: "json (default) or csv" })),
});
export type MatrixQuery = Static<typeof MatrixQuery>;

// Names in the OpenAPI document's components.schemas (src/http/openapi.ts).
nameSchemas({ TraceabilityMatrix: Matrix });
