// Reading the trace: filters name records by id or key, entries store keys, so integer ids are turned into
// keys first (an unknown one matches nothing rather than erroring, as a filter should).
import type { Database, Executor } from "../db/client.js";
import { NotFound } from "../http/errors.js";
import { parseRef } from "../http/ids.js";
import { pageOf, toPage } from "../http/pagination.js";
import { findMission } from "../missions/missions.repo.js";
import { findAgent } from "../agents/agents.repo.js";
import { findTaskKey } from "./trace.lookup.js";
import * as repo from "./trace.repo.js";
import type { TraceQuery } from "./trace.schemas.js";

export type TraceRowApi = ReturnType<typeof traceToApi>;

export function traceToApi(r: Awaited<ReturnType<typeof repo.listTrace>>[number]) {
  return {
    id: r.id,
    at: r.at,
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

  return { list, listForMission };
}
