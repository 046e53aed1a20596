// The policy condition language: validation (when a policy is saved) and matching (when an action is
// evaluated). Pure: no I/O, no clock, no shared mutable state.
//
// Grammar. A *document condition* (the whole `conditions`, or a nested object) is an object whose keys are
//   - field paths (`"action_type"`, dotted `"tool.name"`, numeric segments index arrays: `"files.0.path"`),
//     each mapped to a *value condition* on the value at that path; or
//   - combinators over document conditions: `$any: [doc, ...]`, `$all: [doc, ...]`, `$not: doc`.
// Every key must match. A *value condition* is one of
//   - an operator object (every key starts with `$`): `$in`, `$nin` (lists of values), `$regex` (with an
//     optional `$options` of `i`, `m`, `s`), `$gt`/`$gte`/`$lt`/`$lte` (a number, or a string compared by code
//     units), `$exists` (boolean), `$not` (a value condition), `$any`/`$all` (lists of value conditions);
//     all of its operators must match;
//   - a plain object: a nested document condition on the value (which must be an object);
//   - anything else (string, number, boolean, null, array): equality (deep, key order ignored).
//
// Arrays work as in MongoDB: a value condition on an array field matches when the array itself or any of its
// elements matches; a path through an array of objects reaches into every element. `null` (and `$in` lists
// holding null) also match a missing field. Negations (`$nin`, `$not`, `$exists: false`) are the exact
// complement of their positive form, so `{"$nin": L}` means "no element is in L".
//
// Regular expressions run on RE2JS, a linear-time engine: matching is O(pattern × input) whatever the
// pattern, so an agent cannot make a policy take exponential time by choosing its input (catastrophic
// backtracking cannot happen). RE2 syntax has no backreferences or lookaround; such patterns are rejected
// when the policy is saved, and so are patterns longer than MAX_REGEX_LENGTH or compiling to more than
// MAX_REGEX_PROGRAM instructions. The request body limit bounds the input.
//
// Matching never throws on conditions that passed validation, whatever the action: recursion follows the
// condition (whose depth validation bounds), never the action.
import { RE2JS } from "re2js";

export type JsonObject = Record<string, unknown>;
export type ConditionErrors = Record<string, string[]>;

export const MAX_CONDITION_DEPTH = 32;
export const MAX_CONDITIONS_JSON = 32_768;
export const MAX_LIST_ITEMS = 1_000;
export const MAX_REGEX_LENGTH = 1_000;
export const MAX_REGEX_PROGRAM = 20_000;

const VALUE_OPERATORS = new Set([
  "$in",
  "$nin",
  "$regex",
  "$options",
  "$gt",
  "$gte",
  "$lt",
  "$lte",
  "$exists",
  "$not",
  "$any",
  "$all",
]);
const FORBIDDEN_SEGMENTS = new Set(["__proto__", "constructor"]);
const REGEX_OPTIONS: Record<string, number> = { i: RE2JS.CASE_INSENSITIVE, m: RE2JS.MULTILINE, s: RE2JS.DOTALL };

export function isPlainObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function isOperatorKey(k: string): boolean {
  return k.startsWith("$");
}

/** Deep JSON equality, object key order ignored. Recursion is bounded by the shallower of the two. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (!Object.hasOwn(b, k)) return false;
    if (!deepEqual((a as JsonObject)[k], (b as JsonObject)[k])) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// Validation

function regexFlags(options: unknown): number | string {
  if (options === undefined) return 0;
  if (typeof options !== "string" || !/^[ims]*$/.test(options) || new Set(options).size !== options.length) {
    return "must be a string of the options i, m and s, each at most once";
  }
  let flags = 0;
  for (const c of options) flags |= REGEX_OPTIONS[c]!;
  return flags;
}

/** Compiles a `$regex` for matching, or says why it cannot be used. */
export function compileRegex(pattern: unknown, options?: unknown): RE2JS | string {
  if (typeof pattern !== "string") return "must be a string";
  if (pattern.length > MAX_REGEX_LENGTH) return `must be at most ${MAX_REGEX_LENGTH} characters`;
  const flags = regexFlags(options);
  if (typeof flags === "string") return "has invalid $options";
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern, flags);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return `is not a valid regular expression in RE2 syntax: ${reason}`;
  }
  if (re.programSize() > MAX_REGEX_PROGRAM) return "is too complex (its compiled program is too large)";
  return re;
}

class Validator {
  readonly errors: ConditionErrors = {};

  add(path: string, message: string): void {
    (this.errors[path] ??= []).push(message);
  }

  doc(cond: unknown, path: string, depth: number): void {
    if (depth > MAX_CONDITION_DEPTH) return this.add(path, `is nested deeper than ${MAX_CONDITION_DEPTH} levels`);
    if (!isPlainObject(cond)) return this.add(path, "must be an object");
    for (const [key, v] of Object.entries(cond)) {
      const p = `${path}.${key}`;
      if (isOperatorKey(key)) {
        if (key === "$any" || key === "$all") this.list(v, p, depth, (item, ip) => this.doc(item, ip, depth + 1));
        else if (key === "$not") this.doc(v, p, depth + 1);
        else if (VALUE_OPERATORS.has(key)) this.add(p, "applies to a field: use it inside a field's condition");
        else this.add(p, "is not a known operator");
        continue;
      }
      const segments = key.split(".");
      if (segments.some((s) => s === "")) this.add(p, "is not a valid field path");
      else if (segments.some((s) => FORBIDDEN_SEGMENTS.has(s))) this.add(p, "is not an allowed key");
      else this.value(v, p, depth + 1);
    }
  }

  list(v: unknown, path: string, depth: number, each: (item: unknown, path: string) => void): void {
    if (!Array.isArray(v) || v.length === 0) return this.add(path, "must be a non-empty list");
    if (v.length > MAX_LIST_ITEMS) return this.add(path, `must have at most ${MAX_LIST_ITEMS} items`);
    if (depth + 1 > MAX_CONDITION_DEPTH) return this.add(path, `is nested deeper than ${MAX_CONDITION_DEPTH} levels`);
    v.forEach((item, i) => each(item, `${path}.${i}`));
  }

  value(v: unknown, path: string, depth: number): void {
    if (depth > MAX_CONDITION_DEPTH) return this.add(path, `is nested deeper than ${MAX_CONDITION_DEPTH} levels`);
    if (!isPlainObject(v)) return; // a literal compared by equality
    const keys = Object.keys(v);
    const ops = keys.filter(isOperatorKey);
    if (ops.length === 0) return this.doc(v, path, depth);
    if (ops.length !== keys.length) {
      return this.add(path, "cannot mix operators ($…) and field names in one object");
    }
    for (const op of ops) {
      const arg = v[op];
      const p = `${path}.${op}`;
      switch (op) {
        case "$in":
        case "$nin":
          if (!Array.isArray(arg)) this.add(p, "must be a list");
          else if (arg.length > MAX_LIST_ITEMS) this.add(p, `must have at most ${MAX_LIST_ITEMS} items`);
          break;
        case "$regex": {
          const re = compileRegex(arg, typeof regexFlags(v.$options) === "number" ? v.$options : undefined);
          if (typeof re === "string") this.add(p, re);
          break;
        }
        case "$options": {
          if (!Object.hasOwn(v, "$regex")) this.add(p, "requires $regex beside it");
          const flags = regexFlags(arg);
          if (typeof flags === "string") this.add(p, flags);
          break;
        }
        case "$gt":
        case "$gte":
        case "$lt":
        case "$lte":
          if (typeof arg !== "number" && typeof arg !== "string") this.add(p, "must be a number or a string");
          break;
        case "$exists":
          if (typeof arg !== "boolean") this.add(p, "must be true or false");
          break;
        case "$not":
          this.value(arg, p, depth + 1);
          break;
        case "$any":
        case "$all":
          this.list(arg, p, depth, (item, ip) => this.value(item, ip, depth + 1));
          break;
        default:
          this.add(p, "is not a known operator");
      }
    }
  }
}

/**
 * Checks a policy's `conditions`. Returns the problems keyed by their path inside the body
 * (`conditions.branch.$regex`); an empty object means the conditions are valid.
 */
export function validateConditions(conditions: unknown, base = "conditions"): ConditionErrors {
  const v = new Validator();
  if (!isPlainObject(conditions)) {
    v.add(base, "must be an object");
    return v.errors;
  }
  let size = 0;
  try {
    size = JSON.stringify(conditions).length;
  } catch {
    size = Infinity;
  }
  if (size > MAX_CONDITIONS_JSON) {
    v.add(base, `must be at most ${MAX_CONDITIONS_JSON} characters of JSON`);
    return v.errors;
  }
  v.doc(conditions, base, 1);
  return v.errors;
}

// ---------------------------------------------------------------------------------------------------------
// Matching

/** The values found at a path; an empty list means the field is missing. */
type Candidates = unknown[];
type ValuePredicate = (found: Candidates) => boolean;
export type ActionMatcher = (action: unknown) => boolean;

export class InvalidConditions extends Error {
  constructor(readonly errors: ConditionErrors) {
    super(`invalid policy conditions: ${Object.keys(errors).join(", ")}`);
  }
}

/** Follows a dotted path, reaching into every object element of an array on the way (as MongoDB does). */
function resolve(v: unknown, segments: readonly string[], i: number, out: Candidates): void {
  if (i === segments.length) {
    out.push(v);
    return;
  }
  const seg = segments[i]!;
  if (Array.isArray(v)) {
    if (/^[0-9]+$/.test(seg)) {
      const idx = Number(seg);
      if (idx < v.length) resolve(v[idx], segments, i + 1, out);
    }
    for (const el of v) if (isPlainObject(el)) resolve(el, segments, i, out);
    return;
  }
  if (isPlainObject(v) && Object.hasOwn(v, seg)) resolve(v[seg], segments, i + 1, out);
}

/** Each found value, and for arrays each of their elements too. */
function expand(found: Candidates): unknown[] {
  const out: unknown[] = [];
  for (const c of found) {
    out.push(c);
    if (Array.isArray(c)) for (const el of c) out.push(el);
  }
  return out;
}

function primitiveKey(v: unknown): string | null {
  switch (typeof v) {
    case "string":
      return `s:${v}`;
    case "number":
      return `n:${v}`;
    case "boolean":
      return `b:${v}`;
    default:
      return v === null ? "null" : null;
  }
}

function membership(list: unknown[]): ValuePredicate {
  const prims = new Set<string>();
  const composites: unknown[] = [];
  for (const item of list) {
    const k = primitiveKey(item);
    if (k === null) composites.push(item);
    else prims.add(k);
  }
  const nullMatchesMissing = prims.has("null");
  const isIn = (x: unknown) => {
    const k = primitiveKey(x);
    return k !== null ? prims.has(k) : composites.some((c) => deepEqual(c, x));
  };
  return (found) => (nullMatchesMissing && found.length === 0) || expand(found).some(isIn);
}

function comparison(op: string, bound: unknown): ValuePredicate {
  if (typeof bound !== "number" && typeof bound !== "string") return () => false;
  const test: (x: number | string) => boolean =
    op === "$gt"
      ? (x) => x > bound
      : op === "$gte"
        ? (x) => x >= bound
        : op === "$lt"
          ? (x) => x < bound
          : (x) => x <= bound;
  return (found) => expand(found).some((x) => typeof x === typeof bound && test(x as number | string));
}

function compileValue(cond: unknown): ValuePredicate {
  if (!isPlainObject(cond)) {
    const literal = cond;
    return (found) => (literal === null && found.length === 0) || expand(found).some((x) => deepEqual(x, literal));
  }
  const keys = Object.keys(cond);
  if (keys.length === 0 || !keys.every(isOperatorKey)) {
    const nested = compileDoc(cond);
    return (found) => expand(found).some((x) => isPlainObject(x) && nested(x));
  }
  const parts: ValuePredicate[] = [];
  for (const op of keys) {
    const arg = cond[op];
    switch (op) {
      case "$in":
        parts.push(membership(Array.isArray(arg) ? arg : []));
        break;
      case "$nin": {
        const isIn = membership(Array.isArray(arg) ? arg : []);
        parts.push((found) => !isIn(found));
        break;
      }
      case "$regex": {
        const re = compileRegex(arg, cond.$options);
        if (typeof re === "string") parts.push(() => false);
        else parts.push((found) => expand(found).some((x) => typeof x === "string" && re.test(x)));
        break;
      }
      case "$options":
        break; // read by $regex
      case "$gt":
      case "$gte":
      case "$lt":
      case "$lte":
        parts.push(comparison(op, arg));
        break;
      case "$exists": {
        const want = arg === true;
        parts.push((found) => found.length > 0 === want);
        break;
      }
      case "$not": {
        const inner = compileValue(arg);
        parts.push((found) => !inner(found));
        break;
      }
      case "$any":
      case "$all": {
        const inner = (Array.isArray(arg) ? arg : []).map(compileValue);
        parts.push(op === "$any" ? (found) => inner.some((p) => p(found)) : (found) => inner.every((p) => p(found)));
        break;
      }
      default:
        parts.push(() => false); // unreachable for validated conditions
    }
  }
  return (found) => parts.every((p) => p(found));
}

function compileDoc(cond: JsonObject): ActionMatcher {
  const parts: ActionMatcher[] = [];
  for (const [key, v] of Object.entries(cond)) {
    if (key === "$any" || key === "$all") {
      const inner = (Array.isArray(v) ? v : []).map((c) => compileDoc(isPlainObject(c) ? c : {}));
      parts.push(key === "$any" ? (x) => inner.some((p) => p(x)) : (x) => inner.every((p) => p(x)));
    } else if (key === "$not") {
      const inner = compileDoc(isPlainObject(v) ? v : {});
      parts.push((x) => !inner(x));
    } else if (isOperatorKey(key)) {
      parts.push(() => false); // unreachable for validated conditions
    } else {
      const segments = key.split(".");
      const pred = compileValue(v);
      parts.push((x) => {
        const found: Candidates = [];
        resolve(x, segments, 0, found);
        return pred(found);
      });
    }
  }
  return (x) => parts.every((p) => p(x));
}

/**
 * Compiles validated conditions into a predicate over actions (compile once per policy version, run per
 * evaluation). Throws InvalidConditions for conditions that would not pass validation.
 */
export function compileConditions(conditions: unknown): ActionMatcher {
  const errors = validateConditions(conditions);
  if (Object.keys(errors).length > 0) throw new InvalidConditions(errors);
  return compileDoc(conditions as JsonObject);
}

/** Whether `action` satisfies `conditions` (which must be valid; see compileConditions). */
export function matches(conditions: unknown, action: unknown): boolean {
  return compileConditions(conditions)(action);
}
