import { Type, type TSchema, type TString } from "@sinclair/typebox";

/**
 * The schema keyword that names a schema in the OpenAPI document: every use becomes a `$ref` to one entry of
 * components.schemas (src/http/openapi.ts). Validation and serialization ignore it.
 */
export const COMPONENT = "x-component";

/** Names a schema (a resource, a body, a list envelope) in the OpenAPI document's components.schemas. */
export const named = <T extends TSchema>(name: string, t: T): T => Object.assign(t, { [COMPONENT]: name });

/**
 * Names several schemas of a module at once, each under its own name: `nameSchemas({ Task, TaskCreate })`.
 * Call it once at the end of a module's schemas file.
 */
export function nameSchemas(schemas: Record<string, TSchema>): void {
  for (const [name, s] of Object.entries(schemas)) named(name, s);
}

/** `{"data": T}` — reads, updates, actions, creates. */
export const Data = <T extends TSchema>(t: T) => Type.Object({ data: t });

/**
 * `{"data": [T], "meta": {"next_cursor"}}` — every list. Named `<T>List` when T is named (T's name is read
 * when the route is declared, so name a module's schemas before its routes use them).
 */
export const ListOf = <T extends TSchema>(t: T) => {
  const list = Type.Object({
    data: Type.Array(t),
    meta: Type.Object({
      next_cursor: Type.Union([Type.String(), Type.Null()], {
        description: "pass as `cursor` for the next page; null on the last page",
      }),
    }),
  });
  const name = (t as Record<string, unknown>)[COMPONENT];
  return typeof name === "string" ? named(`${name}List`, list) : list;
};

/**
 * The contract's one error shape, every 4xx (and 503) of every route: `{"errors": {"detail": "..."}}`, or
 * `{"errors": {"<field>": ["<message>", ...]}}` for invalid input, plus `policy_decision` when a guardrail
 * blocked the action (403).
 */
export const ErrorBody = named(
  "Error",
  Type.Object(
    {
      errors: Type.Record(Type.String(), Type.Union([Type.String(), Type.Array(Type.String())]), {
        minProperties: 1,
        description: "`detail` (a message) for a whole-request error; otherwise each field with its messages",
      }),
      policy_decision: Type.Optional(
        Type.Record(Type.String(), Type.Unknown(), {
          description: "the guardrail decision that blocked the action (403)",
        }),
      ),
    },
    { additionalProperties: false },
  ),
);

/**
 * 403 on a route a guardrail can block: `{"errors": {"policy": [...]}, "policy_decision": {...}}`, or the
 * plain `{"errors": {"detail": "Forbidden"}}` of a missing right: the one Error schema, described so.
 */
export const PolicyErrorBody = {
  ...ErrorBody,
  description: "Forbidden, or a policy blocks the action (then with `policy_decision`)",
};

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

/**
 * A response field documented by its enum (a generated client gets the union) while handlers may return the
 * text as read from the database: the same schema object, typed as a string.
 */
export const EnumText = <T extends TSchema>(t: T): TString => t as unknown as TString;

/** A string from a fixed set: one `enum` keyword, so a bad value gets one clear message. */
export const StringEnum = <T extends readonly string[]>(
  values: T,
  opts: { description?: string; default?: T[number] } = {},
) => Type.Unsafe<T[number]>({ type: "string", enum: [...values], ...opts });
