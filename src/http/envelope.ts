import { Type, type TSchema } from "@sinclair/typebox";

/** `{"data": T}` — reads, updates, actions, creates. */
export const Data = <T extends TSchema>(t: T) => Type.Object({ data: t });

/** `{"data": [T], "meta": {"next_cursor"}}` — every list. */
export const ListOf = <T extends TSchema>(t: T) =>
  Type.Object({
    data: Type.Array(t),
    meta: Type.Object({ next_cursor: Type.Union([Type.String(), Type.Null()]) }),
  });

export const ErrorBody = Type.Object(
  { errors: Type.Record(Type.String(), Type.Unknown()) },
  { description: "The contract's error shape" },
);

/**
 * 403 on a route a guardrail can block: `{"errors": {"policy": [...]}, "policy_decision": {...}}`, or the
 * plain `{"errors": {"detail": "Forbidden"}}` of a missing right (so one schema serializes both).
 */
export const PolicyErrorBody = Type.Object(
  {
    errors: Type.Record(Type.String(), Type.Unknown()),
    policy_decision: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { description: "Forbidden, or a policy blocks the action (then with the decision)" },
);

export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

/** Serialized as ISO 8601 UTC; handlers may return a Date. */
export const Timestamp = Type.Unsafe<Date | string>(
  Type.String({ format: "date-time", examples: ["2026-02-26T12:00:00.000Z"] }),
);

/**
 * Largest free-form JSON object a request may carry in one field (metadata, outputs, config, context,
 * policy actions), measured as compact JSON in UTF-8 bytes; larger is a 422 naming the field. Checked by
 * the `maxJsonBytes` schema keyword (src/http/validation.ts).
 */
export const MAX_JSON_OBJECT_BYTES = 64 * 1024;

/** The size of a value as compact JSON, in UTF-8 bytes. */
export const jsonBytes = (v: unknown): number => Buffer.byteLength(JSON.stringify(v) ?? "", "utf8");

/** Options for a free-form object schema in a request: at most MAX_JSON_OBJECT_BYTES as JSON. */
export const boundedJson = (opts: Record<string, unknown> = {}) => ({ maxJsonBytes: MAX_JSON_OBJECT_BYTES, ...opts });

/** A JSON object of arbitrary content (metadata, outputs, config); in requests, at most MAX_JSON_OBJECT_BYTES. */
export const JsonObject = Type.Record(Type.String(), Type.Unknown(), boundedJson());

/** A string from a fixed set: one `enum` keyword, so a bad value gets one clear message. */
export const StringEnum = <T extends readonly string[]>(values: T, opts: { description?: string; default?: T[number] } = {}) =>
  Type.Unsafe<T[number]>({ type: "string", enum: [...values], ...opts });
