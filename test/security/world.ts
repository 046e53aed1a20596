// A small world of records, made through the API, that the access matrix and the fuzzing point their path
// parameters at. Each set is independent, so a caller allowed to delete or move one set's records does not
// change what the next caller finds. No mission is left active with an agent on it: nothing runs in the
// background while requests are being checked.
import { uniq } from "./openapi.js";

/** Calls the API as an admin: status and parsed body. */
export type AdminCall = (method: string, url: string, body?: unknown) => Promise<{ status: number; json: any }>;

export interface FixtureSet {
  /** Planning mission with the "own" agent on it; the tasks below are on it. */
  mission: string;
  /** Planning mission, for start. */
  missionToStart: string;
  /** Active mission without agents, for pause. */
  missionToPause: string;
  /** Assigned to the own agent, pending. */
  task: string;
  /** Assigned to the own agent, pending_review. */
  taskToApprove: string;
  taskToReject: string;
  /** On the mission, to be taken off it. */
  agentOnMission: string;
  /** Not on the mission, to be put on it. */
  agentOffMission: string;
  sprint: string;
  objective: string;
  objectiveToDelete: string;
  keyResult: string;
  keyResultToDelete: string;
  requirement: string;
  requirementToDelete: string;
  policy: string;
  policyToDelete: string;
  document: string;
  documentToDelete: string;
  /** Id of a member token, to be revoked. */
  tokenToRevoke: string;
}

async function ok(t: AdminCall, method: string, url: string, body?: unknown): Promise<any> {
  const r = await t(method, url, body);
  if (r.status >= 300) throw new Error(`fixture ${method} ${url}: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json?.data;
}

/** A set of records; `agent` (which must exist) is the agent the tasks are assigned to. */
export async function createFixtureSet(t: AdminCall, agent: string, label = uniq("fx")): Promise<FixtureSet> {
  const k = (what: string) => `${label}-${what}`;
  const mission = (await ok(t, "POST", "/api/missions", { mission_id: k("m"), goal: "access matrix" })).mission_id;
  const missionToStart = (await ok(t, "POST", "/api/missions", { mission_id: k("m-start"), goal: "to start" }))
    .mission_id;
  const missionToPause = (await ok(t, "POST", "/api/missions", { mission_id: k("m-pause"), goal: "to pause" }))
    .mission_id;
  await ok(t, "POST", `/api/missions/${missionToPause}/start`);
  const agentOnMission = (await ok(t, "POST", "/api/agents", { agent_id: k("on") })).agent_id;
  const agentOffMission = (await ok(t, "POST", "/api/agents", { agent_id: k("off") })).agent_id;
  await ok(t, "POST", `/api/missions/${mission}/agents`, { agent_id: agent });
  await ok(t, "POST", `/api/missions/${mission}/agents`, { agent_id: agentOnMission });
  const sprint = (await ok(t, "POST", "/api/sprints", { sprint_id: k("s"), name: "sprint" })).sprint_id;
  const task = (
    await ok(t, "POST", `/api/missions/${mission}/tasks`, { task_id: k("t"), objective: "work", agent_id: agent })
  ).task_id;
  const inReview = async (what: string) => {
    const id = (
      await ok(t, "POST", `/api/missions/${mission}/tasks`, { task_id: k(what), objective: what, agent_id: agent })
    ).task_id;
    await ok(t, "POST", `/api/tasks/${id}/report`, { status: "in_progress" });
    await ok(t, "POST", `/api/tasks/${id}/report`, { status: "pending_review" });
    return id as string;
  };
  const taskToApprove = await inReview("t-approve");
  const taskToReject = await inReview("t-reject");
  const objective = (await ok(t, "POST", "/api/objectives", { objective_id: k("o"), title: "objective" })).objective_id;
  const objectiveToDelete = (await ok(t, "POST", "/api/objectives", { objective_id: k("o-del"), title: "gone" }))
    .objective_id;
  const keyResult = (await ok(t, "POST", `/api/objectives/${objective}/key_results`, { kr_id: k("kr"), title: "kr" }))
    .kr_id;
  const keyResultToDelete = (
    await ok(t, "POST", `/api/objectives/${objective}/key_results`, { kr_id: k("kr-del"), title: "gone" })
  ).kr_id;
  const requirement = (await ok(t, "POST", "/api/requirements", { requirement_id: k("r"), title: "requirement" }))
    .requirement_id;
  const requirementToDelete = (await ok(t, "POST", "/api/requirements", { requirement_id: k("r-del"), title: "gone" }))
    .requirement_id;
  const rule = { conditions: { action_type: "git_push", force: true }, actions: [{ block: "no force push" }] };
  const policy = (await ok(t, "POST", "/api/policies", { policy_id: k("p"), ...rule })).policy_id;
  const policyToDelete = (await ok(t, "POST", "/api/policies", { policy_id: k("p-del"), ...rule })).policy_id;
  const document = String(
    (await ok(t, "POST", "/api/knowledge/documents", { title: "doc", content: "how to deploy" })).id,
  );
  const documentToDelete = String(
    (await ok(t, "POST", "/api/knowledge/documents", { title: "gone", content: "old" })).id,
  );
  const tokenToRevoke = String((await ok(t, "POST", "/api/tokens", { role: "member", name: k("tok") })).id);
  return {
    mission,
    missionToStart,
    missionToPause,
    task,
    taskToApprove,
    taskToReject,
    agentOnMission,
    agentOffMission,
    sprint,
    objective,
    objectiveToDelete,
    keyResult,
    keyResultToDelete,
    requirement,
    requirementToDelete,
    policy,
    policyToDelete,
    document,
    documentToDelete,
    tokenToRevoke,
  };
}
