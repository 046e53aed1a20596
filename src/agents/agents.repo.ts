import { and, eq } from "drizzle-orm";
import { agents, missionAgents } from "../db/schema/index.js";
import type { Executor } from "../db/client.js";
import { refWhere } from "../db/lookup.js";
import type { Ref } from "../http/ids.js";

export type AgentRow = typeof agents.$inferSelect;

export async function findAgent(exec: Executor, ref: Ref): Promise<AgentRow | undefined> {
  const rows = await exec.select().from(agents).where(refWhere(agents.id, agents.agentId, ref)).limit(1);
  return rows[0];
}

export async function isAgentOnMission(exec: Executor, missionId: number, agentId: number): Promise<boolean> {
  const rows = await exec
    .select({ one: missionAgents.agentId })
    .from(missionAgents)
    .where(and(eq(missionAgents.missionId, missionId), eq(missionAgents.agentId, agentId)))
    .limit(1);
  return rows.length > 0;
}
