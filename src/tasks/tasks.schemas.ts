import { Type, type Static } from "@sinclair/typebox";
import { boundedJson, EnumText, JsonObject, nameSchemas, Nullable, StringEnum, Timestamp } from "../core/envelope.js";
import { KeySchema, RefSchema } from "../core/ids.js";
import { PageQuery } from "../core/pagination.js";
import { TASK_STATUSES } from "./tasks.state.js";

export const TaskStatusSchema = StringEnum(TASK_STATUSES, {
  description: "pending (initial), in_progress, blocked, pending_review, rejected, completed, failed",
});

const Priority = Type.Integer({ minimum: -2_147_483_648, maximum: 2_147_483_647 });
const Capabilities = Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: 100, uniqueItems: true });
const RequirementRefs = Type.Array(RefSchema, {
  maxItems: 500,
  description: "requirements this task serves, each by integer id or key; replaces the whole list",
});
const Objective = Type.String({ minLength: 1, maxLength: 10_000 });
/** One flat union (not Nullable(RefSchema)), so a bad value gets one message rather than one per level. */
const NullableRef = Type.Union([Type.Integer({ minimum: 1 }), KeySchema, Type.Null()], {
  description: "integer id or key; null for none",
});

export const TaskCreate = Type.Object(
  {
    task_id: Type.Optional(KeySchema),
    objective: Objective,
    status: Type.Optional(StringEnum(["pending"] as const, { description: "only the initial status may be given" })),
    agent_id: Type.Optional(NullableRef),
    sprint_id: Type.Optional(NullableRef),
    priority: Type.Optional(Nullable(Priority)),
    outputs: Type.Optional(JsonObject),
    required_capabilities: Type.Optional(Capabilities),
    requirement_ids: Type.Optional(RequirementRefs),
  },
  {
    additionalProperties: false,
    examples: [{ task_id: "task-001", objective: "Implement login endpoint", status: "pending" }],
  },
);
export type TaskCreate = Static<typeof TaskCreate>;

export const TaskUpdate = Type.Object(
  {
    task_id: Type.Optional(Type.String({ description: "keys cannot be changed; a different value is 422" })),
    objective: Type.Optional(Objective),
    status: Type.Optional(TaskStatusSchema),
    agent_id: Type.Optional(NullableRef),
    sprint_id: Type.Optional(NullableRef),
    priority: Type.Optional(Nullable(Priority)),
    outputs: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), boundedJson({ description: "replaces the outputs" })),
    ),
    required_capabilities: Type.Optional(Capabilities),
    requirement_ids: Type.Optional(RequirementRefs),
  },
  { additionalProperties: false },
);
export type TaskUpdate = Static<typeof TaskUpdate>;

export const LogInput = Type.Object(
  {
    message: Type.String({ minLength: 1, maxLength: 65_536 }),
    timestamp: Type.Optional(Type.String({ format: "date-time", description: "defaults to the server's time" })),
    level: Type.Optional(
      Type.String({ minLength: 1, maxLength: 32, description: "free text, e.g. info, warn, error" }),
    ),
  },
  { additionalProperties: false },
);

export const TaskReport = Type.Object(
  {
    status: Type.Optional(TaskStatusSchema),
    outputs: Type.Optional(
      Type.Record(
        Type.String(),
        Type.Unknown(),
        boundedJson({ description: "shallow-merged into the task's outputs" }),
      ),
    ),
    logs: Type.Optional(Type.Array(LogInput, { maxItems: 1000, description: "appended to the task's logs" })),
  },
  {
    additionalProperties: false,
    examples: [
      {
        status: "in_progress",
        outputs: { files_changed: 3 },
        logs: [{ message: "Tests passing", timestamp: "2026-02-26T12:00:00Z" }],
      },
    ],
  },
);
export type TaskReport = Static<typeof TaskReport>;

export const ReviewBody = Type.Object(
  { comment: Type.Optional(Type.String({ maxLength: 10_000, description: "kept in the trace" })) },
  { additionalProperties: false },
);
export type ReviewBody = Static<typeof ReviewBody>;

export const TaskLog = Type.Object({
  message: Type.String(),
  timestamp: Timestamp,
  level: Type.Optional(Type.String()),
});

const taskFields = {
  id: Type.Integer(),
  task_id: Type.String(),
  mission_id: Type.String(),
  objective: Type.String(),
  status: EnumText(TaskStatusSchema),
  agent_id: Nullable(Type.String()),
  sprint_id: Nullable(Type.String()),
  requirement_ids: Type.Array(Type.String()),
  required_capabilities: Type.Array(Type.String()),
  priority: Nullable(Type.Integer()),
  outputs: JsonObject,
  inserted_at: Timestamp,
  updated_at: Timestamp,
};

export const Task = Type.Object({
  ...taskFields,
  logs: Type.Array(TaskLog, { description: "the latest 100 log lines, oldest first; all of them at /logs" }),
});

/** List items: a task without its logs (a page of tasks stays one small query). */
export const TaskSummary = Type.Object(taskFields);

export const TaskListQuery = Type.Object({
  status: Type.Optional(TaskStatusSchema),
  agent_id: Type.Optional(Type.String({ description: "integer id or key of the assigned agent" })),
  sprint_id: Type.Optional(Type.String({ description: "integer id or key of the sprint" })),
  ...PageQuery,
});
export type TaskListQuery = Static<typeof TaskListQuery>;

export const MissionIdParam = Type.Object({ mission_id: Type.String({ description: "integer id or key" }) });

export const LogListQuery = Type.Object({ ...PageQuery });
export type LogListQuery = Static<typeof LogListQuery>;

// Names in the OpenAPI document's components.schemas (src/http/openapi.ts).
nameSchemas({
  Task,
  TaskSummary,
  TaskCreate,
  TaskUpdate,
  TaskReport,
  TaskLog,
  ReviewBody,
  TaskStatus: TaskStatusSchema,
});
