// The hashed form of a trace entry. This file defines the chain's format: changing anything here makes
// every stored hash unverifiable, so it must not change (scripts/verify-trace.mjs repeats it offline).
//
// hash = hex(SHA-256(utf8(prev_hash + canonicalJson(content)))), where content is the entry without `id`,
// `prev_hash` and `hash`: {actor, agent_id, at, data, event, mission_id, task_id}. `at` is the ISO 8601 UTC
// string with milliseconds that the API shows (the database stores whole milliseconds, see atFromMicros).
// The chain order (not the id) is what is protected: ids are not hashed, every entry names its predecessor's
// hash instead. The entry's shape is trace.events.ts `TraceEntry`; `HashedContent` is it without those three.
import { hash } from "node:crypto";
import { canonicalJson } from "../core/canonical-json.js";
import type { HashedContent } from "./trace.events.js";

export { canonicalJson };

export const GENESIS = "0".repeat(64);

/**
 * The value as it will be stored in a jsonb column and read back: what JSON.stringify keeps (no undefined
 * members, Dates as strings, non-finite numbers as null). Hashing this, not the caller's object, is what
 * makes the hash recomputable from the stored row.
 */
export function toJsonValue<T>(v: T): T {
  return JSON.parse(JSON.stringify(v ?? {})) as T;
}

export type { HashedContent };

export function contentJson(c: HashedContent): string {
  return canonicalJson({
    actor: c.actor,
    agent_id: c.agent_id,
    at: c.at,
    data: c.data,
    event: c.event,
    mission_id: c.mission_id,
    task_id: c.task_id,
  });
}

/**
 * The canonical JSON split around the value of `at` (whose key sorts third), for appendTrace: the database
 * chooses `at` inside the append statement and puts it between the two halves there.
 * `contentJson(c) === before + c.at + after` for every c.
 */
export function contentAround(c: Omit<HashedContent, "at">): [before: string, after: string] {
  const head = canonicalJson({ actor: c.actor, agent_id: c.agent_id });
  const tail = canonicalJson({ data: c.data, event: c.event, mission_id: c.mission_id, task_id: c.task_id });
  return [`${head.slice(0, -1)},"at":"`, `",${tail.slice(1)}`];
}

/** PostgreSQL's rendering of a timestamptz expression exactly as `Date.prototype.toISOString()` writes it. */
export function sqlIsoMillis(expr: string): string {
  return `to_char((${expr}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}

export function entryHash(prevHash: string, c: HashedContent): string {
  return hash("sha256", prevHash + contentJson(c), "hex");
}

/**
 * `at` as hashed, from the stored value in microseconds since the epoch (PostgreSQL keeps microseconds).
 * appendTrace only writes whole milliseconds, whose form is the API's `toISOString()`; any other value was
 * not written by the server and is given with its six fractional digits, so its hash cannot match.
 */
export function atFromMicros(us: number): string {
  const ms = Math.floor(us / 1000);
  const rest = us - ms * 1000;
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return `@${us}`; // beyond what a JS Date holds: tampered, never matches
  const iso = d.toISOString();
  return rest === 0 ? iso : `${iso.slice(0, -1)}${String(rest).padStart(3, "0")}Z`;
}
