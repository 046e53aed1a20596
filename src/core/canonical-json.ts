// The one canonical JSON of the code base: trace hashes, idempotency fingerprints and "did this value change"
// checks all use it. The trace chain's stored hashes depend on its output for plain JSON values (what
// `toJsonValue` in trace/canonical.ts produces): that output must never change.

/**
 * RFC 8785-style canonical JSON: object keys sorted by UTF-16 code units, no whitespace, strings and numbers
 * as ECMAScript's JSON.stringify writes them (which is what RFC 8785 prescribes). Members whose value is
 * `undefined` are left out, as JSON.stringify does, so two equal bodies give the same text whatever their
 * key order or absent members.
 */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v) ?? "null";
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(",")}}`;
}
