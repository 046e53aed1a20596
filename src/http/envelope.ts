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

export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

/** Serialized as ISO 8601 UTC; handlers may return a Date. */
export const Timestamp = Type.Unsafe<Date | string>(
  Type.String({ format: "date-time", examples: ["2026-02-26T12:00:00.000Z"] }),
);

/** A JSON object of arbitrary content (metadata, outputs, config). */
export const JsonObject = Type.Record(Type.String(), Type.Unknown());

/** A string from a fixed set: one `enum` keyword, so a bad value gets one clear message. */
export const StringEnum = <T extends readonly string[]>(values: T, opts: { description?: string; default?: T[number] } = {}) =>
  Type.Unsafe<T[number]>({ type: "string", enum: [...values], ...opts });
