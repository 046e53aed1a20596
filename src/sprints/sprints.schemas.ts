import { Type, type Static } from "@sinclair/typebox";
import { EnumText, nameSchemas, Nullable, StringEnum, Timestamp } from "../core/envelope.js";
import { KeySchema } from "../core/ids.js";
import { PageQuery } from "../core/pagination.js";
import { TASK_STATUSES } from "../tasks/tasks.state.js";
import { SPRINT_STATUSES } from "./sprints.state.js";

export const SprintStatusSchema = StringEnum(SPRINT_STATUSES, {
  description: "planned (default), active, closed. Moves: planned → active or closed, active → closed, closed → active",
});

// A calendar date: the pattern fixes the shape (and rules out year 0000, which PostgreSQL rejects), the
// format rejects days that do not exist (2026-02-30, 2025-02-29). null clears the date.
const DateField = Type.Unsafe<string | null>({
  type: ["string", "null"],
  pattern: "^(?!0000)[0-9]{4}-[0-9]{2}-[0-9]{2}$",
  format: "date",
  description: "YYYY-MM-DD, a real calendar date, or null",
  examples: ["2026-02-24"],
});

const Name = Type.String({ minLength: 1, maxLength: 200 });
const Goal = Nullable(Type.String({ maxLength: 10_000 }));

export const SprintCreate = Type.Object(
  {
    sprint_id: Type.Optional(KeySchema),
    name: Name,
    goal: Type.Optional(Goal),
    start_date: Type.Optional(DateField),
    end_date: Type.Optional(DateField),
    status: Type.Optional(StringEnum(["planned"] as const, { description: "only the initial status may be given" })),
  },
  {
    additionalProperties: false,
    examples: [
      {
        sprint_id: "sprint-1",
        name: "Sprint 1",
        goal: "MVP features",
        start_date: "2026-02-24",
        end_date: "2026-03-07",
      },
    ],
  },
);
export type SprintCreate = Static<typeof SprintCreate>;

export const SprintUpdate = Type.Object(
  {
    sprint_id: Type.Optional(Type.String({ description: "keys cannot be changed; a different value is 422" })),
    name: Type.Optional(Name),
    goal: Type.Optional(Goal),
    start_date: Type.Optional(DateField),
    end_date: Type.Optional(DateField),
    status: Type.Optional(SprintStatusSchema),
  },
  { additionalProperties: false },
);
export type SprintUpdate = Static<typeof SprintUpdate>;

export const TaskCounts = Type.Object(
  {
    ...Object.fromEntries(TASK_STATUSES.map((s) => [s, Type.Integer()])),
    total: Type.Integer(),
  },
  { description: "how many of the sprint's tasks are in each status, and in all" },
);

export const Sprint = Type.Object({
  id: Type.Integer(),
  sprint_id: Type.String(),
  name: Type.String(),
  goal: Nullable(Type.String()),
  start_date: Nullable(Type.String({ examples: ["2026-02-24"] })),
  end_date: Nullable(Type.String({ examples: ["2026-03-07"] })),
  status: EnumText(SprintStatusSchema),
  task_counts: TaskCounts,
  inserted_at: Timestamp,
  updated_at: Timestamp,
});

export const SprintListQuery = Type.Object({
  status: Type.Optional(SprintStatusSchema),
  ...PageQuery,
});
export type SprintListQuery = Static<typeof SprintListQuery>;

// Names in the OpenAPI document's components.schemas (src/http/openapi.ts).
nameSchemas({ Sprint, SprintCreate, SprintUpdate, SprintStatus: SprintStatusSchema });
