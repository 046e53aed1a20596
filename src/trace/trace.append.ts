// Every change writes exactly one trace entry in the same transaction as the change itself (`appendTrace` on
// the change's executor, or the append's CTEs in the change's own statement), so an acknowledged change always
// has its entry and a rolled-back one never does.
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
// - There is one way to build that statement, `appendCtes`: `appendTrace` runs it alone with the entry's values
//   as parameters, and a caller that must change a record and append in one statement (tasks.repo's report,
//   status move and create) splices the same CTEs with placeholders (`traceAppendCtes`) into a statement
//   compiled once, and fills them with `traceAppendValues(entry)`.
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
 * `TRACE_RETURNING` from `trace_ins`, with the entry's values as placeholders (`traceAppendValues` fills them):
 * a statement is compiled once and run with other values. With `gate` (the name of an earlier CTE of the same
 * statement) the entry is appended once per row of that CTE and not at all when it has none: a statement can
 * make a conditional change and its trace entry at once, with nothing written when the condition fails.
 */
export function traceAppendCtes(gate?: string) {
  return appendCtes((name) => sql.placeholder(name), gate);
}

/** The values of `traceAppendCtes`' placeholders for this entry, and how to read the appended row back. */
export function traceAppendValues(entry: TraceInput) {
  return appendValues(entry);
}

/**
 * The one builder of an append (see `traceAppendCtes`); `v` gives each value's place in the text: a placeholder,
 * or the value itself as a parameter. Callers reach it only through the typed entry points.
 */
function appendCtes(v: (name: keyof AppendValues) => unknown, gate?: string) {
  const from = gate === undefined ? sql`` : sql` FROM ${sql.identifier(gate)}`;
  return sql`
    trace_head AS (
      INSERT INTO trace_chains AS c (chain, prev_hash, head_hash, head_at, length)
      SELECT ${v("trace_chain")}::text, ${GENESIS}::text,
             encode(sha256(convert_to(${GENESIS}::text || ${v("trace_before")}::text || ${sql.raw(sqlIsoMillis(NOW_MS))} || ${v("trace_after")}::text, 'UTF8')), 'hex'),
             ${sql.raw(NOW_MS)}, 1${from}
      ON CONFLICT (chain) DO UPDATE
        SET prev_hash = c.head_hash,
            head_hash = encode(sha256(convert_to(c.head_hash || ${v("trace_before")}::text || ${sql.raw(sqlIsoMillis(NEXT_AT))} || ${v("trace_after")}::text, 'UTF8')), 'hex'),
            head_at = ${sql.raw(NEXT_AT)},
            length = c.length + 1
      RETURNING c.prev_hash, c.head_hash, c.head_at
    ), trace_ins AS (
      INSERT INTO trace_entries (at, event, actor, mission_id, task_id, agent_id, data, prev_hash, hash)
      SELECT trace_head.head_at, ${v("trace_event")}::text, ${v("trace_actor")}::text, ${v("trace_mission")}::text,
             ${v("trace_task")}::text, ${v("trace_agent")}::text, ${v("trace_data")}::jsonb, trace_head.prev_hash,
             trace_head.head_hash
      FROM trace_head
      RETURNING id, at, prev_hash, hash
    )`;
}

/** What fills the placeholders of `traceAppendCtes`. */
export type AppendValues = {
  trace_chain: string;
  trace_before: string;
  trace_after: string;
  trace_event: string;
  trace_actor: string;
  trace_mission: string | null;
  trace_task: string | null;
  trace_agent: string | null;
  trace_data: string;
};

function appendValues(entry: AnyTraceInput) {
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
  const values: AppendValues = {
    trace_chain: chainOf(content.mission_id),
    trace_before: before,
    trace_after: after,
    trace_event: content.event,
    trace_actor: content.actor,
    trace_mission: content.mission_id,
    trace_task: content.task_id,
    trace_agent: content.agent_id,
    trace_data: JSON.stringify(data),
  };
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
  return { values, toRow };
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
  const { values, toRow } = appendValues(entry);
  const result = await exec.execute(
    sql`WITH ${appendCtes((name) => values[name])} SELECT ${TRACE_RETURNING} FROM trace_ins`,
  );
  return toRow((result as unknown as { rows: AppendedRow[] }).rows[0]!);
}
