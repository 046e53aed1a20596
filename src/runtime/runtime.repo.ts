import { asc, eq } from "drizzle-orm";
import type { Executor } from "../db/client.js";
import { agents, missionAgents } from "../db/schema/index.js";

/** The agents on a mission (a supervisor runs a worker for each). */
export async function listMissionAgentIds(exec: Executor, missionId: number) {
  return exec
    .select({ id: agents.id, agentId: agents.agentId })
    .from(missionAgents)
    .innerJoin(agents, eq(agents.id, missionAgents.agentId))
    .where(eq(missionAgents.missionId, missionId))
    .orderBy(asc(agents.id));
}
