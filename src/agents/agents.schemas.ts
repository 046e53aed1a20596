import { Type, type SchemaOptions, type Static, type TSchema } from "@sinclair/typebox";
import { boundedJson, EnumText, JsonObject, nameSchemas, Nullable, StringEnum, Timestamp } from "../core/envelope.js";
import { KeySchema } from "../core/ids.js";
import { PageQuery } from "../core/pagination.js";
import { AGENT_EVENTS, AGENT_STATUSES } from "./agents.state.js";
import { ADAPTER_MODULES } from "../runtime/agent-config.js";

export const AgentStatusSchema = StringEnum(AGENT_STATUSES, {
  description: "idle, working, blocked, waiting_for_input, error, offline (also: never reported, or stale)",
});

const Name = Type.String({ minLength: 1, maxLength: 200 });
const AdapterModule = StringEnum(ADAPTER_MODULES, {
  description:
    "the adapter that drives the agent (default `manual`). Its `config` is checked against that adapter's settings " +
    "(src/runtime/agent-config.ts): a wrong type, an unknown key, or a `repo` that is not a git repository here is 422.",
});
const Capabilities = Type.Array(Type.String({ minLength: 1, maxLength: 128 }), {
  maxItems: 100,
  description: "duplicates are dropped",
});
const Config = Type.Record(Type.String(), Type.Unknown(), {
  ...boundedJson(),
  description:
    "adapter settings. Values under keys containing token, key, secret or password (any case, any depth) are " +
    'stored but never returned: they read as "[REDACTED]", and sending "[REDACTED]" back keeps the stored value.',
});
const readOnly = (what: string) =>
  Type.Optional(Type.Unknown({ readOnly: true, description: `read-only (${what}); giving it is 422` }));

export const AgentCreate = Type.Object(
  {
    agent_id: Type.Optional(KeySchema),
    name: Type.Optional(Nullable(Name)),
    adapter_module: Type.Optional(AdapterModule),
    capabilities: Type.Optional(Capabilities),
    config: Type.Optional(Config),
    status: readOnly("set by activity reports"),
    current_task_id: readOnly("set by activity reports"),
    last_seen_at: readOnly("set by activity reports"),
  },
  {
    additionalProperties: false,
    examples: [
      {
        agent_id: "claude-code-1",
        name: "Claude Code Agent",
        adapter_module: "claude_code",
        capabilities: ["coding", "testing"],
      },
    ],
  },
);
export type AgentCreate = Static<typeof AgentCreate>;

export const AgentUpdate = Type.Object(
  {
    agent_id: Type.Optional(Type.String({ description: "keys cannot be changed; a different value is 422" })),
    name: Type.Optional(Nullable(Name)),
    adapter_module: Type.Optional(AdapterModule),
    capabilities: Type.Optional(Capabilities),
    config: Type.Optional(Config),
    status: readOnly("set by activity reports"),
    current_task_id: readOnly("set by activity reports"),
    last_seen_at: readOnly("set by activity reports"),
  },
  { additionalProperties: false },
);
export type AgentUpdate = Static<typeof AgentUpdate>;

/** A nullable field with its own description (read-only fields of the representation). */
const NullableWith = <T extends TSchema>(t: T, opts: SchemaOptions) => Type.Union([t, Type.Null()], opts);

export const Agent = Type.Object({
  id: Type.Integer(),
  agent_id: Type.String(),
  name: Nullable(Type.String()),
  adapter_module: Type.String(),
  capabilities: Type.Array(Type.String()),
  config: JsonObject,
  warnings: Type.Array(Type.String(), {
    description:
      "what will stop a dispatch to this agent, e.g. a CLI binary not found on this server's PATH (a write still succeeds)",
  }),
  status: EnumText(
    StringEnum(AGENT_STATUSES, {
      description:
        "as stored: set by activity reports, hooks, the runtime's runs (working while a run holds the agent), staleness " +
        "(offline after MC_AGENT_STALE_AFTER_S of silence, written by the server within a second) and resets; " +
        "offline when never heard from",
    }),
  ),
  status_reason: Type.String({
    readOnly: true,
    description:
      'why the status is what it is, in one sentence: "running task-12 (pid 4242), last output 3 s ago", ' +
      '"no heartbeat for 312 s", "run of task-9 failed: agent process exited with code 1", "SessionEnd from Claude Code"',
  }),
  status_since: NullableWith(Timestamp, {
    readOnly: true,
    description: "when the status last changed (null: not since the agent was created)",
  }),
  current_task_id: Nullable(Type.String()),
  last_seen_at: Nullable(Timestamp),
  last_event: NullableWith(Type.Object({ event: Type.String(), at: Nullable(Timestamp) }), {
    readOnly: true,
    description:
      "the last activity event reported for the agent (by itself, its hooks or the runtime), heartbeats aside",
  }),
  run: NullableWith(
    Type.Object({
      task_id: Type.String(),
      pid: Nullable(Type.Integer()),
      started_at: Nullable(Timestamp),
      last_output_at: NullableWith(Timestamp, {
        description: "the run's last output line or tool event (at most a second behind)",
      }),
      attempt: Type.Integer(),
    }),
    {
      readOnly: true,
      description:
        "the runtime's live run of the agent (the newest, with max_concurrency above 1), as every server sees it; null when none",
    },
  ),
  inserted_at: Timestamp,
  updated_at: Timestamp,
});

export const AgentListQuery = Type.Object({
  status: Type.Optional(AgentStatusSchema),
  adapter_module: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  capability: Type.Optional(
    Type.String({ minLength: 1, maxLength: 128, description: "agents that have this capability" }),
  ),
  ...PageQuery,
});
export type AgentListQuery = Static<typeof AgentListQuery>;

export const AgentParam = Type.Object({ agent_id: Type.String({ description: "integer id or key" }) });

export const ActivityReport = Type.Object(
  {
    event: StringEnum(AGENT_EVENTS),
    context: Type.Optional(
      Type.Object(
        {
          task_id: Type.Optional(
            Type.Union([Type.Integer({ minimum: 1 }), KeySchema, Type.Null()], {
              description: "for task_start: the task (integer id or key) the agent is starting",
            }),
          ),
        },
        boundedJson({ additionalProperties: true, description: "free-form; kept in the trace" }),
      ),
    ),
  },
  {
    additionalProperties: false,
    examples: [{ event: "task_start", context: { task_id: "task-001", description: "Working on login endpoint" } }],
  },
);
export type ActivityReport = Static<typeof ActivityReport>;

// Mission agents.
export const MissionAgentAdd = Type.Object(
  {
    agent_id: Type.Union([Type.Integer({ minimum: 1 }), Type.String({ minLength: 1 })], {
      description: "integer id or key of the agent",
    }),
  },
  { additionalProperties: false, examples: [{ agent_id: 1 }, { agent_id: "claude-code-1" }] },
);
export type MissionAgentAdd = Static<typeof MissionAgentAdd>;

export const MissionParam = Type.Object({ mission_id: Type.String({ description: "integer id or key" }) });
export const MissionAgentParams = Type.Object({
  mission_id: Type.String({ description: "integer id or key of the mission" }),
  id: Type.String({ description: "integer id or key of the agent" }),
});
export const MissionAgentListQuery = Type.Object({ ...PageQuery });
export type MissionAgentListQuery = Static<typeof MissionAgentListQuery>;

// Names in the OpenAPI document's components.schemas (src/http/openapi.ts).
nameSchemas({ Agent, AgentCreate, AgentUpdate, ActivityReport, MissionAgentAdd, AgentStatus: AgentStatusSchema });
