// Hostile input for every part of a request (path, query, the route's own headers, body), shaped by the
// route's OpenAPI description: sometimes nearly
// valid (so deeper checks run), mostly wrong types, huge strings, deep nesting, unicode edge cases and
// injection strings.
import fc from "fast-check";
import type { Operation, Param } from "./openapi.js";

export const INJECTIONS = [
  "' OR '1'='1",
  "'; DROP TABLE tasks; --",
  '") OR ("1"="1',
  "1; SELECT pg_sleep(30)",
  "1) UNION SELECT token_hash FROM api_tokens --",
  "$1",
  "%s%s%s%n",
  "${jndi:ldap://x/a}",
  "{{7*7}}",
  "<script>alert(1)</script>",
  "../../../etc/passwd",
  "..%2f..%2f",
  "\\u0000",
  '{"$gt": ""}',
  "'::jsonb",
  "-1",
  "0",
  "1.5",
  "1e309",
  "NaN",
  "Infinity",
  "99999999999999999999999",
  "2147483648",
  "null",
  "true",
  "[]",
  "{}",
  "",
  " ",
  "__proto__",
  "constructor",
  "prototype",
  "valueOf",
  "toString",
  "hasOwnProperty",
  "__defineGetter__",
  "isPrototypeOf",
];

export const UNICODE = [
  "🙂",
  "👩‍👩‍👧‍👦",
  "\u202Egnp.exe",
  "\uFEFF",
  "\u200B",
  "ﬀ",
  "İı",
  "e\u0301",
  "\u0000",
  "\u0007",
  "\r\n",
  "\uD800",
  "\uDFFFa",
  "𝕏".repeat(300),
  "ß".repeat(5000),
];

const huge = fc.integer({ min: 1_000, max: 300_000 }).map((n) => "a".repeat(n));
const deepArray = fc.integer({ min: 60, max: 200 }).map((d) => JSON.parse("[".repeat(d) + "]".repeat(d)) as unknown);
const deepObject = fc.integer({ min: 60, max: 100 }).map((d) => {
  let v: unknown = 1;
  for (let i = 0; i < d; i++) v = { a: v };
  return v;
});

export const badString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...INJECTIONS) },
  { weight: 2, arbitrary: fc.constantFrom(...UNICODE) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 40 }) },
  { weight: 1, arbitrary: huge },
);

export const badValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: badString },
  {
    weight: 2,
    arbitrary: fc.oneof(fc.integer(), fc.double(), fc.constantFrom(-1, 0, 2 ** 31, 2 ** 53, -(2 ** 63), 1e308)),
  },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, [], {}) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  { weight: 1, arbitrary: fc.oneof(deepArray, deepObject) },
  { weight: 1, arbitrary: fc.array(badString, { maxLength: 5 }) },
  { weight: 1, arbitrary: fc.dictionary(badString, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }) },
);

/** A value the schema would likely accept (so the request gets past validation to the service). */
function plausible(schema: Record<string, any>, fixtures: string[]): fc.Arbitrary<unknown> {
  if (!schema || typeof schema !== "object") return fc.constant(null);
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return fc.constantFrom(...schema.enum);
  const union = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(union) && union.length > 0) {
    return fc.oneof(...union.map((s: Record<string, any>) => plausible(s, fixtures)));
  }
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case "string":
      if (schema.format === "date-time") return fc.date({ noInvalidDate: true }).map((d) => d.toISOString());
      if (schema.format === "date") return fc.constantFrom("2026-01-01", "2026-02-29", "2025-12-31");
      return fc.oneof(fc.constantFrom(...fixtures), fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/));
    case "integer":
      return fc.integer({ min: schema.minimum ?? -5, max: schema.maximum ?? 1000 });
    case "number":
      return fc.double({ min: schema.minimum ?? -5, max: schema.maximum ?? 1000, noNaN: true });
    case "boolean":
      return fc.boolean();
    case "array":
      return fc.array(plausible(schema.items ?? {}, fixtures), { maxLength: 3 });
    case "object":
      return objectFor(schema, fixtures);
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** An object with some of the schema's properties, each plausible or hostile, and maybe unknown ones. */
function objectFor(schema: Record<string, any>, fixtures: string[]): fc.Arbitrary<Record<string, unknown>> {
  const props = Object.entries<Record<string, any>>(schema.properties ?? {});
  if (props.length === 0)
    return fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 });
  const record: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [name, s] of props) {
    record[name] = fc.oneof(
      { weight: 2, arbitrary: fc.constant(undefined) },
      { weight: 3, arbitrary: plausible(s, fixtures) },
      { weight: 2, arbitrary: badValue },
    );
  }
  return fc
    .tuple(
      fc.record(record),
      fc.option(
        fc.dictionary(
          badString.filter((k) => k.length < 100),
          badValue,
          { maxKeys: 2 },
        ),
        { freq: 4 },
      ),
    )
    .map(([known, extra]) => {
      const o: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(known)) if (v !== undefined) o[k] = v;
      return extra ? { ...o, ...extra } : o;
    });
}

export type Body =
  { kind: "none" } | { kind: "json"; value: unknown } | { kind: "raw"; text: string; contentType: string };

const RAW_BODIES: Array<{ text: string; contentType: string }> = [
  { text: "{", contentType: "application/json" },
  { text: '{"a":1,}', contentType: "application/json" },
  { text: "nul", contentType: "application/json" },
  { text: "   ", contentType: "application/json" },
  { text: '{"__proto__": {"admin": true}}', contentType: "application/json" },
  { text: '{"constructor": {"prototype": {"x": 1}}}', contentType: "application/json" },
  { text: '{"a": {"__proto__": []}}', contentType: "application/json" },
  { text: '"\\ud800"', contentType: "application/json" },
  { text: '{"a": "\\u0000"}', contentType: "application/json" },
  { text: "[".repeat(70) + "]".repeat(70), contentType: "application/json" },
  { text: '{"goal": "x"}', contentType: "text/plain" },
  { text: "goal=x", contentType: "application/x-www-form-urlencoded" },
  { text: '{"goal": "x"}', contentType: "application/json; charset=latin1" },
  { text: "\u00ff\u00fe", contentType: "application/json" },
];

export function bodyFor(op: Operation, fixtures: string[]): fc.Arbitrary<Body> {
  const hostile = fc.oneof(
    { weight: 3, arbitrary: badValue.map((value): Body => ({ kind: "json", value })) },
    { weight: 2, arbitrary: fc.constantFrom(...RAW_BODIES).map((r): Body => ({ kind: "raw", ...r })) },
    {
      weight: 1,
      arbitrary: fc.constant<Body>({
        kind: "raw",
        text: JSON.stringify({ big: "x".repeat(1_100_000) }),
        contentType: "application/json",
      }),
    },
  );
  if (op.method === "GET" || op.method === "DELETE") {
    return fc.oneof({ weight: 6, arbitrary: fc.constant<Body>({ kind: "none" }) }, { weight: 1, arbitrary: hostile });
  }
  const shaped = op.body
    ? objectFor(op.body, fixtures).map((value): Body => ({ kind: "json", value }))
    : fc.constant<Body>({ kind: "none" });
  return fc.oneof(
    { weight: 5, arbitrary: shaped },
    { weight: 4, arbitrary: hostile },
    { weight: 1, arbitrary: fc.constant<Body>({ kind: "none" }) },
  );
}

/** A path segment: encoded when it is text, as is when it is a deliberately broken escape. */
export type Segment = { raw: false; value: string } | { raw: true; value: string };

const BROKEN_ESCAPES = ["%", "%ZZ", "%C0%AE", "%ED%A0%80", "%FF%FE", "a%00b", "%2e%2e", "..", "%2F"];

function segment(fixtures: string[]): fc.Arbitrary<Segment> {
  // encodeURIComponent cannot encode a lone surrogate; those go in the body and the query instead.
  const encodable = badString.filter(
    (s) => s.length > 0 && !/[\uD800-\uDFFF]/.test(s.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, "")),
  );
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...fixtures).map((value): Segment => ({ raw: false, value })) },
    { weight: 4, arbitrary: encodable.map((value): Segment => ({ raw: false, value: value.slice(0, 20_000) })) },
    { weight: 1, arbitrary: fc.constantFrom(...BROKEN_ESCAPES).map((value): Segment => ({ raw: true, value })) },
  );
}

function queryValue(p: Param, fixtures: string[]): fc.Arbitrary<string | string[]> {
  const one = fc.oneof(
    {
      weight: 2,
      arbitrary: plausible(p.schema, fixtures).map((v) => (typeof v === "string" ? v : (JSON.stringify(v) ?? ""))),
    },
    { weight: 3, arbitrary: badString.map((s) => s.slice(0, 20_000)) },
  );
  return fc.oneof(
    { weight: 4, arbitrary: one },
    { weight: 1, arbitrary: fc.array(one, { minLength: 2, maxLength: 3 }) },
  );
}

export interface FuzzRequest {
  path: Record<string, Segment>;
  query: Record<string, string | string[]>;
  /** The route's own header parameters (Idempotency-Key, X-MC-Task-Id…). */
  headers: Record<string, string>;
  body: Body;
}

/** What an HTTP client can put in a header value: printable ASCII (and tab); hostile or plausible. */
function headerValue(p: Param, fixtures: string[]): fc.Arbitrary<string> {
  const ascii = (v: string) => /^[\t\x20-\x7e]*$/.test(v);
  return fc.oneof(
    {
      weight: 2,
      arbitrary: plausible(p.schema, fixtures)
        .map((v) => (typeof v === "string" ? v : (JSON.stringify(v) ?? "")))
        .filter(ascii),
    },
    { weight: 2, arbitrary: fc.constantFrom(...INJECTIONS).filter(ascii) },
    {
      weight: 2,
      arbitrary: fc.string({
        unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
        maxLength: 300,
      }),
    },
    { weight: 1, arbitrary: fc.integer({ min: 256, max: 8_000 }).map((n) => "k".repeat(n)) },
  );
}

export function requestFor(op: Operation, fixtures: string[]): fc.Arbitrary<FuzzRequest> {
  const pathParams: Record<string, fc.Arbitrary<Segment>> = {};
  for (const p of op.params.filter((x) => x.in === "path")) pathParams[p.name] = segment(fixtures);
  const queryParams: Record<string, fc.Arbitrary<string | string[] | undefined>> = {};
  for (const p of op.params.filter((x) => x.in === "query")) {
    queryParams[p.name] = fc.oneof(
      { weight: 1, arbitrary: fc.constant(undefined) },
      { weight: 2, arbitrary: queryValue(p, fixtures) },
    );
  }
  const headerParams: Record<string, fc.Arbitrary<string | undefined>> = {};
  for (const p of op.params.filter((x) => x.in === "header")) {
    headerParams[p.name] = fc.oneof(
      { weight: 2, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: headerValue(p, fixtures) },
    );
  }
  const unknown = fc.option(
    fc.dictionary(
      fc.stringMatching(/^[a-z_]{1,12}$/),
      badString.map((s) => s.slice(0, 1000)),
      { maxKeys: 2 },
    ),
    { freq: 3 },
  );
  return fc
    .record({
      path: fc.record(pathParams),
      query: fc.tuple(fc.record(queryParams), unknown),
      headers: fc.record(headerParams),
      body: bodyFor(op, fixtures),
    })
    .map((r) => {
      const query: Record<string, string | string[]> = { ...(r.query[1] ?? {}) };
      for (const [k, v] of Object.entries(r.query[0])) if (v !== undefined) query[k] = v;
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(r.headers)) if (v !== undefined) headers[k] = v;
      return { path: r.path, query, headers, body: r.body };
    });
}

export function urlOf(op: Operation, req: FuzzRequest): string {
  const path = op.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const s = req.path[name]!;
    return s.raw ? s.value : encodeURIComponent(s.value);
  });
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(req.query)) for (const x of Array.isArray(v) ? v : [v]) sp.append(k, x);
  const qs = sp.toString();
  return qs === "" ? path : `${path}?${qs}`;
}
