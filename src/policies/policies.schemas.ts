import { Type, type Static } from "@sinclair/typebox";
import { boundedJson, JsonObject, nameSchemas, Nullable, StringEnum, Timestamp } from "../core/envelope.js";
import { KeySchema } from "../core/ids.js";
import { PageQuery } from "../core/pagination.js";
import { DECISIONS, MAX_ACTIONS, POLICY_MODES } from "./decide.js";

const ScopeSchema = Type.String({
  maxLength: 200,
  description:
    "`global`, `mission:<key>` or `agent:<key>` (an integer id is accepted and stored as the key). A mission " +
    "must exist; an agent key need not yet (agents register themselves on their first report).",
  examples: ["global", "mission:mission-001", "agent:claude-code-1"],
});

const ConditionsSchema = Type.Record(Type.String(), Type.Unknown(), {
  description:
    "Matches an action object: every key must match. Keys are field paths (dotted: `tool.name`) or the " +
    "combinators `$any`, `$all`, `$not`. A plain value matches by equality, a nested object matches the " +
    "nested value, an operator object by its operators: `$in`, `$nin`, `$regex` (RE2 syntax, linear time; " +
    "`$options`: i, m, s), `$gt`, `$gte`, `$lt`, `$lte` (number or string), `$exists`, `$not`, `$any`, `$all`. " +
    "A condition on an array field matches when any element matches (as in MongoDB); `null` also matches a " +
    "missing field. Invalid conditions are 422 naming the path (`conditions.branch.$regex`).",
  examples: [{ action_type: "git_push", force: true }],
});

const ActionsSchema = Type.Array(Type.Record(Type.String(), Type.Unknown()), {
  ...boundedJson(),
  maxItems: MAX_ACTIONS,
  description:
    'One-key objects: `{"block": "<message>"}`, `{"require_approval": "<message>"}`, `{"warn": "<message>"}`.',
  examples: [[{ block: "Force push not allowed" }]],
});

const ModeSchema = StringEnum(POLICY_MODES, {
  description: "`enforce` (default) or `dry_run`: matches are computed and recorded but never decide",
});

export const PolicyCreate = Type.Object(
  {
    policy_id: Type.Optional(KeySchema),
    description: Type.Optional(Nullable(Type.String({ maxLength: 10_000 }))),
    scope: Type.Optional(ScopeSchema),
    conditions: ConditionsSchema,
    actions: ActionsSchema,
    enabled: Type.Optional(Type.Boolean({ description: "default true" })),
    mode: Type.Optional(ModeSchema),
  },
  {
    additionalProperties: false,
    examples: [
      {
        policy_id: "no-force-push",
        description: "Prevent force pushing to protected branches",
        scope: "global",
        conditions: { action_type: "git_push", force: true },
        actions: [{ block: "Force push not allowed" }],
      },
    ],
  },
);
export type PolicyCreate = Static<typeof PolicyCreate>;

export const PolicyUpdate = Type.Object(
  {
    policy_id: Type.Optional(Type.String({ description: "keys cannot be changed; a different value is 422" })),
    description: Type.Optional(Nullable(Type.String({ maxLength: 10_000 }))),
    scope: Type.Optional(ScopeSchema),
    conditions: Type.Optional(ConditionsSchema),
    actions: Type.Optional(ActionsSchema),
    enabled: Type.Optional(Type.Boolean()),
    mode: Type.Optional(ModeSchema),
    version: Type.Optional(
      Type.Integer({
        minimum: 1,
        description:
          "Optional precondition: the version you read. If the policy has changed since, 422 and nothing changes.",
      }),
    ),
  },
  { additionalProperties: false },
);
export type PolicyUpdate = Static<typeof PolicyUpdate>;

const PolicyActionView = Type.Record(Type.String(), Type.String());

export const Policy = Type.Object({
  id: Type.Integer(),
  policy_id: Type.String(),
  description: Nullable(Type.String()),
  scope: Type.String(),
  conditions: JsonObject,
  actions: Type.Array(PolicyActionView),
  enabled: Type.Boolean(),
  mode: Type.String(),
  version: Type.Integer({ description: "1 on create, one more with every change" }),
  inserted_at: Timestamp,
  updated_at: Timestamp,
});

export const PolicyListQuery = Type.Object({
  scope: Type.Optional(
    Type.String({ maxLength: 200, description: "exact scope, e.g. `global` or `mission:mission-001`" }),
  ),
  enabled: Type.Optional(Type.Boolean()),
  mode: Type.Optional(ModeSchema),
  ...PageQuery,
});
export type PolicyListQuery = Static<typeof PolicyListQuery>;

export const TemplateParam = Type.Object({ template_id: Type.String({ maxLength: 200 }) });

export const TemplateCreate = Type.Object(
  {
    policy_id: Type.Optional(KeySchema),
    description: Type.Optional(Nullable(Type.String({ maxLength: 10_000 }))),
    scope: Type.Optional(ScopeSchema),
    enabled: Type.Optional(Type.Boolean()),
    mode: Type.Optional(ModeSchema),
  },
  { additionalProperties: false },
);
export type TemplateCreate = Static<typeof TemplateCreate>;

export const PolicyTemplateView = Type.Object({
  template_id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  policy: Type.Object({
    policy_id: Type.String(),
    description: Type.String(),
    scope: Type.String(),
    conditions: JsonObject,
    actions: Type.Array(PolicyActionView),
    enabled: Type.Boolean(),
    mode: Type.String(),
  }),
});

// One flat union (not Nullable(RefSchema)), so a bad value gets one message rather than one per nested union.
const NullableRef = (description: string) =>
  Type.Union([Type.Integer({ minimum: 1 }), KeySchema, Type.Null()], { description });
const OptionalRef = Type.Optional(NullableRef("integer id or key"));

export const EvaluateBody = Type.Object(
  {
    action: Type.Record(Type.String(), Type.Unknown(), {
      description: 'The action about to be taken, e.g. `{"action_type": "git_push", "force": true, "branch": "main"}`',
    }),
    mission_id: OptionalRef,
    agent_id: Type.Optional(
      NullableRef("integer id or key; with an agent token it can only be that token's own agent (the default)"),
    ),
    task_id: OptionalRef,
  },
  { additionalProperties: false, examples: [{ action: { action_type: "git_push", force: true, branch: "main" } }] },
);
export type EvaluateBody = Static<typeof EvaluateBody>;

const DecisionSchema = StringEnum(DECISIONS);

const MatchedPolicyView = Type.Object({
  policy_id: Type.String(),
  version: Type.Integer(),
  mode: Type.String(),
  actions: Type.Array(PolicyActionView),
});

export const PolicyDecisionView = Type.Object({
  decision_id: Type.Integer({ description: "id of the `policy.evaluated` trace entry that records this decision" }),
  decision: DecisionSchema,
  mode: StringEnum(POLICY_MODES, {
    description:
      "`dry_run` when matched dry-run policies would have made the decision stricter (see `dry_run_decision`), else `enforce`",
  }),
  dry_run_decision: StringEnum(DECISIONS, {
    description: "the decision if the matched dry-run policies were enforced too",
  }),
  matched: Type.Array(MatchedPolicyView, { description: "matched enforced policies; these decide" }),
  dry_run_matched: Type.Array(MatchedPolicyView, { description: "matched dry-run policies; reported, never deciding" }),
  messages: Type.Array(Type.String(), { description: "messages of the matched enforced actions, strictest first" }),
  mission_id: Nullable(Type.String()),
  agent_id: Nullable(Type.String()),
  task_id: Nullable(Type.String()),
});

// Names in the OpenAPI document's components.schemas (src/http/openapi.ts).
nameSchemas({
  Policy,
  PolicyCreate,
  PolicyUpdate,
  PolicyTemplate: PolicyTemplateView,
  PolicyDecision: PolicyDecisionView,
  EvaluateBody,
});
