import { and, asc, eq, gt, inArray, sql } from "drizzle-orm";
import type { Executor } from "../db/client.js";
import { refWhere } from "../db/lookup.js";
import { missions, policies, tasks, traceEntries } from "../db/schema/index.js";
import type { Ref } from "../core/ids.js";
import type { Page } from "../core/pagination.js";
import type { PolicyMode } from "./decide.js";

export type PolicyRow = typeof policies.$inferSelect;

export async function findPolicy(exec: Executor, ref: Ref, opts: { lock?: boolean } = {}) {
  const q = exec
    .select()
    .from(policies)
    .where(refWhere(policies.id, policies.policyId, ref))
    .limit(1);
  const rows = opts.lock ? await q.for("update") : await q;
  return rows[0];
}

export async function listPolicies(
  exec: Executor,
  filter: { scope?: string; enabled?: boolean; mode?: PolicyMode },
  page: Page,
) {
  return exec
    .select()
    .from(policies)
    .where(
      and(
        filter.scope === undefined ? undefined : eq(policies.scope, filter.scope),
        filter.enabled === undefined ? undefined : eq(policies.enabled, filter.enabled),
        filter.mode === undefined ? undefined : eq(policies.mode, filter.mode),
        page.after === null ? undefined : gt(policies.id, page.after),
      ),
    )
    .orderBy(asc(policies.id))
    .limit(page.limit + 1);
}

/** The enabled policies of these scopes, oldest first (the order messages are reported in). */
export async function listApplicable(exec: Executor, scopes: string[]) {
  return exec
    .select()
    .from(policies)
    .where(and(eq(policies.enabled, true), inArray(policies.scope, scopes)))
    .orderBy(asc(policies.id));
}

export async function insertPolicy(exec: Executor, values: typeof policies.$inferInsert) {
  const rows = await exec.insert(policies).values(values).returning();
  return rows[0]!;
}

/** Applies a change and bumps the version by one, in one statement. */
export async function updatePolicy(exec: Executor, id: number, set: Partial<typeof policies.$inferInsert>) {
  const rows = await exec
    .update(policies)
    .set({ ...set, version: sql`${policies.version} + 1`, updatedAt: sql`now()` })
    .where(eq(policies.id, id))
    .returning();
  return rows[0]!;
}

export async function deletePolicy(exec: Executor, id: number) {
  const rows = await exec.delete(policies).where(eq(policies.id, id)).returning();
  return rows[0];
}

/** A task's key, its mission's key and its assigned agent (integer id), for evaluation context. */
export async function findTaskContext(exec: Executor, ref: Ref) {
  const rows = await exec
    .select({
      id: tasks.id,
      taskKey: tasks.taskId,
      missionId: tasks.missionId,
      missionKey: missions.missionId,
      agentId: tasks.agentId,
    })
    .from(tasks)
    .innerJoin(missions, eq(missions.id, tasks.missionId))
    .where(refWhere(tasks.id, tasks.taskId, ref))
    .limit(1);
  return rows[0];
}

export async function findDecisionEntries(exec: Executor, ids: number[]) {
  if (ids.length === 0) return [];
  return exec
    .select()
    .from(traceEntries)
    .where(and(inArray(traceEntries.id, ids), eq(traceEntries.event, "policy.evaluated")));
}
