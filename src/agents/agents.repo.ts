import { and, asc, eq, getTableColumns, gt, sql } from "drizzle-orm";
import { agents, dispatches, missionAgents, tasks } from "../db/schema/index.js";
import type { Executor } from "../db/client.js";
import { refWhere } from "../db/lookup.js";
import { agentWritten } from "./agent-writes.js";
import { AGENT, CAUSE, STALEABLE, type AgentStatus, type StatusCause } from "./agents.state.js";
import { DISPATCH } from "../runtime/dispatch.state.js";
import type { Ref } from "../core/ids.js";
import type { Page } from "../core/pagination.js";

export type AgentRow = typeof agents.$inferSelect;

/**
 * The live run of an agent, as every process sees it: its newest `running` dispatch (the runtime's row, with
 * the pid, attempt and the coalesced `last_output_at`), or null. Times are epoch ms.
 */
export interface RunRow {
  task_id: string;
  pid: number | null;
  started_at: number | null;
  last_output_at: number | null;
  attempt: number;
}
/** A row as read for a response: with its live run. */
export type AgentView = AgentRow & { run: RunRow | null };

export async function findAgent(
  exec: Executor,
  ref: Ref,
  opts: { lock?: boolean } = {},
): Promise<AgentRow | undefined> {
  const q = exec
    .select()
    .from(agents)
    .where(refWhere(agents.id, agents.agentId, ref))
    .limit(1);
  const rows = opts.lock ? await q.for("update") : await q;
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

/** A literal, not a parameter: the partial index dispatches_running_agent_idx is chosen only for a literal. */
const RUNNING = sql.raw(`'${DISPATCH.running}'`);
const ms = (col: string) => `(extract(epoch FROM ${col}) * 1000)::float8`;
/** The agent's live run (see RunRow); uses dispatches_running_agent_idx. Qualified by hand: RETURNING lists are not. */
const runSql = sql<RunRow | null>`(SELECT json_build_object('task_id', t.task_id, 'pid', d.pid, 'started_at', ${sql.raw(ms("d.started_at"))},
    'last_output_at', ${sql.raw(ms("d.last_output_at"))}, 'attempt', d.attempt)
  FROM ${dispatches} d JOIN ${tasks} t ON t.id = d.task_id
  WHERE d.agent_id = "agents"."id" AND d.status = ${RUNNING} ORDER BY d.id DESC LIMIT 1)`;

/** No run of the runtime holds the agent. */
export const noLiveRunSql = sql`NOT EXISTS (SELECT 1 FROM ${dispatches} d WHERE d.agent_id = "agents"."id" AND d.status = ${RUNNING})`;

const agentCols = getTableColumns(agents);
/** The columns of an AgentView, for selects and RETURNING clauses. */
export const viewCols = { ...agentCols, run: runSql };

function parseRun(v: unknown): RunRow | null {
  if (v === null || v === undefined) return null;
  return (typeof v === "string" ? JSON.parse(v) : v) as RunRow;
}

export function toView<T extends { run: unknown }>(r: T): Omit<T, "run"> & { run: RunRow | null } {
  return { ...r, run: parseRun(r.run) };
}

export async function findAgentView(exec: Executor, ref: Ref, opts: { lock?: boolean } = {}) {
  const q = exec
    .select(viewCols)
    .from(agents)
    .where(refWhere(agents.id, agents.agentId, ref))
    .limit(1);
  const rows = opts.lock ? await q.for("update", { of: agents }) : await q;
  return rows[0] ? (toView(rows[0]) as AgentView) : undefined;
}

export interface AgentFilter {
  status?: AgentStatus;
  adapterModule?: string;
  capability?: string;
}

export async function listAgents(exec: Executor, f: AgentFilter, page: Page) {
  const rows = await exec
    .select(viewCols)
    .from(agents)
    .where(
      and(
        f.status === undefined ? undefined : eq(agents.status, f.status),
        f.adapterModule === undefined ? undefined : eq(agents.adapterModule, f.adapterModule),
        f.capability === undefined
          ? undefined
          : sql`${agents.capabilities} @> ${JSON.stringify([f.capability])}::jsonb`,
        page.after === null ? undefined : gt(agents.id, page.after),
      ),
    )
    .orderBy(asc(agents.id))
    .limit(page.limit + 1);
  return rows.map(toView) as AgentView[];
}

export async function listMissionAgents(exec: Executor, missionId: number, page: Page) {
  const rows = await exec
    .select(viewCols)
    .from(missionAgents)
    .innerJoin(agents, eq(agents.id, missionAgents.agentId))
    .where(and(eq(missionAgents.missionId, missionId), page.after === null ? undefined : gt(agents.id, page.after)))
    .orderBy(asc(agents.id))
    .limit(page.limit + 1);
  return rows.map(toView) as AgentView[];
}

/**
 * Inserts unless the key is taken; `undefined` when it was (a concurrent create or registration won).
 * `seenNow` (a first report) stamps `last_seen_at`, `status_since` and, with an event, `last_event_at` with
 * the database's clock, the one staleness is measured on.
 */
export async function insertAgent(
  exec: Executor,
  values: typeof agents.$inferInsert,
  opts: { seenNow?: boolean } = {},
) {
  const now = sql`now()`;
  const rows = await exec
    .insert(agents)
    .values(
      opts.seenNow
        ? { ...values, lastSeenAt: now, statusSince: now, ...(values.lastEvent ? { lastEventAt: now } : {}) }
        : values,
    )
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
 * The heartbeat written at once (heartbeats.ts coalesces the rest): one statement, no transaction, no trace,
 * for an agent that is not `offline`. `undefined` when there is no such agent or it is `offline`: reviving one
 * is a status change, with its trace entry (the service's `revive`).
 */
export async function heartbeat(exec: Executor, ref: Ref): Promise<AgentView | undefined> {
  const rows = await exec
    .update(agents)
    .set({ lastSeenAt: sql`now()` })
    .where(and(refWhere(agents.id, agents.agentId, ref), sql`${agents.status} <> ${AGENT.offline}`))
    .returning(viewCols);
  return rows[0] ? toView(rows[0]) : undefined;
}

/** A status write: what the agent's row becomes. */
export interface StatusWrite {
  status: AgentStatus;
  cause: StatusCause;
  reason: string;
  /** The activity event behind it, for `last_event` (none for staleness, resets and revivals). */
  event?: string;
  /** `set` takes the task key (or null), `keep` leaves current_task_id. */
  currentTask: { set: string | null } | "keep";
  /** The agent gave a sign of life (its own report, its run): `last_seen_at` moves to now. */
  seen: boolean;
  /** Only if the stored status is still one of these (the row is then left alone and `undefined` returned). */
  onlyFrom?: readonly AgentStatus[];
  /** Only if the status last changed more than this many ms ago (a late heartbeat never undoes a later `stop`). */
  changedBeforeAgeMs?: number;
}

/**
 * Writes a status in one statement and returns the row with the status it replaced (`from`): the row is
 * locked by the FROM subquery, so `from` is the status this write replaced even when writes race.
 * `status_since` moves only when the status changes.
 */
export async function writeStatus(
  exec: Executor,
  ref: Ref,
  w: StatusWrite,
): Promise<(AgentView & { from: AgentStatus }) | undefined> {
  const old = sql`(SELECT id, status FROM agents WHERE ${refWhere(agents.id, agents.agentId, ref)} FOR UPDATE) AS o`;
  const rows = await exec
    .update(agents)
    .set({
      status: w.status,
      statusCause: w.cause,
      statusReason: w.reason,
      statusSince: sql`CASE WHEN o.status = ${w.status} THEN ${agents.statusSince} ELSE now() END`,
      ...(w.currentTask === "keep" ? {} : { currentTaskId: w.currentTask.set }),
      ...(w.event === undefined ? {} : { lastEvent: w.event, lastEventAt: sql`now()` }),
      ...(w.seen ? { lastSeenAt: sql`now()` } : {}),
      updatedAt: sql`now()`,
    })
    .from(old)
    .where(
      and(
        sql`${agents.id} = o.id`,
        w.onlyFrom === undefined
          ? undefined
          : sql`o.status IN (${sql.join(
              w.onlyFrom.map((x) => sql`${x}`),
              sql`, `,
            )})`,
        w.changedBeforeAgeMs === undefined
          ? undefined
          : sql`(${agents.statusSince} IS NULL OR ${agents.statusSince} < now() - (${Math.round(w.changedBeforeAgeMs)}::bigint * interval '1 millisecond'))`,
      ),
    )
    .returning({ ...viewCols, from: sql<AgentStatus>`o.status` });
  if (rows[0]) agentWritten(rows[0].id, w.seen);
  return rows[0] ? toView(rows[0]) : undefined;
}

/**
 * STALEABLE as an SQL list of literals (constants, never input): literals, not parameters, so the planner can
 * match the partial index agents_live_seen_idx, which names the same statuses.
 */
const staleable = sql.raw(STALEABLE.map((x) => `'${x}'`).join(", "));

/**
 * Agents that may have gone stale: in a status silence ends, silent for longer than the window, with no live
 * run. Read without locks; `markStale` decides, row by row.
 */
export async function staleCandidates(exec: Executor, staleAfterS: number, limit: number): Promise<number[]> {
  const rows = await exec
    .select({ id: agents.id })
    .from(agents)
    .where(
      and(
        sql`${agents.status} IN (${staleable})`,
        sql`${agents.lastSeenAt} < now() - (${staleAfterS}::integer * interval '1 second')`,
        noLiveRunSql,
      ),
    )
    .orderBy(asc(agents.lastSeenAt))
    .limit(limit);
  return rows.map((r) => r.id);
}

/**
 * Makes one agent `offline` for silence, if it still is silent, in a status silence ends, and held by no run,
 * judged on the row locked by this statement: of several servers racing for the same agent, exactly one gets
 * a row back (the others see the new status and match nothing). The row has the status it replaced (`from`).
 */
export async function markStale(exec: Executor, id: number, staleAfterS: number, reason: string) {
  const old = sql`(SELECT id, status FROM agents WHERE id = ${id} FOR UPDATE SKIP LOCKED) AS o`;
  const rows = await exec
    .update(agents)
    .set({
      status: AGENT.offline,
      statusCause: CAUSE.stale,
      statusReason: reason,
      statusSince: sql`now()`,
      updatedAt: sql`now()`,
    })
    .from(old)
    .where(
      and(
        sql`${agents.id} = o.id`,
        sql`o.status IN (${staleable})`,
        sql`${agents.lastSeenAt} < now() - (${staleAfterS}::integer * interval '1 second')`,
        noLiveRunSql,
      ),
    )
    .returning({ ...agentCols, from: sql<AgentStatus>`o.status` });
  if (rows[0]) agentWritten(rows[0].id, false);
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
