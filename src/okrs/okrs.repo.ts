import { and, asc, eq, getTableColumns, gt, inArray, sql } from "drizzle-orm";
import type { Executor } from "../db/client.js";
import { refWhere } from "../db/lookup.js";
import { keyResults, objectives, requirements } from "../db/schema/index.js";
import type { Ref } from "../core/ids.js";
import type { Page } from "../core/pagination.js";
import type { ObjectiveStatus } from "./okrs.state.js";

export type ObjectiveRow = typeof objectives.$inferSelect;
export type KeyResultRow = typeof keyResults.$inferSelect;
/** A key result as read for a response: with its objective's key. */
export type KeyResultView = KeyResultRow & { objectiveKey: string };

/**
 * Row locks, weakest that does the job: `update` before a delete; `no key update` before an update (it does
 * not hold up inserts that merely point at the row); `key share` on a row a change is about to point at,
 * which keeps a concurrent delete from slipping between our check and our write.
 */
export type RowLock = "update" | "no key update" | "key share";

export async function findObjective(exec: Executor, ref: Ref, opts: { lock?: RowLock } = {}) {
  const q = exec
    .select()
    .from(objectives)
    .where(refWhere(objectives.id, objectives.objectiveId, ref))
    .limit(1);
  const rows = opts.lock ? await q.for(opts.lock) : await q;
  return rows[0];
}

export async function listObjectives(exec: Executor, filter: { status?: ObjectiveStatus }, page: Page) {
  return exec
    .select()
    .from(objectives)
    .where(
      and(
        filter.status ? eq(objectives.status, filter.status) : undefined,
        page.after === null ? undefined : gt(objectives.id, page.after),
      ),
    )
    .orderBy(asc(objectives.id))
    .limit(page.limit + 1);
}

export async function insertObjective(exec: Executor, values: typeof objectives.$inferInsert) {
  const rows = await exec.insert(objectives).values(values).returning();
  return rows[0]!;
}

export async function updateObjective(exec: Executor, id: number, set: Partial<typeof objectives.$inferInsert>) {
  const rows = await exec
    .update(objectives)
    .set({ ...set, updatedAt: sql`now()` })
    .where(eq(objectives.id, id))
    .returning();
  return rows[0]!;
}

export async function deleteObjective(exec: Executor, id: number) {
  await exec.delete(objectives).where(eq(objectives.id, id));
}

const krView = { ...getTableColumns(keyResults), objectiveKey: objectives.objectiveId };

/** The key results of these objectives, oldest first. */
export async function keyResultsOf(exec: Executor, objectiveIds: number[]): Promise<KeyResultView[]> {
  if (objectiveIds.length === 0) return [];
  return exec
    .select(krView)
    .from(keyResults)
    .innerJoin(objectives, eq(objectives.id, keyResults.objectiveId))
    .where(inArray(keyResults.objectiveId, objectiveIds))
    .orderBy(asc(keyResults.id));
}

export async function findKeyResult(exec: Executor, ref: Ref, opts: { lock?: RowLock } = {}) {
  const q = exec
    .select(krView)
    .from(keyResults)
    .innerJoin(objectives, eq(objectives.id, keyResults.objectiveId))
    .where(refWhere(keyResults.id, keyResults.krId, ref))
    .limit(1);
  // Lock the key result only: its objective is not being changed.
  const rows = opts.lock ? await q.for(opts.lock, { of: keyResults }) : await q;
  return rows[0];
}

export async function listKeyResults(exec: Executor, objectiveId: number, page: Page): Promise<KeyResultView[]> {
  return exec
    .select(krView)
    .from(keyResults)
    .innerJoin(objectives, eq(objectives.id, keyResults.objectiveId))
    .where(
      and(eq(keyResults.objectiveId, objectiveId), page.after === null ? undefined : gt(keyResults.id, page.after)),
    )
    .orderBy(asc(keyResults.id))
    .limit(page.limit + 1);
}

export async function insertKeyResult(exec: Executor, values: typeof keyResults.$inferInsert) {
  const rows = await exec.insert(keyResults).values(values).returning();
  return rows[0]!;
}

export async function updateKeyResult(exec: Executor, id: number, set: Partial<typeof keyResults.$inferInsert>) {
  const rows = await exec
    .update(keyResults)
    .set({ ...set, updatedAt: sql`now()` })
    .where(eq(keyResults.id, id))
    .returning();
  return rows[0]!;
}

export async function deleteKeyResult(exec: Executor, id: number) {
  await exec.delete(keyResults).where(eq(keyResults.id, id));
}

/** Deletes an objective's key results; returns their keys, oldest first. */
export async function deleteKeyResultsOf(exec: Executor, objectiveId: number): Promise<string[]> {
  const rows = await exec
    .delete(keyResults)
    .where(eq(keyResults.objectiveId, objectiveId))
    .returning({ id: keyResults.id, krId: keyResults.krId });
  return rows.sort((a, b) => a.id - b.id).map((r) => r.krId);
}

/** Keys of the requirements that point at an objective or a key result (at most `limit`), and how many. */
export async function requirementsPointingAt(
  exec: Executor,
  target: { objectiveId: number } | { krId: number },
  limit = 5,
) {
  const where =
    "objectiveId" in target ? eq(requirements.objectiveId, target.objectiveId) : eq(requirements.krId, target.krId);
  const rows = await exec
    .select({ key: requirements.requirementId, total: sql<number>`cast(count(*) over () as integer)` })
    .from(requirements)
    .where(where)
    .orderBy(asc(requirements.id))
    .limit(limit);
  return { total: rows[0]?.total ?? 0, keys: rows.map((r) => r.key) };
}
