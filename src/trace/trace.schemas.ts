import { Type, type Static } from "@sinclair/typebox";
import { JsonObject, Nullable, Timestamp } from "../http/envelope.js";
import { PageQuery } from "../http/pagination.js";

export const TraceEntry = Type.Object({
  id: Type.Integer(),
  at: Timestamp,
  event: Type.String({ examples: ["task.status_changed"] }),
  actor: Type.String(),
  mission_id: Nullable(Type.String()),
  task_id: Nullable(Type.String()),
  agent_id: Nullable(Type.String()),
  data: JsonObject,
});

const filters = {
  task_id: Type.Optional(Type.String({ description: "integer id or key" })),
  agent_id: Type.Optional(Type.String({ description: "integer id or key" })),
  event: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  since: Type.Optional(Type.String({ format: "date-time", description: "entries at or after this moment" })),
  until: Type.Optional(Type.String({ format: "date-time", description: "entries at or before this moment" })),
  ...PageQuery,
};

export const TraceQuery = Type.Object({
  mission_id: Type.Optional(Type.String({ description: "integer id or key" })),
  ...filters,
});
export type TraceQuery = Static<typeof TraceQuery>;

export const MissionTraceQuery = Type.Object(filters);
