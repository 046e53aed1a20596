// Every change writes exactly one trace entry through `appendTrace`, on the same executor (transaction) as
// the change itself, so an acknowledged change always has its entry and a rolled-back one never does.
//
// Invariants of the hash chain (format in canonical.ts):
// - Each entry's `prev_hash` is the `hash` of the entry before it in its chain (the mission's, or the global
//   one for entries without a mission), and the chain's head row in `trace_chains` holds the last hash.
// - One statement does it all: it upserts the head row (computing the new hash from the old head in SQL)
//   and inserts the entry with the old and new hash. The head row's lock serializes appends to one chain
//   across transactions and processes until the appender commits, and nothing else: other chains proceed.
// - The entry's id is drawn after that lock is taken, so within one chain id order is chain order and
//   commit order (readers rely on this: a keyset walk over one chain never skips an uncommitted entry).
// - `at` is chosen by the database in that statement, in whole milliseconds (so it round-trips exactly
//   through a JS Date and is hashed as stored), and never earlier than the chain's previous entry: within a
//   chain `at` grows with the id, so a time window of a mission is an id range (trace.repo.ts) and replay
//   `until` is a prefix of the chain.
// - The statement also queues a NOTIFY with the new id; PostgreSQL (and PGlite) deliver it only when the
//   transaction commits, which is what wakes the live event stream (events.bus.ts).
// - There is one way to build that statement, `traceAppendCtes`: `appendTrace` runs it alone, and a caller
//   that must change a record and append in one statement (tasks.repo's report) splices the same CTEs.
// - Only the events of trace.events.ts, each with its data shape, can be appended.
//
// Keep appends late in a transaction: the chain stays locked from the append to the commit. A transaction
// appending to two chains takes two head locks; code paths doing so should take them in one order
// (mission chain first, then the global one) so two such transactions cannot deadlock.
import { sql } from "drizzle-orm";
import type { Executor } from "../db/client.js";
import { GENESIS, contentAround, sqlIsoMillis, toJsonValue } from "./canonical.js";
import type { traceEntries } from "../db/schema/index.js";
import type { TraceInput } from "./trace.events.js";
import { markChannel } from "./trace.via.js";

export type { TraceInput } from "./trace.events.js";

/** An entry as the table row (what an append returns): the columns of trace.events.ts `TraceEntry`. */
export type TraceRow = typeof traceEntries.$inferSelect;

/** The LISTEN/NOTIFY channel that announces committed trace entries (payload: the entry id). */
export const TRACE_CHANNEL = "mc_trace";

/** The chain an entry belongs to: its mission's, or '' (never a valid key) for the global one. */
export function chainOf(missionId: string | null): string {
  return missionId ?? "";
}

// The new entry's `at`: this statement's start in whole milliseconds, or the head's `at` if that is later.
// statement_timestamp() is one value for the whole statement, so both uses below agree.
const NOW_MS = "date_trunc('milliseconds', statement_timestamp())";
const NEXT_AT = `greatest(c.head_at, ${NOW_MS})`;

/** The trace columns an append's statement returns (see `traceAppendCtes`). */
export interface AppendedRow {
  trace_id: string;
  trace_at_ms: string;
  trace_prev_hash: string;
  trace_hash: string;
}

/**
 * The two CTEs of an append, `trace_head` and `trace_ins`, for a statement that ends by selecting
 * `TRACE_RETURNING` from `trace_ins`. With `gate` (the name of an earlier CTE of the same statement) the entry
 * is appended once per row of that CTE and not at all when it has none: a statement can make a conditional
 * change and its trace entry at once, with nothing written when the condition fails.
 */
export function traceAppendCtes(entry: TraceInput, gate?: string) {
  return appendStatement(entry, gate);
}

/** The one builder of an append (see `traceAppendCtes`); callers reach it only through the typed entry points. */
function appendStatement(entry: AnyTraceInput, gate?: string) {
  const data = toJsonValue(markChannel(entry.actor, entry.data ?? {}));
  const content = {
    event: entry.event,
    actor: entry.actor,
    mission_id: entry.missionId ?? null,
    task_id: entry.taskId ?? null,
    agent_id: entry.agentId ?? null,
    data,
  };
  const [before, after] = contentAround(content);
  const from = gate === undefined ? sql`` : sql` FROM ${sql.identifier(gate)}`;
  const ctes = sql`
    trace_head AS (
      INSERT INTO trace_chains AS c (chain, prev_hash, head_hash, head_at, length)
      SELECT ${chainOf(content.mission_id)}::text, ${GENESIS}::text,
             encode(sha256(convert_to(${GENESIS}::text || ${before}::text || ${sql.raw(sqlIsoMillis(NOW_MS))} || ${after}::text, 'UTF8')), 'hex'),
             ${sql.raw(NOW_MS)}, 1${from}
      ON CONFLICT (chain) DO UPDATE
        SET prev_hash = c.head_hash,
            head_hash = encode(sha256(convert_to(c.head_hash || ${before}::text || ${sql.raw(sqlIsoMillis(NEXT_AT))} || ${after}::text, 'UTF8')), 'hex'),
            head_at = ${sql.raw(NEXT_AT)},
            length = c.length + 1
      RETURNING c.prev_hash, c.head_hash, c.head_at
    ), trace_ins AS (
      INSERT INTO trace_entries (at, event, actor, mission_id, task_id, agent_id, data, prev_hash, hash)
      SELECT trace_head.head_at, ${content.event}::text, ${content.actor}::text, ${content.mission_id}::text,
             ${content.task_id}::text, ${content.agent_id}::text, ${JSON.stringify(data)}::jsonb, trace_head.prev_hash,
             trace_head.head_hash
      FROM trace_head
      RETURNING id, at, prev_hash, hash
    )`;
  const toRow = (row: AppendedRow): TraceRow => ({
    id: Number(row.trace_id),
    at: new Date(Number(row.trace_at_ms)),
    event: content.event,
    actor: content.actor,
    missionId: content.mission_id,
    taskId: content.task_id,
    agentId: content.agent_id,
    data,
    prevHash: row.trace_prev_hash,
    hash: row.trace_hash,
  });
  return { ctes, toRow };
}

/** What a statement built on `traceAppendCtes` selects from `trace_ins` (it also queues the NOTIFY). */
export const TRACE_RETURNING = sql.raw(`trace_ins.id::text AS trace_id,
  (extract(epoch FROM trace_ins.at) * 1000)::bigint::text AS trace_at_ms, trace_ins.prev_hash AS trace_prev_hash,
  trace_ins.hash AS trace_hash, pg_notify('${TRACE_CHANNEL}', trace_ins.id::text) AS trace_notified`);

// The implementation's view of an entry; callers see only the typed overload.
type AnyTraceInput = {
  event: string;
  actor: string;
  missionId?: string | null;
  taskId?: string | null;
  agentId?: string | null;
  data?: Record<string, unknown>;
};

/** Appends one entry in `exec`'s transaction (see the invariants above) and returns it as stored. */
export async function appendTrace(exec: Executor, entry: TraceInput): Promise<TraceRow>;
export async function appendTrace(exec: Executor, entry: AnyTraceInput): Promise<TraceRow> {
  const { ctes, toRow } = appendStatement(entry);
  const result = await exec.execute(sql`WITH ${ctes} SELECT ${TRACE_RETURNING} FROM trace_ins`);
  return toRow((result as unknown as { rows: AppendedRow[] }).rows[0]!);
}
