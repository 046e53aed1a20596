import { Type, type Static } from "@sinclair/typebox";
import { EnumText, JsonObject, nameSchemas, Nullable, StringEnum, Timestamp } from "../core/envelope.js";
import { KeySchema } from "../core/ids.js";
import { PageQuery } from "../core/pagination.js";
import { MISSION_STATUSES } from "./missions.state.js";
import { WORKER_STATES } from "../runtime/worker.state.js";

export const MissionStatusSchema = StringEnum(MISSION_STATUSES, {
  description: "planning (default), active, paused, completed, failed, cancelled",
});

const BudgetUsd = Nullable(
  Type.Number({
    minimum: 0,
    maximum: 1_000_000_000,
    description:
      "spend limit in US dollars, or null for none. The mission's spend is the sum of its tasks' outputs.cost_usd; " +
      "an active mission whose spend passes its budget is paused automatically (traced), and cannot be started again " +
      "until the budget is raised.",
  }),
);

export const MissionCreate = Type.Object(
  {
    mission_id: Type.Optional(KeySchema),
    goal: Type.String({ minLength: 1, maxLength: 10_000 }),
    status: Type.Optional(StringEnum(["planning"] as const, { description: "only the initial status may be given" })),
    description: Type.Optional(Nullable(Type.String({ maxLength: 100_000 }))),
    metadata: Type.Optional(JsonObject),
    budget_usd: Type.Optional(BudgetUsd),
  },
  {
    additionalProperties: false,
    examples: [{ mission_id: "mission-001", goal: "Build authentication module", status: "planning" }],
  },
);
export type MissionCreate = Static<typeof MissionCreate>;

export const MissionUpdate = Type.Object(
  {
    mission_id: Type.Optional(Type.String({ description: "keys cannot be changed; a different value is 422" })),
    goal: Type.Optional(Type.String({ minLength: 1, maxLength: 10_000 })),
    status: Type.Optional(MissionStatusSchema),
    description: Type.Optional(Nullable(Type.String({ maxLength: 100_000 }))),
    metadata: Type.Optional(JsonObject),
    budget_usd: Type.Optional(BudgetUsd),
  },
  { additionalProperties: false },
);
export type MissionUpdate = Static<typeof MissionUpdate>;

export const WorkerView = Type.Object({
  agent_id: Type.String(),
  state: StringEnum(WORKER_STATES, { description: "the agent worker's state in this server" }),
  current_task_id: Nullable(Type.String()),
});

export const RuntimeView = Type.Object({
  running: Type.Boolean({ description: "whether the mission's process tree is running" }),
  workers: Type.Array(WorkerView),
});
export type RuntimeView = Static<typeof RuntimeView>;

export const Mission = Type.Object({
  id: Type.Integer(),
  mission_id: Type.String(),
  goal: Type.String(),
  status: EnumText(MissionStatusSchema),
  description: Nullable(Type.String()),
  metadata: JsonObject,
  budget_usd: Nullable(Type.Number({ description: "spend limit in US dollars, or null" })),
  spent_usd: Type.Number({
    description: "what the mission's tasks have cost so far: the sum of their outputs.cost_usd",
  }),
  runtime: RuntimeView,
  inserted_at: Timestamp,
  updated_at: Timestamp,
});

export const MissionListQuery = Type.Object({
  status: Type.Optional(MissionStatusSchema),
  ...PageQuery,
});
export type MissionListQuery = Static<typeof MissionListQuery>;

// Names in the OpenAPI document's components.schemas (src/http/openapi.ts).
nameSchemas({ Mission, MissionCreate, MissionUpdate, MissionStatus: MissionStatusSchema });
