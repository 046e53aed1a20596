// Which agents are on which mission. Invariants: an agent is on a mission at most once (the table's primary
// key; adding it again is a 422, never a second row), every add and remove writes its trace entry in the same
// transaction, and `onMembershipChanged` runs only after that transaction has committed.
import type { Database, Executor } from "../db/client.js";
import type { Principal } from "../core/principal.js";
import { Invalid, NotFound } from "../core/errors.js";
import { parseRef } from "../core/ids.js";
import { pageOf, toPage } from "../core/pagination.js";
import { findMission } from "../missions/missions.lookup.js";
import { appendTrace } from "../trace/trace.append.js";
import * as repo from "./agents.repo.js";
import type { MissionAgentAdd, MissionAgentListQuery } from "./agents.schemas.js";
import { agentToApi } from "./agents.service.js";
import { heartbeatsFor } from "./heartbeats.js";

export type MembershipChange = "added" | "removed";

export interface MissionAgentsDeps {
  database: Database;
  /** Called after the change has committed (the mission runtime starts or stops the agent's worker). */
  onMembershipChanged?: (missionId: number, agentId: number, change: MembershipChange) => Promise<void>;
}

export type MissionAgentsService = ReturnType<typeof createMissionAgentsService>;

export function createMissionAgentsService({ database, onMembershipChanged }: MissionAgentsDeps) {
  const { db } = database;
  // Reads show every heartbeat already answered (see heartbeats.ts).
  const settle = () => heartbeatsFor(database).settle();

  async function mission(exec: Executor, raw: string) {
    const ref = parseRef(raw);
    const m = ref === null ? undefined : await findMission(exec, ref);
    if (!m) throw new NotFound();
    return m;
  }

  async function list(missionRaw: string, q: MissionAgentListQuery) {
    const m = await mission(db, missionRaw);
    const page = pageOf(q);
    await settle();
    const rows = await repo.listMissionAgents(db, m.id, page);
    return toPage(rows, page, (r) => agentToApi(r));
  }

  /** The agent when it is on the mission; 404 when the mission, the agent or the membership does not exist. */
  async function get(missionRaw: string, agentRaw: string) {
    const m = await mission(db, missionRaw);
    const ref = parseRef(agentRaw);
    await settle();
    const a = ref === null ? undefined : await repo.findAgentView(db, ref);
    if (!a || !(await repo.isAgentOnMission(db, m.id, a.id))) throw new NotFound();
    return agentToApi(a);
  }

  async function add(missionRaw: string, input: MissionAgentAdd, by: Principal) {
    await settle();
    const { m, a } = await db.transaction(async (tx) => {
      const m = await mission(tx, missionRaw);
      const ref = parseRef(input.agent_id);
      const a = ref === null ? undefined : await repo.findAgentView(tx, ref);
      if (!a) throw Invalid.field("agent_id", "does not exist");
      if (!(await repo.addMissionAgent(tx, m.id, a.id))) throw Invalid.field("agent_id", "is already on this mission");
      await appendTrace(tx, {
        event: "mission.agent_added",
        actor: by.actor,
        missionId: m.missionId,
        agentId: a.agentId,
        data: { agent_id: a.agentId },
      });
      return { m, a };
    });
    await onMembershipChanged?.(m.id, a.id, "added");
    return { mission_id: m.missionId, data: agentToApi(a) };
  }

  async function remove(missionRaw: string, agentRaw: string, by: Principal) {
    const { m, a } = await db.transaction(async (tx) => {
      const m = await mission(tx, missionRaw);
      const ref = parseRef(agentRaw);
      const a = ref === null ? undefined : await repo.findAgent(tx, ref);
      if (!a || !(await repo.removeMissionAgent(tx, m.id, a.id))) throw new NotFound();
      await appendTrace(tx, {
        event: "mission.agent_removed",
        actor: by.actor,
        missionId: m.missionId,
        agentId: a.agentId,
        data: { agent_id: a.agentId },
      });
      return { m, a };
    });
    await onMembershipChanged?.(m.id, a.id, "removed");
  }

  return { list, get, add, remove };
}
