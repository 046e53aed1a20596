import { and, asc, eq, gt, sql } from "drizzle-orm";
import type { Executor } from "../db/client.js";
import { refWhere } from "../db/lookup.js";
import { missions } from "../db/schema/index.js";
import type { Ref } from "../http/ids.js";
import type { Page } from "../http/pagination.js";

export type MissionRow = typeof missions.$inferSelect;

export async function findMission(exec: Executor, ref: Ref, opts: { lock?: boolean } = {}) {
  const q = exec.select().from(missions).where(refWhere(missions.id, missions.missionId, ref)).limit(1);
  const rows = opts.lock ? await q.for("update") : await q;
  return rows[0];
}

export async function listMissions(exec: Executor, filter: { status?: string }, page: Page) {
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
export async function moveMissionStatus(exec: Executor, id: number, from: string, to: string) {
  const rows = await exec
    .update(missions)
    .set({ status: to, updatedAt: sql`now()` })
    .where(and(eq(missions.id, id), eq(missions.status, from)))
    .returning();
  return rows[0];
}

export async function listMissionsByStatus(exec: Executor, status: string) {
  return exec.select().from(missions).where(eq(missions.status, status)).orderBy(asc(missions.id));
}
