import { and, asc, eq, gt, inArray, sql } from "drizzle-orm";
import type { Executor } from "../db/client.js";
import { refWhere } from "../db/lookup.js";
import { sprints, tasks } from "../db/schema/index.js";
import type { Ref } from "../core/ids.js";
import type { Page } from "../core/pagination.js";
import type { SprintStatus } from "./sprints.state.js";

export type SprintRow = typeof sprints.$inferSelect;

export async function findSprint(exec: Executor, ref: Ref, opts: { lock?: boolean } = {}) {
  const q = exec
    .select()
    .from(sprints)
    .where(refWhere(sprints.id, sprints.sprintId, ref))
    .limit(1);
  const rows = opts.lock ? await q.for("update") : await q;
  return rows[0];
}

export async function listSprints(exec: Executor, filter: { status?: SprintStatus }, page: Page) {
  return exec
    .select()
    .from(sprints)
    .where(
      and(
        filter.status ? eq(sprints.status, filter.status) : undefined,
        page.after === null ? undefined : gt(sprints.id, page.after),
      ),
    )
    .orderBy(asc(sprints.id))
    .limit(page.limit + 1);
}

export async function insertSprint(exec: Executor, values: typeof sprints.$inferInsert) {
  const rows = await exec.insert(sprints).values(values).onConflictDoNothing({ target: sprints.sprintId }).returning();
  return rows[0];
}

export async function updateSprint(exec: Executor, id: number, set: Partial<typeof sprints.$inferInsert>) {
  const rows = await exec
    .update(sprints)
    .set({ ...set, updatedAt: sql`now()` })
    .where(eq(sprints.id, id))
    .returning();
  return rows[0]!;
}

/** Conditional on the status the caller read: of two racing moves, exactly one finds its row. */
export async function moveSprintStatus(exec: Executor, id: number, from: SprintStatus, to: SprintStatus) {
  const rows = await exec
    .update(sprints)
    .set({ status: to, updatedAt: sql`now()` })
    .where(and(eq(sprints.id, id), eq(sprints.status, from)))
    .returning();
  return rows[0];
}

/** Task counts by status for several sprints in one grouped query (a list page costs two queries, not N+1). */
export async function taskCounts(exec: Executor, sprintIds: number[]) {
  if (sprintIds.length === 0) return [];
  return exec
    .select({ sprintId: tasks.sprintId, status: tasks.status, n: sql<number>`count(*)::integer` })
    .from(tasks)
    .where(inArray(tasks.sprintId, sprintIds))
    .groupBy(tasks.sprintId, tasks.status);
}
