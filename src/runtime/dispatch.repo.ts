import { and, asc, eq, gt, inArray, sql } from "drizzle-orm";
import { execRows, type Executor } from "../db/client.js";
import type { Page } from "../core/pagination.js";
import type { Ref } from "../core/ids.js";
import type { AnyPgColumn } from "drizzle-orm/pg-core";
import { agents, dispatches, missionAgents, missionLeases, missions, tasks } from "../db/schema/index.js";
import { DISPATCH, LIVE_DISPATCH_STATUSES, LOAD_DISPATCH_STATUSES, type DispatchStatus } from "./dispatch.state.js";
import { MISSION } from "../missions/missions.state.js";

export type DispatchRow = typeof dispatches.$inferSelect;

const { queued: QUEUED, running: RUNNING } = DISPATCH;

export async function insertDispatch(exec: Executor, values: typeof dispatches.$inferInsert) {
  const rows = await exec.insert(dispatches).values(values).returning();
  return rows[0]!;
}

export async function liveDispatchForTask(exec: Executor, taskId: number) {
  const rows = await exec
    .select()
    .from(dispatches)
    .where(and(eq(dispatches.taskId, taskId), inArray(dispatches.status, [...LIVE_DISPATCH_STATUSES])))
    .limit(1);
  return rows[0];
}

export async function findDispatch(exec: Executor, id: number) {
  const rows = await exec.select().from(dispatches).where(eq(dispatches.id, id)).limit(1);
  return rows[0];
}

export interface DispatchFilter {
  status?: DispatchStatus;
  /** A mission's integer id or key. */
  mission?: Ref;
  /** A task's integer id or key. */
  task?: Ref;
}

/** One page of dispatches, oldest first, with the keys of their task, mission and agent (limit + 1 rows). */
export async function listDispatches(exec: Executor, f: DispatchFilter, page: Page) {
  const ref = (ref: Ref | undefined, id: AnyPgColumn, key: AnyPgColumn) =>
    ref === undefined ? undefined : typeof ref === "number" ? eq(id, ref) : eq(key, ref);
  return exec
    .select({ dispatch: dispatches, taskKey: tasks.taskId, missionKey: missions.missionId, agentKey: agents.agentId })
    .from(dispatches)
    .innerJoin(tasks, eq(tasks.id, dispatches.taskId))
    .innerJoin(missions, eq(missions.id, dispatches.missionId))
    .innerJoin(agents, eq(agents.id, dispatches.agentId))
    .where(
      and(
        f.status === undefined ? undefined : eq(dispatches.status, f.status),
        ref(f.mission, missions.id, missions.missionId),
        ref(f.task, tasks.id, tasks.taskId),
        page.after === null ? undefined : gt(dispatches.id, page.after),
      ),
    )
    .orderBy(asc(dispatches.id))
    .limit(page.limit + 1);
}

/**
 * Claims the oldest due dispatch of one agent on one mission. SKIP LOCKED lets several workers (and
 * processes) claim concurrently without ever handing the same row to two of them.
 */
export async function claimNext(exec: Executor, missionId: number, agentId: number, owner: string) {
  const rows = await execRows<{ id: number }>(
    exec,
    sql`
    UPDATE ${dispatches} SET status = ${RUNNING}, owner = ${owner}, started_at = now(), updated_at = now()
    WHERE id = (
      SELECT id FROM ${dispatches}
      WHERE mission_id = ${missionId} AND agent_id = ${agentId} AND status = ${QUEUED} AND run_after <= now()
      ORDER BY id
      FOR UPDATE SKIP LOCKED
      LIMIT 1
    )
    RETURNING id`,
  );
  const id = rows[0]?.id;
  return id === undefined ? undefined : findDispatch(exec, Number(id));
}

/** Puts a dispatch this owner claimed but did not start back in the queue, unless someone settled it since. */
export async function unclaim(exec: Executor, id: number, owner: string) {
  await exec.execute(sql`
    UPDATE ${dispatches} SET status = ${QUEUED}, owner = NULL, started_at = NULL, updated_at = now()
    WHERE id = ${id} AND owner = ${owner} AND status = ${RUNNING}`);
}

export async function setDispatch(exec: Executor, id: number, set: Partial<typeof dispatches.$inferInsert>) {
  const rows = await exec
    .update(dispatches)
    .set({ ...set, updatedAt: sql`now()` })
    .where(eq(dispatches.id, id))
    .returning();
  return rows[0];
}

/**
 * Locks the dispatch if it is still this owner's running run; undefined when the run was settled by someone
 * else meanwhile (a pause or cancel moved it in its own transaction, a successor recovered it).
 */
export async function lockRunning(exec: Executor, id: number, owner: string) {
  const rows = await exec
    .select()
    .from(dispatches)
    .where(and(eq(dispatches.id, id), eq(dispatches.status, RUNNING), eq(dispatches.owner, owner)))
    .for("update");
  return rows[0];
}

/** A sign of life of a running run (coalesced by the worker to at most one a second). */
export async function touchOutput(exec: Executor, id: number) {
  await exec.execute(sql`UPDATE ${dispatches} SET last_output_at = now() WHERE id = ${id} AND status = ${RUNNING}`);
}

/** Other running dispatches of an agent than these (whether a run still holds it). */
export async function otherRunningOfAgent(exec: Executor, agentId: number, except: number[]) {
  const rows = await exec
    .select({ id: dispatches.id, taskId: dispatches.taskId })
    .from(dispatches)
    .where(
      and(
        eq(dispatches.agentId, agentId),
        eq(dispatches.status, RUNNING),
        except.length === 0 ? undefined : sql`${dispatches.id} <> ALL(${`{${except.join(",")}}`}::bigint[])`,
      ),
    )
    .limit(1);
  return rows[0];
}

/** Running dispatches of a mission: after a crash or takeover, these were orphaned. */
export async function runningForMission(exec: Executor, missionId: number) {
  return exec
    .select()
    .from(dispatches)
    .where(and(eq(dispatches.missionId, missionId), eq(dispatches.status, RUNNING)))
    .orderBy(asc(dispatches.id));
}

export async function liveForMission(exec: Executor, missionId: number, opts: { lock?: boolean } = {}) {
  const q = exec
    .select()
    .from(dispatches)
    .where(and(eq(dispatches.missionId, missionId), inArray(dispatches.status, [...LIVE_DISPATCH_STATUSES])))
    .orderBy(asc(dispatches.id));
  return opts.lock ? q.for("update") : q;
}

/** Every dispatch id of a mission (whose run tokens a pause or end revokes). */
export async function dispatchIdsOfMission(exec: Executor, missionId: number) {
  const rows = await exec.select({ id: dispatches.id }).from(dispatches).where(eq(dispatches.missionId, missionId));
  return rows.map((r) => r.id);
}

/** Agents on the mission with how many dispatches each has queued or running: for least-busy routing. */
export async function missionAgentsWithLoad(exec: Executor, missionId: number) {
  return exec
    .select({
      id: agents.id,
      agentId: agents.agentId,
      capabilities: agents.capabilities,
      status: agents.status,
      load: sql<number>`(SELECT count(*)::int FROM ${dispatches} d WHERE d.agent_id = ${agents.id} AND d.status IN (${sql.join(
        LOAD_DISPATCH_STATUSES.map((st) => sql`${st}`),
        sql`, `,
      )}))`,
    })
    .from(missionAgents)
    .innerJoin(agents, eq(agents.id, missionAgents.agentId))
    .where(eq(missionAgents.missionId, missionId))
    .orderBy(asc(agents.id));
}

// Leases -----------------------------------------------------------------------------------------------

/** Takes the mission's lease when it is free, expired or already ours. True when we hold it now. */
export async function acquireLease(exec: Executor, missionId: number, owner: string, ttlS: number) {
  const rows = await execRows<{ mission_id: number }>(
    exec,
    sql`
    INSERT INTO ${missionLeases} (mission_id, owner, expires_at)
    VALUES (${missionId}, ${owner}, now() + make_interval(secs => ${ttlS}))
    ON CONFLICT (mission_id) DO UPDATE
      SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at,
          acquired_at = CASE WHEN ${missionLeases.owner} = EXCLUDED.owner THEN ${missionLeases.acquiredAt} ELSE now() END
      WHERE ${missionLeases.owner} = EXCLUDED.owner OR ${missionLeases.expiresAt} < now()
    RETURNING mission_id`,
  );
  return rows.length > 0;
}

/** Renews every lease we hold; returns the missions we still hold. */
export async function renewLeases(exec: Executor, owner: string, ttlS: number): Promise<number[]> {
  const rows = await execRows<{ mission_id: number }>(
    exec,
    sql`
    UPDATE ${missionLeases} SET expires_at = now() + make_interval(secs => ${ttlS})
    WHERE owner = ${owner} AND expires_at >= now()
    RETURNING mission_id`,
  );
  return rows.map((x) => Number(x.mission_id));
}

export async function releaseLease(exec: Executor, missionId: number, owner: string) {
  await exec.execute(sql`DELETE FROM ${missionLeases} WHERE mission_id = ${missionId} AND owner = ${owner}`);
}

/** Active missions whose lease is missing or expired: candidates to run here. */
export async function orphanedActiveMissions(exec: Executor) {
  const rows = await execRows<{ id: number }>(
    exec,
    sql`
    SELECT m.id FROM missions m
    LEFT JOIN ${missionLeases} l ON l.mission_id = m.id
    WHERE m.status = ${MISSION.active} AND (l.mission_id IS NULL OR l.expires_at < now())
    ORDER BY m.id`,
  );
  return rows.map((x) => Number(x.id));
}

/** Live leases held by other processes (to spot owners on this host that are known to be dead). */
export async function othersLeases(exec: Executor, owner: string) {
  return exec
    .select({ missionId: missionLeases.missionId, owner: missionLeases.owner })
    .from(missionLeases)
    .where(and(sql`${missionLeases.owner} <> ${owner}`, sql`${missionLeases.expiresAt} >= now()`));
}

/** Ends a lease now, if it is still the given owner's. */
export async function expireLease(exec: Executor, missionId: number, owner: string) {
  await exec.execute(
    sql`UPDATE ${missionLeases} SET expires_at = now() - interval '1 second' WHERE mission_id = ${missionId} AND owner = ${owner}`,
  );
}
