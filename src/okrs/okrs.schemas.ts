import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { EnumText, nameSchemas, StringEnum, Timestamp } from "../core/envelope.js";
import { KeySchema } from "../core/ids.js";
import { PageQuery } from "../core/pagination.js";
import { HEALTH_THRESHOLDS, HEALTHS, KR_DIRECTIONS } from "./okrs.progress.js";
import { OBJECTIVE_STATUSES } from "./okrs.state.js";

/** Objective statuses are labels without a state machine: any move is allowed (reopening is legitimate). */

// (NUL characters, which PostgreSQL cannot store, are refused for every body by the JSON parser.)
export const Title = Type.String({ minLength: 1, maxLength: 1_000 });
export const LongText = Type.String({ maxLength: 100_000 });

/**
 * A scalar or null, as one `type: [..., "null"]` rather than an `anyOf`. In a request, a bad value then gets
 * the scalar's own message ("must be > 0") instead of the union's generic one; in a response, the serializer
 * checks the type inline instead of running a validator per value to pick a branch (several times faster on
 * the traceability matrix, which serializes a few hundred thousand such fields).
 */
export const OrNull = <T extends TSchema>(t: T) => {
  const { enum: values, ...rest } = t as TSchema & { enum?: unknown[] };
  return Type.Unsafe<Static<T> | null>({
    ...rest,
    type: [t.type as string, "null"],
    ...(values ? { enum: [...values, null] } : {}),
  });
};
/** `YYYY-MM-DD`; year 0000 does not exist in PostgreSQL's calendar. */
export const DateString = Type.String({
  format: "date",
  // Only excludes year 0000; the shape itself is left to `format`, whose message is the clearer one.
  pattern: "^(?!0000)",
  description: "YYYY-MM-DD",
  examples: ["2026-03-31"],
});
/** A filter naming a record by integer id or key; an unknown one matches nothing. */
export const RefFilter = Type.String({ pattern: "^[A-Za-z0-9._:-]{1,128}$", description: "integer id or key" });

const PG_INT_MAX = 2_147_483_647;
const NUMBER_LIMIT = 1e15;

export const ObjectiveStatusSchema = StringEnum(OBJECTIVE_STATUSES, {
  description: "draft, active (default), completed, cancelled; any move is allowed",
});
const HEALTH_DOC =
  `on_track, at_risk or off_track. Derived when both start_date and end_date are set: progress is compared ` +
  `with the share of the period elapsed (end date included); up to ${HEALTH_THRESHOLDS.atRisk} points behind ` +
  `is on_track, up to ${HEALTH_THRESHOLDS.offTrack} at_risk, more off_track. Without both dates it is set by ` +
  `hand (null until set); setting it while both dates are set is 422.`;
export const HealthSchema = StringEnum(HEALTHS, { description: HEALTH_DOC });

const objectiveFields = {
  title: Title,
  description: Type.Optional(OrNull(LongText)),
  priority: Type.Optional(OrNull(Type.Integer({ minimum: 0, maximum: PG_INT_MAX }))),
  status: Type.Optional(ObjectiveStatusSchema),
  health: Type.Optional(OrNull(HealthSchema)),
  start_date: Type.Optional(OrNull(DateString)),
  end_date: Type.Optional(OrNull(DateString)),
};

export const ObjectiveCreate = Type.Object(
  { objective_id: Type.Optional(KeySchema), ...objectiveFields },
  {
    additionalProperties: false,
    examples: [{ objective_id: "S1", title: "Generate Revenue", description: "AI-Native PM", priority: 1 }],
  },
);
export type ObjectiveCreate = Static<typeof ObjectiveCreate>;

export const ObjectiveUpdate = Type.Object(
  {
    objective_id: Type.Optional(Type.String({ description: "keys cannot be changed; a different value is 422" })),
    ...objectiveFields,
    title: Type.Optional(Title),
  },
  { additionalProperties: false },
);
export type ObjectiveUpdate = Static<typeof ObjectiveUpdate>;

const PROGRESS_DOC =
  "0–100, one decimal, how far current has come from start towards target (a missing current has not moved). " +
  "increase: (current − start) ÷ (target − start) × 100, start 0 when not given (so current ÷ target × 100). " +
  "decrease: (start − current) ÷ (start − target) × 100; without a start, 100 once current ≤ target, else " +
  "target ÷ current × 100. Capped to 0–100. Without a target: the value set directly (0 until set).";
const Direction = StringEnum(KR_DIRECTIONS, {
  description: "increase (higher is better, the default) or decrease (lower is better: a latency, a defect count)",
});

export const KeyResult = Type.Object({
  id: Type.Integer(),
  kr_id: Type.String(),
  objective_id: Type.String(),
  title: Type.String(),
  direction: Direction,
  start: OrNull(Type.Number({ description: "the baseline progress is measured from; null: none" })),
  target: OrNull(Type.Number()),
  current: OrNull(Type.Number()),
  progress: Type.Number({ description: PROGRESS_DOC }),
  inserted_at: Timestamp,
  updated_at: Timestamp,
});

const krFields = {
  title: Title,
  target: Type.Optional(
    OrNull(Type.Number({ exclusiveMinimum: 0, maximum: NUMBER_LIMIT, description: "greater than 0; null: no target" })),
  ),
  current: Type.Optional(OrNull(Type.Number({ minimum: -NUMBER_LIMIT, maximum: NUMBER_LIMIT }))),
  direction: Type.Optional(Direction),
  start: Type.Optional(
    OrNull(
      Type.Number({
        minimum: -NUMBER_LIMIT,
        maximum: NUMBER_LIMIT,
        description: "baseline: below target for an increase, above it for a decrease (else 422); null: none",
      }),
    ),
  ),
  progress: Type.Optional(
    OrNull(
      Type.Number({
        minimum: 0,
        maximum: 100,
        description: "set directly, only for a key result without a target (with one it is computed; 422)",
      }),
    ),
  ),
};

export const KeyResultCreate = Type.Object(
  { kr_id: Type.Optional(KeySchema), ...krFields },
  { additionalProperties: false, examples: [{ kr_id: "KR1.1", title: "Launch PM Tool" }] },
);
export type KeyResultCreate = Static<typeof KeyResultCreate>;

export const KeyResultUpdate = Type.Object(
  {
    kr_id: Type.Optional(Type.String({ description: "keys cannot be changed; a different value is 422" })),
    objective_id: Type.Optional(
      Type.Union([Type.Integer(), Type.String()], {
        description: "a key result cannot move to another objective; naming a different one is 422",
      }),
    ),
    ...krFields,
    title: Type.Optional(Title),
  },
  { additionalProperties: false },
);
export type KeyResultUpdate = Static<typeof KeyResultUpdate>;

export const Objective = Type.Object({
  id: Type.Integer(),
  objective_id: Type.String(),
  title: Type.String(),
  description: OrNull(Type.String()),
  priority: OrNull(Type.Integer()),
  status: EnumText(ObjectiveStatusSchema),
  progress: Type.Number({
    description:
      "0–100, one decimal: the mean of its key results' progress; without key results the mean completion of " +
      "its requirements other than rejected ones (a requirement is 100 when done, else the share of its " +
      "tasks completed); 0 with neither.",
  }),
  health: OrNull(HealthSchema),
  start_date: OrNull(Type.String()),
  end_date: OrNull(Type.String()),
  key_results: Type.Array(KeyResult),
  inserted_at: Timestamp,
  updated_at: Timestamp,
});

export const ObjectiveListQuery = Type.Object({ status: Type.Optional(ObjectiveStatusSchema), ...PageQuery });
export type ObjectiveListQuery = Static<typeof ObjectiveListQuery>;

export const KeyResultListQuery = Type.Object(PageQuery);
export type KeyResultListQuery = Static<typeof KeyResultListQuery>;

export const ObjectiveParam = Type.Object({ objective_id: Type.String({ description: "integer id or key" }) });

// Names in the OpenAPI document's components.schemas (src/http/openapi.ts).
nameSchemas({
  Objective,
  ObjectiveCreate,
  ObjectiveUpdate,
  KeyResult,
  KeyResultCreate,
  KeyResultUpdate,
  ObjectiveStatus: ObjectiveStatusSchema,
});
