// Every record has a database integer `id` and, for most kinds, a string key. Paths and body references
// accept either; keys are never all digits, so the two can never be confused.
import { randomBytes } from "node:crypto";
import { Type } from "@sinclair/typebox";

export const KEY_PATTERN = "^(?![0-9]+$)[A-Za-z0-9._:-]{1,128}$";
const KEY_RE = new RegExp(KEY_PATTERN);
const MAX_INT = 2_147_483_647;

export type Ref = number | string;

/** A key as accepted in a create body. */
export const KeySchema = Type.String({
  pattern: KEY_PATTERN,
  description: "1–128 characters of [A-Za-z0-9._:-], not all digits",
});

/** A reference inside a body: the integer id or the key. */
export const RefSchema = Type.Union([Type.Integer({ minimum: 1 }), KeySchema], {
  description: "integer id or string key",
});

export const IdParam = Type.Object({ id: Type.String({ description: "integer id or key" }) });

/** Parses a path parameter or body reference; `null` when it can name nothing (so the lookup is a 404). */
export function parseRef(raw: string | number): Ref | null {
  if (typeof raw === "number") return Number.isInteger(raw) && raw >= 1 && raw <= MAX_INT ? raw : null;
  if (/^[0-9]+$/.test(raw)) {
    const n = Number(raw);
    return n >= 1 && n <= MAX_INT ? n : null;
  }
  return KEY_RE.test(raw) ? raw : null;
}

/** A generated key for creates that omit one: readable prefix plus 10 random base32 characters. */
export function generateKey(prefix: string): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  const bytes = randomBytes(10);
  let s = "";
  for (const b of bytes) s += alphabet[b & 31];
  return `${prefix}-${s}`;
}
