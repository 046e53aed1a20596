// Missions. Invariants: a status changes only through `transition`, which checks the move against the
// state machine, applies it as a conditional update on the status it read (so of two racing moves exactly
// one wins), and writes the `mission.status_changed` entry in the same transaction.
import type { Database, Executor } from "../db/client.js";
import { isUniqueViolation } from "../db/lookup.js";
import type { Principal } from "../http/auth.js";
import { Forbidden, Invalid, NotFound } from "../http/errors.js";
import { isAgentOnMission } from "../agents/agents.repo.js";
import { generateKey, parseRef } from "../http/ids.js";
import { pageOf, toPage } from "../http/pagination.js";
import { noRuntime, type MissionRuntime } from "../runtime/runtime.types.js";
import { appendTrace } from "../trace/trace.service.js";
import * as repo from "./missions.repo.js";
import type { MissionCreate, MissionListQuery, MissionUpdate } from "./missions.schemas.js";
import { canMoveMission, type MissionStatus } from "./missions.state.js";

export interface MissionsDeps {
  database: Database;
  runtime?: MissionRuntime;
}

export type MissionsService = ReturnType<typeof createMissionsService>;

export function createMissionsService({ database, runtime = noRuntime }: MissionsDeps) {
  const { db } = database;

  function toApi(m: repo.MissionRow) {
    return {
      id: m.id,
      mission_id: m.missionId,
      goal: m.goal,
      status: m.status,
      description: m.description,
      metadata: m.metadata,
      runtime: runtime.view(m.id),
      inserted_at: m.insertedAt,
      updated_at: m.updatedAt,
    };
  }

  async function load(exec: Executor, idRaw: string | number, opts: { lock?: boolean } = {}) {
    const ref = parseRef(idRaw);
    const m = ref === null ? undefined : await repo.findMission(exec, ref, opts);
    if (!m) throw new NotFound();
    return m;
  }

  /** Moves a mission's status inside the caller's transaction. Same status: no change, no entry. */
  async function transition(
    tx: Executor,
    m: repo.MissionRow,
    to: MissionStatus,
    actor: string,
    data: Record<string, unknown> = {},
  ): Promise<repo.MissionRow> {
    const from = m.status as MissionStatus;
    if (from === to) return m;
    if (!canMoveMission(from, to)) throw Invalid.field("status", `cannot move from ${from} to ${to}`);
    const moved = await repo.moveMissionStatus(tx, m.id, from, to);
    if (!moved) throw Invalid.field("status", `mission changed concurrently; it is no longer ${from}`);
    await appendTrace(tx, {
      event: "mission.status_changed",
      actor,
      missionId: m.missionId,
      data: { from, to, ...data },
    });
    return moved;
  }

  async function afterMove(before: repo.MissionRow, after: repo.MissionRow) {
    if (before.status !== after.status) {
      await runtime.missionStatusChanged({ id: after.id, missionId: after.missionId }, before.status, after.status);
    }
  }

  async function create(input: MissionCreate, by: Principal) {
    const missionId = input.mission_id ?? generateKey("mission");
    try {
      const row = await db.transaction(async (tx) => {
        const m = await repo.insertMission(tx, {
          missionId,
          goal: input.goal,
          description: input.description ?? null,
          metadata: input.metadata ?? {},
          status: "planning",
        });
        await appendTrace(tx, {
          event: "mission.created",
          actor: by.actor,
          missionId: m.missionId,
          data: { goal: m.goal, status: m.status, description: m.description, metadata: m.metadata },
        });
        return m;
      });
      return toApi(row);
    } catch (err) {
      if (isUniqueViolation(err)) throw Invalid.field("mission_id", "has already been taken");
      throw err;
    }
  }

  async function get(idRaw: string, by: Principal) {
    const m = await load(db, idRaw);
    // An agent may read only the missions it is on.
    if (by.role === "agent" && (by.agentId === null || !(await isAgentOnMission(db, m.id, by.agentId)))) {
      throw new Forbidden();
    }
    return toApi(m);
  }

  async function list(q: MissionListQuery) {
    const page = pageOf(q);
    return toPage(await repo.listMissions(db, { status: q.status }, page), page, toApi);
  }

  async function update(idRaw: string, input: MissionUpdate, by: Principal) {
    const [before, after] = await db.transaction(async (tx) => {
      const m = await load(tx, idRaw, { lock: true });
      if (input.mission_id !== undefined && input.mission_id !== m.missionId) {
        throw Invalid.field("mission_id", "cannot be changed");
      }
      const changes: Record<string, unknown> = {};
      const set: { goal?: string; description?: string | null; metadata?: Record<string, unknown> } = {};
      if (input.goal !== undefined && input.goal !== m.goal) set.goal = changes.goal = input.goal;
      if (input.description !== undefined && input.description !== m.description) {
        set.description = changes.description = input.description;
      }
      if (input.metadata !== undefined) set.metadata = changes.metadata = input.metadata;
      let cur = m;
      if (Object.keys(set).length > 0) {
        cur = await repo.updateMission(tx, m.id, set);
        await appendTrace(tx, { event: "mission.updated", actor: by.actor, missionId: m.missionId, data: { changes } });
      }
      if (input.status !== undefined) cur = await transition(tx, cur, input.status, by.actor, { via: "update" });
      return [m, cur] as const;
    });
    await afterMove(before, after);
    return toApi(after);
  }

  /** start/pause: the action routes. Unlike PATCH, asking for the current status is not a no-op but a 422. */
  async function act(idRaw: string, action: "start" | "pause", by: Principal) {
    const [before, after] = await db.transaction(async (tx) => {
      const m = await load(tx, idRaw, { lock: true });
      const ok = action === "start" ? m.status === "planning" || m.status === "paused" : m.status === "active";
      if (!ok) throw Invalid.field("status", `cannot ${action} a mission that is ${m.status}`);
      return [m, await transition(tx, m, action === "start" ? "active" : "paused", by.actor, { via: action })] as const;
    });
    await afterMove(before, after);
    return toApi(after);
  }

  return {
    create,
    get,
    list,
    update,
    start: (id: string, by: Principal) => act(id, "start", by),
    pause: (id: string, by: Principal) => act(id, "pause", by),
    load,
    transition,
    toApi,
  };
}
