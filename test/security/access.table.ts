// Who may call what: one entry per route of the OpenAPI document, keyed `METHOD /path` as the document
// spells it. The access matrix test fails for a route that is served but missing here (and for an entry whose
// route is gone), so adding a route means deciding its access in this table.
//
// `access` is the decision; the expected status of each caller follows from it:
//   public    everyone gets `ok`
//   admin     admin `ok`; member and agents 403
//   member    member and admin `ok`; agents 403
//   ownAgent  member, admin and the agent whose record it is `ok`; another agent 403
//   anyAgent  every valid token `ok` (an agent sees only its own things in what it gets)
// and without a valid token (none, a malformed header, an unknown or a revoked token) 401.
// `except` overrides single callers. `ok` is exact: the status a caller who is let in gets with the request
// built from `path`/`query`/`body` against its own fixture set.
import type { FixtureSet } from "./world.js";
import { uniq } from "./openapi.js";

export const CALLERS = [
  "none",
  "malformed",
  "unknown",
  "revoked",
  "otherAgent",
  "ownAgent",
  "member",
  "admin",
] as const;
export type Caller = (typeof CALLERS)[number];
export type Access = "public" | "admin" | "member" | "ownAgent" | "anyAgent";

export interface Env {
  f: FixtureSet;
  /** The agent the fixture set's tasks are assigned to ("the right agent"). */
  ownAgent: string;
}

export interface Rule {
  access: Access;
  ok: number;
  except?: Partial<Record<Caller, number>>;
  path?: (e: Env) => Record<string, string>;
  query?: (e: Env) => Record<string, string>;
  body?: (e: Env) => unknown;
}

export function expectedStatus(rule: Rule, caller: Caller): number {
  const override = rule.except?.[caller];
  if (override !== undefined) return override;
  if (rule.access === "public") return rule.ok;
  if (caller === "none" || caller === "malformed" || caller === "unknown" || caller === "revoked") return 401;
  switch (rule.access) {
    case "admin":
      return caller === "admin" ? rule.ok : 403;
    case "member":
      return caller === "admin" || caller === "member" ? rule.ok : 403;
    case "ownAgent":
      return caller === "otherAgent" ? 403 : rule.ok;
    case "anyAgent":
      return rule.ok;
  }
}

const id = (pick: (f: FixtureSet) => string) => (e: Env) => ({ id: pick(e.f) });
const missionId = (e: Env) => ({ mission_id: e.f.mission });
/** Ids nothing has: the routes answer 404 to whoever may ask. */
const NONE = "999999";

export const ACCESS: Record<string, Rule> = {
  "GET /healthz": { access: "public", ok: 200 },
  "GET /readyz": { access: "public", ok: 200 },

  "POST /api/tokens": { access: "admin", ok: 201, body: () => ({ role: "member", name: uniq("made") }) },
  "GET /api/tokens": { access: "admin", ok: 200 },
  "DELETE /api/tokens/{id}": { access: "admin", ok: 204, path: id((f) => f.tokenToRevoke) },

  "GET /api/missions": { access: "member", ok: 200 },
  "POST /api/missions": { access: "member", ok: 201, body: () => ({ goal: "made by the matrix" }) },
  "GET /api/missions/{id}": { access: "ownAgent", ok: 200, path: id((f) => f.mission) },
  "PATCH /api/missions/{id}": {
    access: "member",
    ok: 200,
    path: id((f) => f.mission),
    body: () => ({ description: "changed" }),
  },
  "POST /api/missions/{id}/start": { access: "member", ok: 200, path: id((f) => f.missionToStart) },
  "POST /api/missions/{id}/pause": { access: "member", ok: 200, path: id((f) => f.missionToPause) },
  "POST /api/missions/{mission_id}/tasks": {
    access: "member",
    ok: 201,
    path: missionId,
    body: () => ({ objective: "new" }),
  },
  "GET /api/missions/{mission_id}/tasks": { access: "ownAgent", ok: 200, path: missionId },
  "GET /api/missions/{mission_id}/trace": { access: "member", ok: 200, path: missionId },
  "POST /api/missions/{mission_id}/replay": { access: "member", ok: 200, path: missionId, body: () => ({}) },
  "GET /api/missions/{mission_id}/agents": { access: "member", ok: 200, path: missionId },
  "POST /api/missions/{mission_id}/agents": {
    access: "member",
    ok: 201,
    path: missionId,
    body: (e) => ({ agent_id: e.f.agentOffMission }),
  },
  "GET /api/missions/{mission_id}/agents/{id}": {
    access: "member",
    ok: 200,
    path: (e) => ({ mission_id: e.f.mission, id: e.ownAgent }),
  },
  "DELETE /api/missions/{mission_id}/agents/{id}": {
    access: "member",
    ok: 204,
    path: (e) => ({ mission_id: e.f.mission, id: e.f.agentOnMission }),
  },

  "GET /api/tasks": { access: "anyAgent", ok: 200 },
  "GET /api/tasks/{id}": { access: "ownAgent", ok: 200, path: id((f) => f.task) },
  "PATCH /api/tasks/{id}": {
    access: "member",
    ok: 200,
    path: id((f) => f.task),
    body: () => ({ objective: "changed" }),
  },
  "POST /api/tasks/{id}/report": {
    access: "ownAgent",
    ok: 200,
    path: id((f) => f.task),
    body: () => ({ logs: [{ message: "progress" }], outputs: { step: 1 } }),
  },
  "POST /api/tasks/{id}/approve": { access: "member", ok: 200, path: id((f) => f.taskToApprove), body: () => ({}) },
  "POST /api/tasks/{id}/reject": {
    access: "member",
    ok: 200,
    path: id((f) => f.taskToReject),
    body: () => ({ comment: "redo" }),
  },
  "GET /api/tasks/{id}/logs": { access: "ownAgent", ok: 200, path: id((f) => f.task) },
  // The fixture missions are not active (nothing runs in the background here): execute is refused as 422.
  "POST /api/tasks/{id}/execute": { access: "member", ok: 422, path: id((f) => f.task), body: () => ({}) },
  "GET /api/dispatches": { access: "member", ok: 200 },
  "GET /api/dispatches/{id}": { access: "member", ok: 404, path: () => ({ id: NONE }) },

  "GET /api/trace": { access: "member", ok: 200 },
  "GET /api/trace/verify": { access: "member", ok: 200 },
  "GET /api/trace/export": { access: "member", ok: 200 },
  "GET /api/events": { access: "member", ok: 200 },

  "GET /api/agents": { access: "member", ok: 200 },
  "POST /api/agents": { access: "member", ok: 201, body: () => ({ agent_id: uniq("new-agent") }) },
  "GET /api/agents/{id}": { access: "ownAgent", ok: 200, path: (e) => ({ id: e.ownAgent }) },
  "PATCH /api/agents/{id}": {
    access: "member",
    ok: 200,
    path: id((f) => f.agentOnMission),
    body: () => ({ name: "renamed" }),
  },
  "POST /api/agents/{agent_id}/activity": {
    access: "ownAgent",
    ok: 200,
    path: (e) => ({ agent_id: e.ownAgent }),
    body: () => ({ event: "session_start" }),
  },
  // Only agent tokens post hooks: it is the token that says which agent is speaking.
  "POST /api/hooks/claude-code": {
    access: "anyAgent",
    ok: 200,
    except: { member: 403, admin: 403 },
    body: () => ({ session_id: "s-1", hook_event_name: "SubagentStop" }),
  },
  "GET /api/agents/{agent_id}/hooks/claude-code": {
    access: "ownAgent",
    ok: 200,
    path: (e) => ({ agent_id: e.ownAgent }),
  },
  // A person clears an agent's state: never the agent itself (its own token is 403 too).
  "POST /api/agents/{agent_id}/reset": { access: "member", ok: 200, path: (e) => ({ agent_id: e.ownAgent }) },

  "GET /api/sprints": { access: "member", ok: 200 },
  "POST /api/sprints": { access: "member", ok: 201, body: () => ({ name: "sprint" }) },
  "GET /api/sprints/{id}": { access: "member", ok: 200, path: id((f) => f.sprint) },
  "PATCH /api/sprints/{id}": { access: "member", ok: 200, path: id((f) => f.sprint), body: () => ({ goal: "ship" }) },

  "GET /api/objectives": { access: "member", ok: 200 },
  "POST /api/objectives": { access: "member", ok: 201, body: () => ({ title: "objective" }) },
  "GET /api/objectives/{id}": { access: "member", ok: 200, path: id((f) => f.objective) },
  "PATCH /api/objectives/{id}": {
    access: "member",
    ok: 200,
    path: id((f) => f.objective),
    body: () => ({ description: "d" }),
  },
  "DELETE /api/objectives/{id}": { access: "member", ok: 204, path: id((f) => f.objectiveToDelete) },
  "GET /api/objectives/{objective_id}/key_results": {
    access: "member",
    ok: 200,
    path: (e) => ({ objective_id: e.f.objective }),
  },
  "POST /api/objectives/{objective_id}/key_results": {
    access: "member",
    ok: 201,
    path: (e) => ({ objective_id: e.f.objective }),
    body: () => ({ title: "kr" }),
  },
  "GET /api/key_results/{id}": { access: "member", ok: 200, path: id((f) => f.keyResult) },
  "PATCH /api/key_results/{id}": {
    access: "member",
    ok: 200,
    path: id((f) => f.keyResult),
    body: () => ({ title: "kr2" }),
  },
  "DELETE /api/key_results/{id}": { access: "member", ok: 204, path: id((f) => f.keyResultToDelete) },

  "GET /api/requirements": { access: "member", ok: 200 },
  "POST /api/requirements": { access: "member", ok: 201, body: () => ({ title: "requirement" }) },
  "GET /api/requirements/{id}": { access: "member", ok: 200, path: id((f) => f.requirement) },
  "PATCH /api/requirements/{id}": {
    access: "member",
    ok: 200,
    path: id((f) => f.requirement),
    body: () => ({ description: "d" }),
  },
  "DELETE /api/requirements/{id}": { access: "member", ok: 204, path: id((f) => f.requirementToDelete) },
  "GET /api/traceability": { access: "member", ok: 200 },

  "GET /api/policies": { access: "member", ok: 200 },
  "POST /api/policies": {
    access: "member",
    ok: 201,
    body: () => ({ conditions: { action_type: "shell" }, actions: [{ warn: "careful" }] }),
  },
  "GET /api/policies/templates": { access: "member", ok: 200 },
  "POST /api/policies/templates/{template_id}": {
    access: "member",
    ok: 201,
    path: () => ({ template_id: "no-force-push-protected" }),
    body: () => ({ policy_id: uniq("from-template") }),
  },
  "POST /api/policies/evaluate": {
    access: "anyAgent",
    ok: 200,
    body: () => ({ action: { action_type: "file_read" } }),
  },
  "GET /api/policies/{id}": { access: "member", ok: 200, path: id((f) => f.policy) },
  "PATCH /api/policies/{id}": {
    access: "member",
    ok: 200,
    path: id((f) => f.policy),
    body: () => ({ description: "d" }),
  },
  "DELETE /api/policies/{id}": { access: "member", ok: 204, path: id((f) => f.policyToDelete) },

  "POST /api/knowledge/documents": { access: "member", ok: 201, body: () => ({ title: "t", content: "c" }) },
  "GET /api/knowledge/documents": { access: "member", ok: 200 },
  "GET /api/knowledge/documents/{id}": { access: "anyAgent", ok: 200, path: id((f) => f.document) },
  "PATCH /api/knowledge/documents/{id}": {
    access: "member",
    ok: 200,
    path: id((f) => f.document),
    body: () => ({ title: "t2" }),
  },
  "DELETE /api/knowledge/documents/{id}": { access: "member", ok: 204, path: id((f) => f.documentToDelete) },
  "POST /api/knowledge/search": { access: "anyAgent", ok: 200, body: () => ({ query: "deploy" }) },

  // GitHub is not configured here: the statuses are those of a server without it.
  "POST /api/github/sync": { access: "member", ok: 422 },
  "GET /api/github/sync/{id}": { access: "member", ok: 404, path: () => ({ id: NONE }) },
  "GET /api/github/issues": { access: "member", ok: 200 },
  "GET /api/github/issues/{id}": { access: "member", ok: 404, path: () => ({ id: NONE }) },
  "GET /api/github/issues/{owner}/{name}": {
    access: "member",
    ok: 404,
    path: () => ({ owner: "octo", name: "repo#1" }),
  },
  "POST /api/github/issues/{id}/task": { access: "member", ok: 404, path: () => ({ id: NONE }), body: missionId },
  "POST /api/github/issues/{owner}/{name}/task": {
    access: "member",
    ok: 404,
    path: () => ({ owner: "octo", name: "repo#1" }),
    body: missionId,
  },
  // Authenticated by GitHub's signature, not by a token: unsigned is 401 whoever sends it.
  "POST /api/github/webhook": { access: "public", ok: 401, body: () => ({ zen: "hi" }) },
};
