// Heartbeat coalescing: a heartbeat to an agent heard from recently costs no database round trip. Its time is
// kept in memory and written with every other pending heartbeat in one UPDATE at least every FLUSH_EVERY_MS
// (and at once when MAX_PENDING agents are waiting, and on close). Invariants:
// - Durability: a crash loses at most the heartbeats of the last flush interval (only `last_seen_at` moves
//   forward less far); everything else a heartbeat can change goes straight to the database: the first
//   heartbeat of an agent not in memory is one UPDATE (repo.heartbeat) answered from its result, and a
//   heartbeat to an agent known as `offline` revives it in a transaction with its `agent.status_changed`
//   entry (agents.status.ts reviveByHeartbeat).
// - Order: the flush only moves `last_seen_at` forward (GREATEST); an agent it finds `offline` (made so by the
//   staleness daemon or another process since) is revived only when the heartbeat is later than the status
//   change, so a heartbeat written late never undoes a `stop` that came after it, from this process or another.
// - Times are on the database's clock: the flush writes `now() - age` where age is how long ago, by this
//   process's clock, the heartbeat arrived, so what is stored is never earlier than the heartbeat. An answer
//   shows the local time plus a lower bound of the offset between the clocks (the database's `now()` minus the
//   local time the flush's answer arrived, the largest over recent flushes), so it is never later than what
//   a read will show once the heartbeat is written.
// - Reads see the latest heartbeat: agent reads call `settle()` first, which writes whatever is pending
//   (one batched statement) and waits for a flush in flight. Another process on the same PostgreSQL sees a
//   heartbeat at most one flush interval (plus the statement's time) after it was answered.
// - The copy of an agent used to answer a coalesced heartbeat is refreshed from the database by every flush
//   (so changes made by other processes show within a flush interval) and dropped as soon as this process
//   writes the agent any other way (agent-writes.ts); a copy read before such a write is never stored after
//   it (`written` sequence numbers).
import { sql } from "drizzle-orm";
import type { Database } from "../db/client.js";
import { agents } from "../db/schema/index.js";
import type { Ref } from "../core/ids.js";
import { onAgentWritten } from "./agent-writes.js";
import * as repo from "./agents.repo.js";
import { reviveByHeartbeat } from "./agents.status.js";
import { isOffline } from "./agents.state.js";

/** Pending heartbeats are written at least this often. */
export const FLUSH_EVERY_MS = 500;
/** This many agents waiting trigger a flush before the interval is up. */
const MAX_PENDING = 2_000;
/** An agent not heard from for this long is forgotten (the next heartbeat goes to the database again). */
const FORGET_AFTER_MS = 10 * 60_000;
const MAX_KNOWN = 100_000;
/** Flushes whose clock measurements count (a minute's worth at two a second). */
const OFFSET_SAMPLES = 120;

interface Known {
  row: repo.AgentView;
  usedAt: number;
}

export interface Heartbeats {
  /** Records a heartbeat; the agent as it now reads, or undefined when there is no such agent. */
  beat(ref: Ref): Promise<repo.AgentView | undefined>;
  /** Writes every pending heartbeat and waits for any flush in flight: call before reading agents. */
  settle(): Promise<void>;
  /** Final flush; later heartbeats are written directly. */
  close(): Promise<void>;
  readonly pending: number;
}

const registry = new WeakMap<Database, Heartbeats>();

/** The coalescer of this database handle (one per process and database). */
export function heartbeatsFor(database: Database, log?: (err: unknown) => void): Heartbeats {
  let h = registry.get(database);
  if (!h) {
    h = createHeartbeats(database, log);
    registry.set(database, h);
  }
  return h;
}

function createHeartbeats(database: Database, log: (err: unknown) => void = () => {}): Heartbeats {
  const { db } = database;
  /** Agent id → when (local ms) its latest unwritten heartbeat arrived. */
  let pending = new Map<number, number>();
  const known = new Map<number, Known>();
  const byKey = new Map<string, number>();
  /** Sequence of local writes; `writtenAt` keeps the last one per agent, `floor` what was forgotten. */
  let seq = 0;
  let floor = 0;
  const writtenAt = new Map<number, number>();
  /** Database clock minus local clock, in ms: lower bounds measured by recent flushes, and the largest. */
  const offsets: number[] = [];
  let offsetMs = 0;
  let flushing: Promise<void> = Promise.resolve();
  let closed = false;

  const unsubscribe = onAgentWritten((id, seen) => {
    writtenAt.set(id, ++seq);
    forget(id);
    if (seen) pending.delete(id);
    if (writtenAt.size > MAX_KNOWN) {
      writtenAt.clear();
      floor = seq;
    }
  });

  function forget(id: number) {
    const k = known.get(id);
    if (!k) return;
    known.delete(id);
    if (byKey.get(k.row.agentId) === id) byKey.delete(k.row.agentId);
  }

  /** Keeps `row` unless this process wrote the agent after `since` (then the row may predate that write). */
  function remember(row: repo.AgentView, since: number) {
    if (since < floor || (writtenAt.get(row.id) ?? -1) > since) return;
    if (known.size >= MAX_KNOWN) {
      known.clear();
      byKey.clear();
    }
    known.set(row.id, { row, usedAt: Date.now() });
    byKey.set(row.agentId, row.id);
  }

  async function direct(ref: Ref) {
    const startedAt = Date.now();
    let since = seq;
    let row = await repo.heartbeat(db, ref);
    if (!row) {
      row = await reviveByHeartbeat(database, ref);
      // The revival is this process's own write, and `row` what it wrote: the copy to keep.
      since = seq;
    }
    if (row) {
      // This write supersedes the agent's heartbeats still waiting from before it (not those that came since).
      if ((pending.get(row.id) ?? Infinity) <= startedAt) pending.delete(row.id);
      if (!closed) remember(row, since);
    }
    return row;
  }

  async function flushOnce() {
    if (pending.size === 0) return;
    const batch = pending;
    pending = new Map();
    const since = seq;
    const sentAt = Date.now();
    const ids: number[] = [];
    const ages: number[] = [];
    for (const [id, at] of batch) {
      ids.push(id);
      ages.push(Math.max(0, sentAt - at));
    }
    // Arrays travel as array literals (text), which both drivers pass through unchanged.
    const v = sql`(SELECT unnest(${`{${ids.join(",")}}`}::integer[]) AS id, unnest(${`{${ages.join(",")}}`}::bigint[]) AS age_ms) AS v`;
    const at = sql`(now() - v.age_ms * interval '1 millisecond')`;
    try {
      const rows = await db
        .update(agents)
        .set({ lastSeenAt: sql`GREATEST(${agents.lastSeenAt}, ${at})` })
        .from(v)
        .where(sql`${agents.id} = v.id`)
        .returning({ ...repo.viewCols, dbNowMs: sql<number>`(extract(epoch from now()) * 1000)::float8` });
      const doneAt = Date.now();
      if (rows[0]) {
        offsets.push(Number(rows[0].dbNowMs) - doneAt);
        if (offsets.length > OFFSET_SAMPLES) offsets.shift();
        offsetMs = Math.max(...offsets);
      }
      // Made offline since we last knew it: the heartbeat revives it, as a status change with its entry.
      for (const r of rows) {
        if (!isOffline(r.status)) continue;
        const age = Date.now() - (batch.get(r.id) ?? Date.now());
        await reviveByHeartbeat(database, r.id, age).catch(log);
      }
      if (closed) return;
      for (const { dbNowMs: _ignored, ...row } of rows) if (!isOffline(row.status)) remember(repo.toView(row), since);
    } catch (err) {
      // Kept for the next flush (newer heartbeats win); the database may be briefly unreachable.
      for (const [id, t] of batch) pending.set(id, Math.max(pending.get(id) ?? 0, t));
      log(err);
    }
  }

  function flush(): Promise<void> {
    flushing = flushing.then(flushOnce);
    return flushing;
  }

  const timer = setInterval(() => {
    if (pending.size > 0) void flush();
    const old = Date.now() - FORGET_AFTER_MS;
    for (const [id, k] of known) if (k.usedAt < old && !pending.has(id)) forget(id);
  }, FLUSH_EVERY_MS);
  timer.unref();

  return {
    get pending() {
      return pending.size;
    },
    async beat(ref) {
      if (closed) return direct(ref);
      const id = typeof ref === "number" ? ref : byKey.get(ref);
      const k = id === undefined ? undefined : known.get(id);
      // Unknown here, or a heartbeat that revives the agent: written now.
      if (!k || isOffline(k.row.status)) return direct(ref);
      const now = Date.now();
      k.usedAt = now;
      pending.set(k.row.id, now);
      if (pending.size >= MAX_PENDING) void flush();
      return { ...k.row, lastSeenAt: new Date(now + offsetMs) };
    },
    async settle() {
      if (pending.size > 0) await flush();
      else await flushing;
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await flush();
      unsubscribe();
      known.clear();
      byKey.clear();
      registry.delete(database);
    },
  };
}
