import { date, doublePrecision, index, integer, pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { id, insertedAt, updatedAt } from "./columns.js";
import { tasks } from "./tasks.js";
import type { ObjectiveStatus } from "../../okrs/okrs.state.js";
import type { RequirementStatus } from "../../requirements/requirements.state.js";

export const objectives = pgTable("objectives", {
  id: id(),
  objectiveId: text("objective_id").notNull().unique(),
  title: text("title").notNull(),
  description: text("description"),
  priority: integer("priority"),
  status: text("status").$type<ObjectiveStatus>().notNull().default("active"),
  /** Set by hand; only used when the objective has no dates to derive health from. */
  health: text("health"),
  startDate: date("start_date", { mode: "string" }),
  endDate: date("end_date", { mode: "string" }),
  insertedAt: insertedAt(),
  updatedAt: updatedAt(),
});

export const keyResults = pgTable(
  "key_results",
  {
    id: id(),
    krId: text("kr_id").notNull().unique(),
    objectiveId: integer("objective_id")
      .notNull()
      .references(() => objectives.id),
    title: text("title").notNull(),
    target: doublePrecision("target"),
    current: doublePrecision("current"),
    /** Set directly when there is no target/current to compute it from. */
    progress: doublePrecision("progress"),
    /** `increase` (higher is better) or `decrease` (lower is better): okrs.progress.ts. */
    direction: text("direction").notNull().default("increase"),
    /** The baseline progress is measured from (`start` in the API); null: 0 for an increase. */
    startValue: doublePrecision("start_value"),
    insertedAt: insertedAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index("key_results_objective_idx").on(t.objectiveId)],
);

export const requirements = pgTable(
  "requirements",
  {
    id: id(),
    requirementId: text("requirement_id").notNull().unique(),
    title: text("title").notNull(),
    description: text("description"),
    priority: text("priority"),
    horizon: text("horizon"),
    status: text("status").$type<RequirementStatus>().notNull().default("proposed"),
    objectiveId: integer("objective_id").references(() => objectives.id),
    krId: integer("kr_id").references(() => keyResults.id),
    insertedAt: insertedAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index("requirements_objective_idx").on(t.objectiveId)],
);

export const taskRequirements = pgTable(
  "task_requirements",
  {
    taskId: integer("task_id")
      .notNull()
      .references(() => tasks.id),
    requirementId: integer("requirement_id")
      .notNull()
      .references(() => requirements.id),
  },
  (t) => [primaryKey({ columns: [t.taskId, t.requirementId] }), index("task_requirements_req_idx").on(t.requirementId)],
);
