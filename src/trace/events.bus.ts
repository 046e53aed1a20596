// The live event bus behind GET /api/events: committed trace entries, in id order, to every subscriber in
// this process, plus ephemeral events (agent heartbeats, task log lines) that are never stored.
//
// How entries get here: appendTrace queues a NOTIFY in the appending transaction, delivered at commit (on
// PostgreSQL to every listening process, on PGlite within this one). The NOTIFY only wakes the bus up; the
// bus then reads the table itself (`id > horizon`), so a lost or coalesced notification costs nothing but
// latency, and a safety poll covers a listener reconnecting.
//
// Invariants:
// - `horizon`: every entry with id ≤ horizon has been published (or is known never to commit); entries are
//   published in id order, each once. A subscriber is told the horizon when it joins, so it can replay
//   (its Last-Event-ID, horizon] from the table and take the rest from the bus without gap or duplicate.
// - Gaps: ids are drawn before commit, so on PostgreSQL id 11 may commit before id 10. A missing id stops
//   publication until it is settled: either it commits, or every transaction that could still hold it has
//   ended. Such a transaction was already running (and had its xid, since the append statement writes the
//   chain head before drawing the id) when the first read saw the gap, so it is in that read's snapshot
//   `xip` list; once none of those is still running, the id was rolled back. A very long unrelated
//   transaction cannot stall the stream for more than `gapWaitMs`. On PGlite nothing runs concurrently with
//   the read, so a gap is always settled at once.
// - The bus tails the table only while it has subscribers (and a short idle time after), and `close()`
//   ends every subscription and releases the listener.
import type { FastifyBaseLogger } from "fastify";
import type { Database } from "../db/client.js";
import { createNotifier, type Notifier } from "../db/notify.js";
import { singleFlight } from "../core/single-flight.js";
import { TRACE_CHANNEL } from "./trace.append.js";
import type { EphemeralEventName, TraceEntry, TraceView } from "./trace.events.js";

/** Cross-process channel for ephemeral events (payload: the event as JSON, or a JSON array of events). */
export const EPHEMERAL_CHANNEL = "mc_events";
/**
 * On PostgreSQL ephemeral events are sent in batches: one NOTIFY per this many ms (per ~7,900 bytes of
 * payload, PostgreSQL's limit being 8,000), not one round trip per event — heartbeats arrive by thousands a second.
 */
const EPHEMERAL_BATCH_MS = 100;
const EPHEMERAL_CHUNK_BYTES = 7_900;

export interface LiveEvent {
  /** The trace id; null for an ephemeral event (no id, not replayable). */
  id: number | null;
  event: string;
  mission_id: string | null;
  task_id: string | null;
  agent_id: string | null;
  /** What the stream sends as the event's data: the entry (TraceView), or an ephemeral event's fields. */
  payload: TraceView | Record<string, unknown>;
}

export interface EphemeralEvent {
  event: EphemeralEventName;
  agent_id: string;
  at: Date | string;
}

export interface SubscriberHooks {
  onEvent(e: LiveEvent): void;
  /** The bus is closing: end the stream. */
  onEnd(): void;
}

export interface Subscription {
  /** Every entry with id ≤ horizon was published before this subscription; every later one reaches it. */
  readonly horizon: number;
  close(): void;
}

export interface EventBus {
  subscribe(hooks: SubscriberHooks): Promise<Subscription>;
  /** Sends an event that is not stored to every subscriber in every process. Never throws. */
  publishEphemeral(e: EphemeralEvent): Promise<void>;
  subscriberCount(): number;
  close(): Promise<void>;
}

export interface EventBusOptions {
  database: Database;
  /** The process's shared listener; without one the bus opens (and closes) its own while it runs. */
  notifier?: Notifier;
  log?: FastifyBaseLogger;
  /** Longest wait for a missing id before publishing past it (default 3 s). */
  gapWaitMs?: number;
  /** Poll interval that covers notifications lost while the listener reconnects (default 2 s). */
  safetyPollMs?: number;
  /** How long the bus keeps tailing after its last subscriber left (default 30 s). */
  idleStopMs?: number;
}

const BATCH = 500;
/** At start, in-flight appends may hold ids below the newest one: look back this far for gaps. */
const START_LOOKBACK = 1000;

/** A row of TAIL_SQL: an entry (trace.events.ts) as the driver returns it, with the snapshot it was read in. */
type RawEntry = Omit<TraceEntry, "id" | "at" | "prev_hash" | "hash"> & { id: string; at: Date | string; snap: string };

/** New entries after the horizon, with the snapshot they were read in (for settling gaps). */
export const TAIL_SQL = `SELECT id::text AS id, at, event, actor, mission_id, task_id, agent_id, data,
    pg_current_snapshot()::text AS snap
  FROM trace_entries WHERE id > $1 ORDER BY trace_entries.id LIMIT $2`;

/** The in-progress transaction ids of a `pg_current_snapshot()` text (`xmin:xmax:xip,xip`). */
function xipOf(snap: string): Set<string> {
  const list = snap.split(":")[2] ?? "";
  return new Set(list.split(",").filter((x) => x !== ""));
}

function toLive(r: RawEntry): LiveEvent {
  const id = Number(r.id);
  const data = (typeof r.data === "string" ? JSON.parse(r.data) : r.data) as TraceView["data"];
  const payload: TraceView = {
    id,
    at: new Date(r.at).toISOString(),
    event: r.event,
    actor: r.actor,
    mission_id: r.mission_id,
    task_id: r.task_id,
    agent_id: r.agent_id,
    data,
  };
  return { id, event: r.event, mission_id: r.mission_id, task_id: r.task_id, agent_id: r.agent_id, payload };
}

const keyOrNull = (v: unknown): string | null => (typeof v === "string" ? v : null);

/**
 * An ephemeral event from a NOTIFY payload or a publisher: `agent.heartbeat` (`agent_id`, `at`), or
 * `task.log` (`task_id`, `mission_id`, `agent_id`, `lines`), which statements writing task log lines queue
 * in their own transaction (tasks/task-logs.live.ts), so it arrives at commit.
 */
function ephemeralOf(raw: unknown): LiveEvent | null {
  if (typeof raw !== "object" || raw === null) return null;
  const e = raw as Record<string, unknown>;
  if (e.event === "task.log") {
    if (typeof e.task_id !== "string" || !Array.isArray(e.lines)) return null;
    const keys = { task_id: e.task_id, mission_id: keyOrNull(e.mission_id), agent_id: keyOrNull(e.agent_id) };
    return { id: null, event: e.event, ...keys, payload: { event: e.event, ...keys, lines: e.lines } };
  }
  if (typeof e.event !== "string" || typeof e.agent_id !== "string") return null;
  const at = new Date(e.at as string);
  if (Number.isNaN(at.getTime())) return null;
  return {
    id: null,
    event: e.event,
    mission_id: null,
    task_id: null,
    agent_id: e.agent_id,
    payload: { event: e.event, agent_id: e.agent_id, at: at.toISOString() },
  };
}

export function createEventBus(opts: EventBusOptions): EventBus {
  const { database, log } = opts;
  const gapWaitMs = opts.gapWaitMs ?? 3000;
  const safetyPollMs = opts.safetyPollMs ?? 2000;
  const idleStopMs = opts.idleStopMs ?? 30_000;
  const subs = new Set<SubscriberHooks>();

  let closed = false;
  /** Bumped by every start and stop; a pump of an older generation publishes nothing. */
  let generation = 0;
  let starting: Promise<void> | null = null;
  let running = false;
  /** Undoes the current run's LISTEN registrations (and closes the bus's own notifier, if it made one). */
  let unlisten: (() => Promise<void>) | null = null;
  let horizon = 0;
  let gap: { start: number; since: number; candidates: Set<string> } | null = null;
  let recheck: NodeJS.Timeout | null = null;
  let safety: NodeJS.Timeout | null = null;
  let idle: NodeJS.Timeout | null = null;

  const deliver = (e: LiveEvent) => {
    for (const s of subs) {
      try {
        s.onEvent(e);
      } catch (err) {
        log?.warn({ err }, "event subscriber failed");
      }
    }
  };

  const deliverEphemeral = (payload: string) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload);
    } catch {
      return;
    }
    for (const item of Array.isArray(parsed) ? parsed : [parsed]) {
      const e = ephemeralOf(item);
      if (e) deliver(e);
    }
  };

  let outbox: string[] = [];
  let sending: Promise<void> | null = null;
  /** Sends what has queued up as few NOTIFYs as the payload limit allows. */
  async function sendOutbox() {
    const items = outbox;
    outbox = [];
    sending = null;
    if (closed) return;
    let chunk: string[] = [];
    let bytes = 2;
    const send = async (batch: string[]) => {
      try {
        // Every listening process (this one included, when it has subscribers) hears it.
        await database.query("SELECT pg_notify($1, $2)", [EPHEMERAL_CHANNEL, `[${batch.join(",")}]`]);
      } catch (err) {
        log?.warn({ err }, "publishing ephemeral events failed");
      }
    };
    for (const item of items) {
      const size = Buffer.byteLength(item) + 1;
      if (chunk.length > 0 && bytes + size > EPHEMERAL_CHUNK_BYTES) {
        await send(chunk);
        chunk = [];
        bytes = 2;
      }
      chunk.push(item);
      bytes += size;
    }
    if (chunk.length > 0) await send(chunk);
  }

  /** Whether the missing id `start` can be passed over (see the header comment). */
  function gapSettled(start: number, snap: string): boolean {
    const xip = xipOf(snap);
    const now = Date.now();
    if (!gap || gap.start !== start) gap = { start, since: now, candidates: xip };
    else gap.candidates = new Set([...gap.candidates].filter((x) => xip.has(x)));
    return gap.candidates.size === 0 || now - gap.since >= gapWaitMs;
  }

  async function pumpOnce(gen: number) {
    for (;;) {
      const rows = await database.query<RawEntry>(TAIL_SQL, [horizon, BATCH]);
      for (const r of rows) {
        if (gen !== generation) return;
        const id = Number(r.id);
        if (id !== horizon + 1 && !gapSettled(horizon + 1, r.snap)) {
          if (!recheck) {
            recheck = setTimeout(() => {
              recheck = null;
              wake();
            }, 25);
            recheck.unref();
          }
          return;
        }
        gap = null;
        horizon = id;
        deliver(toLive(r));
      }
      if (rows.length < BATCH) return;
    }
  }

  // One read of the table at a time; a wake-up during a read runs exactly one more. Each read belongs to the
  // generation current when it begins, so a wake-up that arrives while a stopped generation's read finishes
  // is served by the next generation's read, and a read after a stop publishes nothing.
  const tail = singleFlight(
    async () => {
      if (running && !closed) await pumpOnce(generation);
    },
    // The next notification or the safety poll tries again.
    (err) => log?.warn({ err }, "reading new trace entries failed"),
  );

  function wake() {
    if (running && !closed) void tail.trigger();
  }

  /**
   * Waits for a read of the table that began after this call, so everything committed before it is at or
   * below the horizon (unless held back by a gap): a new subscriber then starts from the moment it came.
   */
  function caughtUp(): Promise<void> {
    return running ? tail.trigger() : Promise.resolve();
  }

  async function start() {
    const gen = ++generation;
    const own = opts.notifier === undefined;
    const n = opts.notifier ?? createNotifier(database);
    const offs: Array<() => void> = [];
    const release = async () => {
      for (const off of offs) off();
      if (own) await n.close().catch(() => {});
    };
    try {
      // Listen before reading the newest id, so nothing committed in between goes unnoticed.
      offs.push(await n.listen(TRACE_CHANNEL, () => wake()));
      // Task log lines arrive by NOTIFY on both backends (queued by the writing transaction); heartbeats on
      // PGlite are delivered directly (publishEphemeral).
      offs.push(await n.listen(EPHEMERAL_CHANNEL, deliverEphemeral));
      const [r] = await database.query<{ max: string; snap: string }>(
        "SELECT coalesce(max(id), 0)::text AS max, pg_current_snapshot()::text AS snap FROM trace_entries",
      );
      const max = Number(r!.max);
      if (gen !== generation || closed) throw new Error("event bus stopped while starting");
      horizon = xipOf(r!.snap).size === 0 ? max : Math.max(0, max - START_LOOKBACK);
      gap = null;
      unlisten = release;
      running = true;
      safety = setInterval(wake, safetyPollMs);
      safety.unref();
      // Catch up to the present before anyone subscribes, so a new subscriber starts from "now". A failed
      // read is retried like any other (next notification, safety poll); the horizon only moves on success.
      await tail.trigger();
    } catch (err) {
      running = false;
      if (safety) clearInterval(safety);
      safety = null;
      if (unlisten === release) unlisten = null;
      await release();
      throw err;
    }
  }

  async function stop() {
    generation++;
    running = false;
    for (const t of [recheck, idle]) if (t) clearTimeout(t);
    if (safety) clearInterval(safety);
    recheck = idle = safety = null;
    const release = unlisten;
    unlisten = null;
    if (release) await release();
  }

  async function ensureStarted() {
    if (running) return;
    starting ??= start().finally(() => {
      starting = null;
    });
    await starting;
  }

  return {
    async subscribe(hooks) {
      if (closed) throw new Error("event bus is closed");
      if (idle) {
        clearTimeout(idle);
        idle = null;
      }
      await ensureStarted();
      await caughtUp();
      if (closed) throw new Error("event bus is closed");
      subs.add(hooks);
      let done = false;
      return {
        horizon,
        close() {
          if (done) return;
          done = true;
          subs.delete(hooks);
          if (subs.size === 0 && running && !closed && !idle) {
            idle = setTimeout(() => {
              idle = null;
              if (subs.size === 0) void stop();
            }, idleStopMs);
            idle.unref();
          }
        },
      };
    },

    async publishEphemeral(e) {
      const ev = ephemeralOf(e);
      if (!ev || closed) return;
      const payload = JSON.stringify(ev.payload);
      if (database.kind === "pglite") {
        deliverEphemeral(payload);
        return;
      }
      outbox.push(payload);
      sending ??= new Promise<void>((resolve) => setTimeout(resolve, EPHEMERAL_BATCH_MS).unref()).then(sendOutbox);
      return sending;
    },

    subscriberCount: () => subs.size,

    async close() {
      if (closed) return;
      closed = true;
      for (const s of [...subs]) {
        try {
          s.onEnd();
        } catch {
          // ending one stream must not keep the others open
        }
      }
      subs.clear();
      await starting?.catch(() => {});
      await stop();
    },
  };
}
