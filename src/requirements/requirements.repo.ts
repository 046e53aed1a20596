import { and, asc, eq, getTableColumns, gt, inArray, sql, type SQL } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import type { Executor } from "../db/client.js";
import { refWhere } from "../db/lookup.js";
import { keyResults, objectives, requirements, taskRequirements, tasks } from "../db/schema/index.js";
import type { Ref } from "../core/ids.js";
import type { Page } from "../core/pagination.js";
import type { RequirementStatus } from "./requirements.state.js";
import { TASK } from "../tasks/tasks.state.js";

export type RequirementRow = typeof requirements.$inferSelect;
/** A requirement as read for a response: the keys it refers to and the counts of the tasks serving it. */
export type RequirementView = RequirementRow & {
  objectiveKey: string | null;
  krKey: string | null;
  taskCount: number;
  completedTaskCount: number;
};

// Correlated counts over the (task_id, requirement_id) links, served by task_requirements_req_idx. Used for
// pages of requirements; the traceability matrix aggregates all requirements in one GROUP BY instead.
// Written out with aliases and a qualified outer reference: Drizzle leaves column names unqualified in a
// single-table select, and inside the subquery an unqualified "id" would name the inner table's column.
const taskCount = sql<number>`(select cast(count(*) as integer) from task_requirements tr where tr.requirement_id = "requirements"."id")`;
const completedTaskCount = sql<number>`(select cast(count(*) as integer) from task_requirements tr join tasks t on t.id = tr.task_id where tr.requirement_id = "requirements"."id" and t.status = ${TASK.completed})`;

function selectViews(exec: Executor, where: SQL | undefined) {
  return exec
    .select({
      ...getTableColumns(requirements),
      objectiveKey: objectives.objectiveId,
      krKey: keyResults.krId,
      taskCount,
      completedTaskCount,
    })
    .from(requirements)
    .leftJoin(objectives, eq(objectives.id, requirements.objectiveId))
    .leftJoin(keyResults, eq(keyResults.id, requirements.krId))
    .where(where);
}

export async function findRequirementView(exec: Executor, id: number): Promise<RequirementView | undefined> {
  const rows = await selectViews(exec, eq(requirements.id, id)).limit(1);
  return rows[0];
}

export async function findRequirement(exec: Executor, ref: Ref, opts: { lock?: boolean } = {}) {
  const q = exec
    .select()
    .from(requirements)
    .where(refWhere(requirements.id, requirements.requirementId, ref))
    .limit(1);
  const rows = opts.lock ? await q.for("update") : await q;
  return rows[0];
}

export interface RequirementFilter {
  priority?: string;
  horizon?: string;
  status?: RequirementStatus;
  objective?: Ref;
  kr?: Ref;
}

// Filters by reference join on the referenced table's id or key, so naming an unknown record matches nothing.
const filterObjective = alias(objectives, "filter_objective");
const filterKr = alias(keyResults, "filter_kr");

export async function listRequirements(exec: Executor, f: RequirementFilter, page: Page): Promise<RequirementView[]> {
  return selectViews(
    exec,
    and(
      f.priority === undefined ? undefined : eq(requirements.priority, f.priority),
      f.horizon === undefined ? undefined : eq(requirements.horizon, f.horizon),
      f.status === undefined ? undefined : eq(requirements.status, f.status),
      f.objective === undefined
        ? undefined
        : inArray(
            requirements.objectiveId,
            exec
              .select({ id: filterObjective.id })
              .from(filterObjective)
              .where(refWhere(filterObjective.id, filterObjective.objectiveId, f.objective)),
          ),
      f.kr === undefined
        ? undefined
        : inArray(
            requirements.krId,
            exec
              .select({ id: filterKr.id })
              .from(filterKr)
              .where(refWhere(filterKr.id, filterKr.krId, f.kr)),
          ),
      page.after === null ? undefined : gt(requirements.id, page.after),
    ),
  )
    .orderBy(asc(requirements.id))
    .limit(page.limit + 1);
}

/** What an objective's progress needs from its requirements, for these objectives. */
export async function completionInputsOf(exec: Executor, objectiveIds: number[]) {
  if (objectiveIds.length === 0) return [];
  return exec
    .select({ objectiveId: requirements.objectiveId, status: requirements.status, taskCount, completedTaskCount })
    .from(requirements)
    .where(inArray(requirements.objectiveId, objectiveIds))
    .orderBy(asc(requirements.id));
}

export async function insertRequirement(exec: Executor, values: typeof requirements.$inferInsert) {
  const rows = await exec.insert(requirements).values(values).returning();
  return rows[0]!;
}

export async function updateRequirement(exec: Executor, id: number, set: Partial<typeof requirements.$inferInsert>) {
  const rows = await exec
    .update(requirements)
    .set({ ...set, updatedAt: sql`now()` })
    .where(eq(requirements.id, id))
    .returning();
  return rows[0]!;
}

export async function deleteRequirement(exec: Executor, id: number) {
  await exec.delete(requirements).where(eq(requirements.id, id));
}

/** Keys of the tasks linked to a requirement (at most `limit`), and how many there are. */
export async function tasksServing(exec: Executor, requirementId: number, limit = 5) {
  const rows = await exec
    .select({ key: tasks.taskId, total: sql<number>`cast(count(*) over () as integer)` })
    .from(taskRequirements)
    .innerJoin(tasks, eq(tasks.id, taskRequirements.taskId))
    .where(eq(taskRequirements.requirementId, requirementId))
    .orderBy(asc(tasks.id))
    .limit(limit);
  return { total: rows[0]?.total ?? 0, keys: rows.map((r) => r.key) };
}
