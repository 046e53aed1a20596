import { Type, type Static } from "@sinclair/typebox";
import { EnumText, nameSchemas, StringEnum, Timestamp } from "../core/envelope.js";
import { KeySchema } from "../core/ids.js";
import { PageQuery } from "../core/pagination.js";
import { LongText, OrNull, RefFilter, Title } from "../okrs/okrs.schemas.js";
import { REQUIREMENT_STATUSES } from "./requirements.state.js";

export const REQUIREMENT_PRIORITIES = ["p0", "p1", "p2", "p3"] as const;
export const REQUIREMENT_HORIZONS = ["h1", "h2", "h3"] as const;
/** Labels without a state machine: any move is allowed. */

export const PrioritySchema = StringEnum(REQUIREMENT_PRIORITIES, { description: "p0 (highest) to p3" });
export const HorizonSchema = StringEnum(REQUIREMENT_HORIZONS, { description: "h1 (now) to h3 (later)" });
export const RequirementStatusSchema = StringEnum(REQUIREMENT_STATUSES, {
  description: "proposed (default), accepted, in_progress, done, rejected; any move is allowed",
});

const REFS_DOC =
  "The OKR it serves. `kr_id` must be a key result of `objective_id`; when `kr_id` is given and the " +
  "requirement has no objective, the key result's objective is taken.";

/** Integer id, key or null, as one flat union (a nested one would report a bad value twice). */
const RefOrNull = Type.Union([Type.Integer({ minimum: 1 }), KeySchema, Type.Null()], {
  description: "integer id or key; null for none",
});

const requirementFields = {
  title: Title,
  description: Type.Optional(OrNull(LongText)),
  priority: Type.Optional(OrNull(PrioritySchema)),
  horizon: Type.Optional(OrNull(HorizonSchema)),
  status: Type.Optional(RequirementStatusSchema),
  objective_id: Type.Optional(RefOrNull),
  kr_id: Type.Optional(RefOrNull),
};

export const RequirementCreate = Type.Object(
  { requirement_id: Type.Optional(KeySchema), ...requirementFields },
  {
    additionalProperties: false,
    description: REFS_DOC,
    examples: [{ requirement_id: "AC-CORE-01", title: "Mission Coordination", priority: "p1", horizon: "h1" }],
  },
);
export type RequirementCreate = Static<typeof RequirementCreate>;

export const RequirementUpdate = Type.Object(
  {
    requirement_id: Type.Optional(Type.String({ description: "keys cannot be changed; a different value is 422" })),
    ...requirementFields,
    title: Type.Optional(Title),
  },
  { additionalProperties: false, description: REFS_DOC },
);
export type RequirementUpdate = Static<typeof RequirementUpdate>;

export const Requirement = Type.Object({
  id: Type.Integer(),
  requirement_id: Type.String(),
  title: Type.String(),
  description: OrNull(Type.String()),
  priority: OrNull(Type.String()),
  horizon: OrNull(Type.String()),
  status: EnumText(RequirementStatusSchema),
  objective_id: OrNull(Type.String()),
  kr_id: OrNull(Type.String()),
  task_count: Type.Integer({ description: "tasks serving it (through their requirement_ids)" }),
  completed_task_count: Type.Integer(),
  completion: Type.Number({
    description: "0–100, one decimal: 100 when done, else the share of its tasks completed (0 without tasks)",
  }),
  inserted_at: Timestamp,
  updated_at: Timestamp,
});

export const RequirementListQuery = Type.Object({
  priority: Type.Optional(PrioritySchema),
  horizon: Type.Optional(HorizonSchema),
  status: Type.Optional(RequirementStatusSchema),
  objective_id: Type.Optional(RefFilter),
  kr_id: Type.Optional(RefFilter),
  ...PageQuery,
});
export type RequirementListQuery = Static<typeof RequirementListQuery>;

// Names in the OpenAPI document's components.schemas (src/http/openapi.ts).
nameSchemas({ Requirement, RequirementCreate, RequirementUpdate, RequirementStatus: RequirementStatusSchema });
