import { Type, type Static } from "@sinclair/typebox";
import { JsonObject, nameSchemas, Nullable, StringEnum, Timestamp } from "../core/envelope.js";
import { PageQuery } from "../core/pagination.js";
import { LIVE_EVENT_NAMES, TRACE_EVENT_NAMES } from "./trace.events.js";

/**
 * The stored event names (trace.events.ts). In answers the type stays `string` on the server: a row holds
 * whatever was written, and only the names of this list are ever written.
 */
const EventName = Type.Unsafe<string>(
  StringEnum(TRACE_EVENT_NAMES, { description: "the kind of change (trace.events.ts lists each with its data)" }),
);

export const TraceEntry = Type.Object({
  id: Type.Integer(),
  at: Timestamp,
  event: EventName,
  actor: Type.String(),
  mission_id: Nullable(Type.String()),
  task_id: Nullable(Type.String()),
  agent_id: Nullable(Type.String()),
  data: JsonObject,
});

const filters = {
  task_id: Type.Optional(Type.String({ description: "integer id or key" })),
  agent_id: Type.Optional(Type.String({ description: "integer id or key" })),
  event: Type.Optional(StringEnum(TRACE_EVENT_NAMES, { description: "one stored event name; any other is 422" })),
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

export const ChainQuery = Type.Object({
  mission_id: Type.Optional(
    Type.String({ description: "integer id or key of the mission whose chain to use; every chain when omitted" }),
  ),
});
export type ChainQuery = Static<typeof ChainQuery>;

export const VerifyResult = Type.Object({
  valid: Type.Boolean(),
  entries: Type.Integer({ description: "entries walked" }),
  first_bad_id: Nullable(
    Type.Integer({
      description: "the first entry that fails; null when valid or when entries are missing from the end",
    }),
  ),
  reason: Nullable(
    StringEnum(["hash_mismatch", "broken_link", "truncated", "head_mismatch"] as const, {
      description:
        "hash_mismatch: the entry's content was changed; broken_link: the entry does not follow the one before it " +
        "(an entry was deleted, inserted or moved); truncated: entries are missing from the end of a chain; " +
        "head_mismatch: a chain does not end on its recorded head",
    }),
  ),
});

export const ReplayBody = Type.Object(
  {
    until: Type.Optional(
      Type.String({
        format: "date-time",
        description: "rebuild the state as it was at this moment (entries at or before it)",
      }),
    ),
  },
  { additionalProperties: false },
);
export type ReplayBody = Static<typeof ReplayBody>;

export const ReplayResult = Type.Object({
  mission: Type.Object({ mission_id: Type.String(), status: Nullable(Type.String()) }),
  tasks: Type.Array(Type.Object({ task_id: Type.String(), status: Type.String(), agent_id: Nullable(Type.String()) })),
  events_replayed: Type.Integer({ description: "entries applied to the state" }),
  skipped: Type.Integer({ description: "entries of the chain that are not part of the mission's state (or unusable)" }),
  chain_valid: Type.Boolean({ description: "whether the mission's whole chain verifies" }),
  consistent: Nullable(
    Type.Boolean({ description: "whether the rebuilt state equals the stored one; null with `until`" }),
  ),
  timeline: Type.Array(
    Type.Object({
      at: Timestamp,
      task_id: Nullable(Type.String({ description: "null for a change of the mission's own status" })),
      from: Nullable(Type.String()),
      to: Type.String(),
      actor: Type.String(),
    }),
  ),
});

export const EventsQuery = Type.Object({
  mission_id: Type.Optional(Type.String({ description: "integer id or key" })),
  task_id: Type.Optional(Type.String({ description: "integer id or key" })),
  agent_id: Type.Optional(Type.String({ description: "integer id or key" })),
  event: Type.Optional(
    StringEnum(LIVE_EVENT_NAMES, {
      description: "a stored event name, or agent.heartbeat / task.log (live only); any other is 422",
    }),
  ),
  last_event_id: Type.Optional(
    Type.String({ description: "for clients that cannot send the Last-Event-ID header; the header wins" }),
  ),
});
export type EventsQuery = Static<typeof EventsQuery>;

// Names in the OpenAPI document's components.schemas (src/http/openapi.ts).
nameSchemas({ TraceEntry, VerifyResult, ReplayBody, ReplayResult });
