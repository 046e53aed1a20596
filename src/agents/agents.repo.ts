import { and, asc, eq, getTableColumns, gt, or, sql, type SQL } from "drizzle-orm";
import { agents, missionAgents } from "../db/schema/index.js";
import type { Executor } from "../db/client.js";
import { refWhere } from "../db/lookup.js";
import { agentWritten } from "./agent-writes.js";
import type { Ref } from "../http/ids.js";
import type { Page } from "../http/pagination.js";

export type AgentRow = typeof agents.$inferSelect;
/** A row as read for a response: `stale` is computed by the database, on its own clock, like `last_seen_at`. */
export type AgentView = AgentRow & { stale: boolean };

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

/** Never reported, or silent for longer than the staleness window. */
function staleSql(staleAfterS: number): SQL<boolean> {
  return sql<boolean>`(${agents.lastSeenAt} IS NULL OR ${agents.lastSeenAt} < now() - (${staleAfterS}::integer * interval '1 second'))`;
}

const agentCols = getTableColumns(agents);

function viewCols(staleAfterS: number) {
  return { ...agentCols, stale: staleSql(staleAfterS) };
}

export async function findAgentView(exec: Executor, ref: Ref, staleAfterS: number, opts: { lock?: boolean } = {}) {
  const q = exec
    .select(viewCols(staleAfterS))
    .from(agents)
    .where(refWhere(agents.id, agents.agentId, ref))
    .limit(1);
  const rows = opts.lock ? await q.for("update") : await q;
  return rows[0] as AgentView | undefined;
}

export interface AgentFilter {
  status?: string;
  adapterModule?: string;
  capability?: string;
}

export async function listAgents(exec: Executor, f: AgentFilter, page: Page, staleAfterS: number) {
  const stale = staleSql(staleAfterS);
  // The status a reader sees: stale agents are offline whatever their stored status.
  const statusWhere =
    f.status === undefined
      ? undefined
      : f.status === "offline"
        ? or(eq(agents.status, "offline"), stale)
        : and(eq(agents.status, f.status), sql`NOT ${stale}`);
  const rows = await exec
    .select(viewCols(staleAfterS))
    .from(agents)
    .where(
      and(
        statusWhere,
        f.adapterModule === undefined ? undefined : eq(agents.adapterModule, f.adapterModule),
        f.capability === undefined ? undefined : sql`${agents.capabilities} @> ${JSON.stringify([f.capability])}::jsonb`,
        page.after === null ? undefined : gt(agents.id, page.after),
      ),
    )
    .orderBy(asc(agents.id))
    .limit(page.limit + 1);
  return rows as AgentView[];
}

export async function listMissionAgents(exec: Executor, missionId: number, page: Page, staleAfterS: number) {
  const rows = await exec
    .select(viewCols(staleAfterS))
    .from(missionAgents)
    .innerJoin(agents, eq(agents.id, missionAgents.agentId))
    .where(and(eq(missionAgents.missionId, missionId), page.after === null ? undefined : gt(agents.id, page.after)))
    .orderBy(asc(agents.id))
    .limit(page.limit + 1);
  return rows as AgentView[];
}

/**
 * Inserts unless the key is taken; `undefined` when it was (a concurrent create or registration won).
 * `seenNow` stamps `last_seen_at` with the database's clock, the one staleness is measured on.
 */
export async function insertAgent(exec: Executor, values: typeof agents.$inferInsert, opts: { seenNow?: boolean } = {}) {
  const rows = await exec
    .insert(agents)
    .values(opts.seenNow ? { ...values, lastSeenAt: sql`now()` } : values)
    .onConflictDoNothing({ target: agents.agentId })
    .returning();
  return rows[0];
}

export async function updateAgent(exec: Executor, id: number, set: Partial<typeof agents.$inferInsert>) {
  const rows = await exec
    .update(agents)
    .set({ ...set, updatedAt: sql`now()` })
    .where(eq(agents.id, id))
    .returning();
  agentWritten(id, false);
  return rows[0]!;
}

/**
 * The heartbeat written at once (heartbeats.ts coalesces the rest): one statement, no transaction, no trace. Keeps the status, except that an agent stored as
 * `offline` (stopped, or registered and never heard from) comes back as `idle`; `updated_at` moves only then.
 */
export async function heartbeat(exec: Executor, ref: Ref): Promise<AgentRow | undefined> {
  const rows = await exec
    .update(agents)
    .set({
      lastSeenAt: sql`now()`,
      status: sql`CASE WHEN ${agents.status} = 'offline' THEN 'idle' ELSE ${agents.status} END`,
      updatedAt: sql`CASE WHEN ${agents.status} = 'offline' THEN now() ELSE ${agents.updatedAt} END`,
    })
    .where(refWhere(agents.id, agents.agentId, ref))
    .returning();
  return rows[0];
}

/** Any other activity event: status and current task as the event says, seen now. */
export async function recordActivity(
  exec: Executor,
  ref: Ref,
  status: string,
  currentTask: { set: string | null } | "keep",
): Promise<AgentRow | undefined> {
  const rows = await exec
    .update(agents)
    .set({
      status,
      ...(currentTask === "keep" ? {} : { currentTaskId: currentTask.set }),
      lastSeenAt: sql`now()`,
      updatedAt: sql`now()`,
    })
    .where(refWhere(agents.id, agents.agentId, ref))
    .returning();
  if (rows[0]) agentWritten(rows[0].id, true);
  return rows[0];
}

/** Puts an agent on a mission; `false` when it already was. */
export async function addMissionAgent(exec: Executor, missionId: number, agentId: number): Promise<boolean> {
  const rows = await exec
    .insert(missionAgents)
    .values({ missionId, agentId })
    .onConflictDoNothing()
    .returning({ agentId: missionAgents.agentId });
  return rows.length > 0;
}

/** Takes an agent off a mission; `false` when it was not on it. */
export async function removeMissionAgent(exec: Executor, missionId: number, agentId: number): Promise<boolean> {
  const rows = await exec
    .delete(missionAgents)
    .where(and(eq(missionAgents.missionId, missionId), eq(missionAgents.agentId, agentId)))
    .returning({ agentId: missionAgents.agentId });
  return rows.length > 0;
}
