// Reading the trace: filters name records by id or key, entries store keys, so integer ids are turned into
// keys first (an unknown one matches nothing rather than erroring, as a filter should). Verification,
// export and replay name one chain by its mission, which must exist (404 otherwise). Writing is not here:
// every entry is appended by trace.append.ts, in the transaction of the change it records.
import type { Database, Executor } from "../db/client.js";
import { Invalid, NotFound } from "../core/errors.js";
import { parseRef } from "../core/ids.js";
import { pageOf, toPage } from "../core/pagination.js";
import { findMission } from "../missions/missions.lookup.js";
import { findAgent } from "../agents/agents.lookup.js";
import { findTaskKey } from "./trace.lookup.js";
import * as repo from "./trace.repo.js";
import { exportLines, replayMission, verifyChain } from "./audit.js";
import type { ChainScope } from "./chain.js";
import type { ChainQuery, EventsQuery, ReplayBody, TraceQuery } from "./trace.schemas.js";
import type { TraceView } from "./trace.events.js";

/** Resolved filters of the live stream: keys, or `null` when a filter can match nothing. */
export interface LiveFilter {
  missionId?: string;
  taskId?: string;
  agentId?: string;
  event?: string;
}

export function traceToApi(r: Awaited<ReturnType<typeof repo.listTrace>>[number]): TraceView {
  return {
    id: r.id,
    at: r.at.toISOString(),
    event: r.event,
    actor: r.actor,
    mission_id: r.missionId,
    task_id: r.taskId,
    agent_id: r.agentId,
    data: r.data,
  };
}

/** undefined: no filter; null: a filter that can match nothing. */
async function keyOf(
  exec: Executor,
  raw: string | undefined,
  lookup: (n: number) => Promise<string | undefined>,
): Promise<string | null | undefined> {
  if (raw === undefined) return undefined;
  const ref = parseRef(raw);
  if (ref === null) return null;
  if (typeof ref === "string") return ref;
  return (await lookup(ref)) ?? null;
}

export type TraceService = ReturnType<typeof createTraceService>;

export function createTraceService({ database }: { database: Database }) {
  const { db } = database;

  async function list(q: TraceQuery) {
    const page = pageOf(q);
    const [missionId, taskId, agentId] = await Promise.all([
      keyOf(db, q.mission_id, async (n) => (await findMission(db, n))?.missionId),
      keyOf(db, q.task_id, (n) => findTaskKey(db, n)),
      keyOf(db, q.agent_id, async (n) => (await findAgent(db, n))?.agentId),
    ]);
    if (missionId === null || taskId === null || agentId === null) return { data: [], meta: { next_cursor: null } };
    const rows = await repo.listTrace(
      db,
      {
        missionId,
        taskId,
        agentId,
        event: q.event,
        since: q.since === undefined ? undefined : new Date(q.since),
        until: q.until === undefined ? undefined : new Date(q.until),
      },
      page,
    );
    return toPage(rows, page, traceToApi);
  }

  async function listForMission(missionRaw: string, q: Omit<TraceQuery, "mission_id">) {
    const ref = parseRef(missionRaw);
    const m = ref === null ? undefined : await findMission(db, ref);
    if (!m) throw new NotFound();
    return list({ ...q, mission_id: m.missionId });
  }

  /** A mission's chain, by the mission's integer id or key. */
  async function missionChain(raw: string): Promise<ChainScope> {
    const ref = parseRef(raw);
    const m = ref === null ? undefined : await findMission(db, ref);
    if (!m) throw new NotFound();
    return { mission: m.missionId };
  }

  async function scopeOf(q: ChainQuery): Promise<ChainScope> {
    return q.mission_id === undefined ? { all: true } : missionChain(q.mission_id);
  }

  async function verify(q: ChainQuery) {
    return verifyChain(database, await scopeOf(q));
  }

  /** Resolves the scope first (so a 404 is a normal response), then yields the lines lazily. */
  async function exportStream(q: ChainQuery): Promise<AsyncGenerator<string>> {
    return exportLines(database, await scopeOf(q));
  }

  async function replay(missionRaw: string, body: ReplayBody) {
    const ref = parseRef(missionRaw);
    const m = ref === null ? undefined : await findMission(db, ref);
    if (!m) throw new NotFound();
    let untilMs: number | null = null;
    if (body.until !== undefined) {
      untilMs = new Date(body.until).getTime();
      if (Number.isNaN(untilMs)) throw Invalid.field("until", "must be a valid date-time");
    }
    return replayMission(database, m, untilMs);
  }

  async function liveFilter(q: EventsQuery): Promise<LiveFilter | null> {
    const [missionId, taskId, agentId] = await Promise.all([
      keyOf(db, q.mission_id, async (n) => (await findMission(db, n))?.missionId),
      keyOf(db, q.task_id, (n) => findTaskKey(db, n)),
      keyOf(db, q.agent_id, async (n) => (await findAgent(db, n))?.agentId),
    ]);
    if (missionId === null || taskId === null || agentId === null) return null;
    return { missionId, taskId, agentId, event: q.event };
  }

  /** Entries matching a live filter with after < id ≤ upTo, oldest first, one page at a time. */
  async function listRange(f: LiveFilter, after: number, upTo: number, limit: number) {
    const rows = await repo.listTrace(db, { ...f, upTo }, { after, limit: limit - 1 });
    return rows.map(traceToApi);
  }

  return { list, listForMission, verify, exportStream, replay, liveFilter, listRange };
}
