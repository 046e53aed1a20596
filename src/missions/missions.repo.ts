import { and, asc, eq, gt, inArray, sql } from "drizzle-orm";
import { execRows, type Executor } from "../db/client.js";
import { refKind, refPlaceholderWhere, refWhere } from "../db/lookup.js";
import { prepared } from "../db/prepared.js";
import { missions, tasks } from "../db/schema/index.js";
import type { Ref } from "../core/ids.js";
import type { Page } from "../core/pagination.js";
import { MISSION, type MissionStatus } from "./missions.state.js";

export type MissionRow = typeof missions.$inferSelect;

export async function findMission(exec: Executor, ref: Ref, opts: { lock?: boolean } = {}) {
  if (opts.lock) {
    const rows = await exec
      .select()
      .from(missions)
      .where(refWhere(missions.id, missions.missionId, ref))
      .limit(1)
      .for("update");
    return rows[0];
  }
  // Read on every task create and mission request: built once per executor.
  const by = refKind(ref);
  const q = prepared(exec, `mission_by_${by}`, (e, name) =>
    e
      .select()
      .from(missions)
      .where(refPlaceholderWhere(missions.id, missions.missionId, by))
      .limit(1)
      .prepare(name),
  );
  return (await q.execute({ ref }))[0];
}

export async function listMissions(exec: Executor, filter: { status?: MissionStatus }, page: Page) {
  return exec
    .select()
    .from(missions)
    .where(
      and(
        filter.status ? eq(missions.status, filter.status) : undefined,
        page.after === null ? undefined : gt(missions.id, page.after),
      ),
    )
    .orderBy(asc(missions.id))
    .limit(page.limit + 1);
}

export async function insertMission(exec: Executor, values: typeof missions.$inferInsert) {
  const rows = await exec.insert(missions).values(values).returning();
  return rows[0]!;
}

export async function updateMission(exec: Executor, id: number, set: Partial<typeof missions.$inferInsert>) {
  const rows = await exec
    .update(missions)
    .set({ ...set, updatedAt: sql`now()` })
    .where(eq(missions.id, id))
    .returning();
  return rows[0]!;
}

/** Conditional on the status the caller read: of two racing moves, exactly one finds its row. */
export async function moveMissionStatus(exec: Executor, id: number, from: MissionStatus, to: MissionStatus) {
  const rows = await exec
    .update(missions)
    .set({ status: to, updatedAt: sql`now()` })
    .where(and(eq(missions.id, id), eq(missions.status, from)))
    .returning();
  return rows[0];
}

// Spend: what a mission's tasks have cost, the sum of their outputs.cost_usd. Outputs are written by agents,
// so only a JSON number counts, clamped to [0, 1e12]: a string, a negative or an absurd value can neither
// fail the query nor hide spend.
const taskCost = sql`least(greatest(case when jsonb_typeof(${tasks.outputs}->'cost_usd') = 'number' then (${tasks.outputs}->>'cost_usd')::numeric end, 0), 1000000000000)`;

const round6 = (n: number) => Math.round(n * 1e6) / 1e6;

/** Spend per mission (missions without costed tasks are absent: they spent 0). */
export async function missionSpend(exec: Executor, missionIds: number[]): Promise<Map<number, number>> {
  if (missionIds.length === 0) return new Map();
  const rows = await exec
    .select({ missionId: tasks.missionId, spent: sql<number>`coalesce(sum(${taskCost}), 0)::float8` })
    .from(tasks)
    .where(inArray(tasks.missionId, missionIds))
    .groupBy(tasks.missionId);
  return new Map(rows.map((r) => [r.missionId, round6(Number(r.spent))]));
}

/** Active missions whose spend has passed their budget. */
export async function activeOverBudget(exec: Executor): Promise<number[]> {
  const rows = await execRows<{ id: number }>(
    exec,
    sql`
    SELECT m.id FROM ${missions} m
    WHERE m.status = ${MISSION.active} AND m.budget_usd IS NOT NULL
      AND m.budget_usd < (SELECT coalesce(sum(${taskCost}), 0) FROM ${tasks} WHERE ${tasks.missionId} = m.id)
    ORDER BY m.id`,
  );
  return rows.map((r) => Number(r.id));
}
