import { and, asc, eq, inArray } from "drizzle-orm";
import type { Executor } from "../db/client.js";
import { agents, missionAgents, tasks } from "../db/schema/index.js";
import type { TaskStatus } from "../tasks/tasks.state.js";

export async function listMissionAgentIds(exec: Executor, missionId: number) {
  return exec
    .select({ id: agents.id, agentId: agents.agentId })
    .from(missionAgents)
    .innerJoin(agents, eq(agents.id, missionAgents.agentId))
    .where(eq(missionAgents.missionId, missionId))
    .orderBy(asc(agents.id));
}

/** Locks these tasks (in id order, as every path that locks several does). */
export async function lockTasks(exec: Executor, ids: number[]) {
  if (ids.length === 0) return;
  await exec.select({ id: tasks.id }).from(tasks).where(inArray(tasks.id, ids)).orderBy(asc(tasks.id)).for("update");
}

/** Ids of a mission's tasks in these statuses, oldest first (a mission's end fails them). */
export async function missionTaskIdsIn(exec: Executor, missionId: number, statuses: readonly TaskStatus[]) {
  const rows = await exec
    .select({ id: tasks.id })
    .from(tasks)
    .where(and(eq(tasks.missionId, missionId), inArray(tasks.status, [...statuses])))
    .orderBy(asc(tasks.id));
  return rows.map((r) => r.id);
}
