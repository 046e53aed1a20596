// Missions. Invariants: a status changes only through `transition`, which checks the move against the
// state machine, applies it as a conditional update on the status it read (so of two racing moves exactly
// one wins), and writes the `mission.status_changed` entry and what the move does to the mission's work
// (runtime.missionMoving: tasks blocked or failed, dispatches, run tokens) in the same transaction.
// Budget: a mission's spend is the sum of its tasks' outputs.cost_usd. A mission whose spend has passed its
// `budget_usd` is never moved to `active`, and an active one is paused (through `transition`, so the runtime
// stops its tree and the entry says why) by `enforceBudget`, which the runtime calls after a run that cost
// something and the housekeeping pass calls for spend reported through the API.
import type { Database, Executor } from "../db/client.js";
import { isUniqueViolation } from "../db/lookup.js";
import type { Principal } from "../core/principal.js";
import { Forbidden, Invalid, NotFound } from "../core/errors.js";
import { isAgentOnMission } from "../agents/agents.lookup.js";
import { generateKey, parseRef } from "../core/ids.js";
import { pageOf, toPage } from "../core/pagination.js";
import { noRuntime, type MissionRuntime } from "../runtime/runtime.types.js";
import { appendTrace } from "../trace/trace.append.js";
import * as repo from "./missions.repo.js";
import type { MissionCreate, MissionListQuery, MissionUpdate } from "./missions.schemas.js";
import { canMoveMission, MISSION, missionRuns, type MissionStatus } from "./missions.state.js";
import { isAgentRole } from "../tokens/tokens.state.js";

export interface MissionsDeps {
  database: Database;
  runtime?: MissionRuntime;
}

export type MissionsService = ReturnType<typeof createMissionsService>;

/** Who pauses a mission that ran over its budget, as the trace names it. */
export const BUDGET_ACTOR = "runtime";

export function createMissionsService({ database, runtime = noRuntime }: MissionsDeps) {
  const { db } = database;

  /** `spent` is the mission's spend (repo.missionSpend). */
  function toApi(m: repo.MissionRow, spent: number) {
    return {
      id: m.id,
      mission_id: m.missionId,
      goal: m.goal,
      status: m.status,
      description: m.description,
      metadata: m.metadata,
      budget_usd: m.budgetUsd,
      spent_usd: spent,
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

  async function spentOn(exec: Executor, missionId: number): Promise<number> {
    return (await repo.missionSpend(exec, [missionId])).get(missionId) ?? 0;
  }

  /** Moves a mission's status inside the caller's transaction. Same status: no change, no entry. */
  async function transition(
    tx: Executor,
    m: repo.MissionRow,
    to: MissionStatus,
    actor: string,
    data: Record<string, unknown> = {},
  ): Promise<repo.MissionRow> {
    const from = m.status;
    if (from === to) return m;
    if (!canMoveMission(from, to)) throw Invalid.field("status", `cannot move from ${from} to ${to}`);
    if (missionRuns(to) && m.budgetUsd !== null) {
      const spent = await spentOn(tx, m.id);
      if (spent > m.budgetUsd) {
        throw Invalid.field(
          "budget_usd",
          `spend $${spent} has passed the budget $${m.budgetUsd}; raise budget_usd to start the mission`,
        );
      }
    }
    await runtime.lockForMove(tx, m.id, to);
    const moved = await repo.moveMissionStatus(tx, m.id, from, to);
    if (!moved) throw Invalid.field("status", `mission changed concurrently; it is no longer ${from}`);
    await appendTrace(tx, {
      event: "mission.status_changed",
      actor,
      missionId: m.missionId,
      data: { from, to, ...data },
    });
    // What the move does to the mission's tasks, dispatches and run tokens commits with it (the answer never
    // waits for agent processes: they are stopped after the commit, in the background).
    await runtime.missionMoving(tx, { id: moved.id, missionId: moved.missionId }, from, to, actor);
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
          budgetUsd: input.budget_usd ?? null,
          status: MISSION.planning,
        });
        await appendTrace(tx, {
          event: "mission.created",
          actor: by.actor,
          missionId: m.missionId,
          data: {
            goal: m.goal,
            status: m.status,
            description: m.description,
            metadata: m.metadata,
            budget_usd: m.budgetUsd,
          },
        });
        return m;
      });
      return toApi(row, 0);
    } catch (err) {
      if (isUniqueViolation(err)) throw Invalid.field("mission_id", "has already been taken");
      throw err;
    }
  }

  async function get(idRaw: string, by: Principal) {
    const m = await load(db, idRaw);
    // An agent may read only the missions it is on.
    if (isAgentRole(by.role) && (by.agentId === null || !(await isAgentOnMission(db, m.id, by.agentId)))) {
      throw new Forbidden();
    }
    return toApi(m, await spentOn(db, m.id));
  }

  async function list(q: MissionListQuery) {
    const page = pageOf(q);
    const rows = await repo.listMissions(db, { status: q.status }, page);
    const spend = await repo.missionSpend(
      db,
      rows.map((r) => r.id),
    );
    return toPage(rows, page, (m) => toApi(m, spend.get(m.id) ?? 0));
  }

  async function update(idRaw: string, input: MissionUpdate, by: Principal) {
    const [before, after] = await db.transaction(async (tx) => {
      const m = await load(tx, idRaw, { lock: true });
      if (input.mission_id !== undefined && input.mission_id !== m.missionId) {
        throw Invalid.field("mission_id", "cannot be changed");
      }
      const changes: Record<string, unknown> = {};
      const set: {
        goal?: string;
        description?: string | null;
        metadata?: Record<string, unknown>;
        budgetUsd?: number | null;
      } = {};
      if (input.goal !== undefined && input.goal !== m.goal) set.goal = changes.goal = input.goal;
      if (input.description !== undefined && input.description !== m.description) {
        set.description = changes.description = input.description;
      }
      if (input.metadata !== undefined) set.metadata = changes.metadata = input.metadata;
      if (input.budget_usd !== undefined && input.budget_usd !== m.budgetUsd)
        set.budgetUsd = changes.budget_usd = input.budget_usd;
      let cur = m;
      if (Object.keys(set).length > 0) {
        cur = await repo.updateMission(tx, m.id, set);
        await appendTrace(tx, { event: "mission.updated", actor: by.actor, missionId: m.missionId, data: { changes } });
      }
      if (input.status !== undefined) cur = await transition(tx, cur, input.status, by.actor, { via: "update" });
      // A budget lowered below what an active mission has already spent pauses it now.
      if (set.budgetUsd !== undefined && missionRuns(cur.status)) cur = await pauseIfOverBudget(tx, cur, by.actor);
      return [m, cur] as const;
    });
    await afterMove(before, after);
    return toApi(after, await spentOn(db, after.id));
  }

  /** Pauses an active mission whose spend has passed its budget; the entry gives the figures. */
  async function pauseIfOverBudget(tx: Executor, m: repo.MissionRow, actor: string): Promise<repo.MissionRow> {
    if (!missionRuns(m.status) || m.budgetUsd === null) return m;
    const spent = await spentOn(tx, m.id);
    if (spent <= m.budgetUsd) return m;
    return transition(tx, m, MISSION.paused, actor, {
      via: "budget",
      reason: `spend $${spent} passed the budget $${m.budgetUsd}`,
      spent_usd: spent,
      budget_usd: m.budgetUsd,
    });
  }

  /**
   * Pauses the mission if it is active and its spend has passed its budget: true when it did. The runtime
   * stops its tree as for any pause.
   */
  async function enforceBudget(missionId: number): Promise<boolean> {
    const moved = await db.transaction(async (tx) => {
      const m = await repo.findMission(tx, missionId, { lock: true });
      if (!m) return null;
      const after = await pauseIfOverBudget(tx, m, BUDGET_ACTOR);
      return after === m ? null : ([m, after] as const);
    });
    if (!moved) return false;
    await afterMove(moved[0], moved[1]);
    return true;
  }

  /** Every active mission over its budget is paused (the pass that catches spend reported through the API). */
  async function enforceBudgets(): Promise<number> {
    let paused = 0;
    for (const id of await repo.activeOverBudget(db)) if (await enforceBudget(id)) paused++;
    return paused;
  }

  /** start/pause: the action routes. Unlike PATCH, asking for the current status is not a no-op but a 422. */
  async function act(idRaw: string, action: "start" | "pause", by: Principal) {
    const [before, after] = await db.transaction(async (tx) => {
      const m = await load(tx, idRaw, { lock: true });
      const to = action === "start" ? MISSION.active : MISSION.paused;
      if (!canMoveMission(m.status, to))
        throw Invalid.field("status", `cannot ${action} a mission that is ${m.status}`);
      return [m, await transition(tx, m, to, by.actor, { via: action })] as const;
    });
    await afterMove(before, after);
    return toApi(after, await spentOn(db, after.id));
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
    enforceBudget,
    enforceBudgets,
  };
}
