import { Type, type Static } from "@sinclair/typebox";
import { nameSchemas, Nullable, StringEnum, Timestamp } from "../core/envelope.js";
import { PageQuery } from "../core/pagination.js";
import { DISPATCH_STATUSES } from "./dispatch.state.js";

export const ExecuteBody = Type.Object(
  {
    approve_policy: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description: "decision_id of a require_approval decision a member approves",
      }),
    ),
  },
  { additionalProperties: false },
);

export const Dispatch = Type.Object({
  id: Type.Integer(),
  task_id: Type.String(),
  mission_id: Type.String(),
  agent_id: Type.String(),
  status: StringEnum(DISPATCH_STATUSES, {
    description:
      "awaiting_approval (parked by a guardrail), queued, running; final: succeeded (the run exited 0), " +
      "delivered (handed to a remote or manual agent), failed, cancelled",
  }),
  attempt: Type.Integer(),
  run_after: Timestamp,
  reason: Nullable(Type.String()),
  started_at: Nullable(Timestamp),
  finished_at: Nullable(Timestamp),
  inserted_at: Timestamp,
  policy: Nullable(
    Type.Object(
      { decision_id: Type.Integer(), decision: Type.String(), messages: Type.Array(Type.String()) },
      {
        description:
          "the guardrail decision when it was not a plain allow: in execute's answer a warn or require_approval; " +
          "on a dispatch read later, the require_approval decision that parked it (its decision_id is what " +
          "`approve_policy` takes), also after it was approved",
      },
    ),
  ),
});

const RefFilter = Type.String({ pattern: "^[A-Za-z0-9._:-]{1,128}$", description: "integer id or key" });

export const DispatchListQuery = Type.Object({
  status: Type.Optional(
    StringEnum(DISPATCH_STATUSES, { description: "awaiting_approval lists the dispatches parked by a guardrail" }),
  ),
  mission_id: Type.Optional(RefFilter),
  task_id: Type.Optional(RefFilter),
  ...PageQuery,
});
export type DispatchListQuery = Static<typeof DispatchListQuery>;

// Names in the OpenAPI document's components.schemas (src/http/openapi.ts).
nameSchemas({ Dispatch, ExecuteBody });
