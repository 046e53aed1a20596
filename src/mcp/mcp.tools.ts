// The MCP tools: each one is a route of the API seen from an agent. A tool names the route it mirrors, takes
// its arguments from that route's own TypeBox schemas (so enums and bounds are the route's), and calls the same
// service function with the caller's principal: permissions, the state machine, policies and the trace are the
// route's. `access` is the route's `config.access`: an agent token is refused the member tools as the route
// would refuse it (403), and is not shown them.
import type { TSchema } from "@sinclair/typebox";
import { Type } from "@sinclair/typebox";
import type { Database } from "../db/client.js";
import type { Principal } from "../core/principal.js";
import { Forbidden, Invalid } from "../core/errors.js";
import { RefSchema } from "../core/ids.js";
import { PageQuery } from "../core/pagination.js";
import type { AgentsService } from "../agents/agents.service.js";
import { Agent, AgentListQuery } from "../agents/agents.schemas.js";
import type { KnowledgeService } from "../knowledge/knowledge.service.js";
import { SearchBody, SearchHit } from "../knowledge/knowledge.schemas.js";
import type { MissionsService } from "../missions/missions.service.js";
import { Mission, MissionListQuery } from "../missions/missions.schemas.js";
import type { PoliciesService } from "../policies/policies.service.js";
import { EvaluateBody, PolicyDecisionView } from "../policies/policies.schemas.js";
import type { RequirementsService } from "../requirements/requirements.service.js";
import type { DispatchService } from "../runtime/dispatch.service.js";
import { Dispatch } from "../runtime/dispatch.schemas.js";
import type { TasksService } from "../tasks/tasks.service.js";
import {
  ReviewBody,
  Task,
  TaskCreate,
  TaskListQuery,
  TaskReport,
  TaskSummary,
  TaskUpdate,
} from "../tasks/tasks.schemas.js";
import { canMoveTask, TASK_STATUSES, type TaskStatus } from "../tasks/tasks.state.js";
import { listDecisions } from "../trace/trace.decisions.js";
import { approvalsFor } from "./mcp.approve.js";
import { TASK as TASK_STATUS } from "../tasks/tasks.state.js";

export interface McpDeps {
  database: Database;
  tasks: Pick<TasksService, "get" | "list" | "listForMission" | "create" | "update" | "report" | "approve" | "reject">;
  missions: Pick<MissionsService, "get" | "list">;
  agents: Pick<AgentsService, "get" | "list" | "activity">;
  dispatch: Pick<DispatchService, "execute">;
  knowledge: Pick<KnowledgeService, "search">;
  policies: Pick<PoliciesService, "evaluateRequest" | "list">;
  requirements: Pick<RequirementsService, "get">;
}

/** Where a tool argument goes in the mirrored route: `["body", "status"]`, `["params", "id"]`, … */
export type ArgTarget = readonly ["body" | "query" | "params", string];

export interface ToolDef {
  name: string;
  description: string;
  access: "agent" | "member";
  /** The route this tool is (or the route whose data it reads), and where each argument goes in it. */
  mirrors: { method: "GET" | "POST" | "PATCH"; url: string; args: Record<string, ArgTarget> } | null;
  /** JSON Schema of the arguments (built by `args` below from the route's schemas). */
  inputSchema: { type: "object"; properties: Record<string, unknown>; required: string[]; additionalProperties: false };
  /** The data schema that decides what leaves the server, as for the route's response. */
  output: TSchema | null;
  /** Whether `data` is a page (`{data, meta}`) or a bare array: both become `{items, next_cursor}`. */
  list?: "page" | "array";
  run(args: Record<string, unknown>, by: Principal, deps: McpDeps): Promise<unknown>;
}

/** A schema as JSON, without the documentation keywords: tool descriptions stay short (they cost tokens). */
export function plainSchema(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(plainSchema);
  if (s === null || typeof s !== "object") return s;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === "description" || k === "examples" || k === "title" || k === "$id") continue;
    out[k] =
      k === "properties"
        ? Object.fromEntries(Object.entries(v as object).map(([p, ps]) => [p, plainSchema(ps)]))
        : plainSchema(v);
  }
  return out;
}

interface Arg {
  schema: unknown;
  description?: string;
  required?: boolean;
}
const arg = (schema: unknown, description?: string, required = false): Arg => ({ schema, description, required });
/** The route's own property schema (body or query object), required when the tool needs it. */
const prop = (obj: { properties: Record<string, unknown> }, name: string, description?: string, required = false) =>
  arg(obj.properties[name], description, required);

function args(spec: Record<string, Arg>): ToolDef["inputSchema"] {
  const properties: Record<string, unknown> = {};
  const required: string[] = [];
  for (const [name, a] of Object.entries(spec)) {
    const s = plainSchema(a.schema) as Record<string, unknown>;
    properties[name] = a.description ? { ...s, description: a.description } : s;
    if (a.required) required.push(name);
  }
  return { type: "object", properties, required, additionalProperties: false };
}

const TASK = arg(RefSchema, "task id or key", true);
const ref = (v: unknown) => String(v);
const page = (a: Record<string, unknown>) => ({
  ...(a.limit !== undefined ? { limit: a.limit as number } : {}),
  ...(a.cursor !== undefined ? { cursor: a.cursor as string } : {}),
});
const PAGE = {
  limit: arg(PageQuery.limit, "page size"),
  cursor: arg(PageQuery.cursor, "next_cursor of the last page"),
};
const PAGE_ARGS = { limit: ["query", "limit"], cursor: ["query", "cursor"] } as const;

function agentKeyOf(by: Principal, tool: string): string {
  if (by.role !== "agent" || by.agentKey === null) throw Invalid.field("token", `${tool} needs an agent token`);
  return by.agentKey;
}

/** The agent's current task: the one its status names, else its most recent in_progress task. */
async function currentTask(by: Principal, deps: McpDeps): Promise<string> {
  const key = agentKeyOf(by, "get_context without task");
  const agent = await deps.agents.get(key, by);
  if (agent.current_task_id) return agent.current_task_id;
  const page = await deps.tasks.list({ agent_id: key, status: TASK_STATUS.in_progress }, by);
  const last = page.data.at(-1);
  if (!last) throw Invalid.field("task", "no current task: name one");
  return last.task_id;
}

const LATEST_REVIEWS = 5;
const CONTEXT_LOGS = 10;
const CONTEXT_POLICIES = 20;

async function context(taskRaw: string, by: Principal, deps: McpDeps) {
  const task = await deps.tasks.get(taskRaw, by);
  // Mission goal: read as the caller; an agent not on the mission (only a task in it) sees no mission.
  const mission = await deps.missions.get(task.mission_id, by).then(
    (m) => ({ mission_id: m.mission_id, goal: m.goal, status: m.status, description: m.description }),
    (err: unknown) => {
      if (err instanceof Forbidden) return null;
      throw err;
    },
  );
  const requirements = await Promise.all(
    task.requirement_ids.map(async (r) => {
      const q = await deps.requirements.get(r);
      return {
        requirement_id: q.requirement_id,
        title: q.title,
        description: q.description,
        priority: q.priority,
        status: q.status,
      };
    }),
  );
  const from = task.status as TaskStatus;
  const allowedMoves = TASK_STATUSES.filter((to) => to !== from && canMoveTask(from, to, "report"));
  const reviews = await listDecisions(deps.database.db, { taskKey: task.task_id, limit: LATEST_REVIEWS });
  const scopes = ["global", `mission:${task.mission_id}`, ...(task.agent_id ? [`agent:${task.agent_id}`] : [])];
  const policies = (
    await Promise.all(scopes.map((scope) => deps.policies.list({ scope, enabled: true, limit: CONTEXT_POLICIES })))
  ).flatMap((p) =>
    p.data.map((x) => ({
      policy_id: x.policy_id,
      description: x.description,
      scope: x.scope,
      mode: x.mode,
      conditions: x.conditions,
      actions: x.actions,
    })),
  );
  const { logs, ...rest } = task;
  return {
    task: { ...rest, latest_logs: logs.slice(-CONTEXT_LOGS) },
    mission,
    requirements,
    allowed_moves: allowedMoves,
    review_comments: reviews,
    policies,
  };
}

const TASK_ARG: Record<string, ArgTarget> = { task: ["params", "id"] };

export const TOOLS: readonly ToolDef[] = [
  {
    name: "get_context",
    description:
      "Everything to work on a task: the task, its mission's goal, requirements served, status moves allowed now, latest review comments, policies that apply. Default: your current task.",
    access: "agent",
    mirrors: { method: "GET", url: "/api/tasks/{id}", args: { task: ["params", "id"] } },
    inputSchema: args({ task: arg(RefSchema, "task id or key; default your current task") }),
    output: null,
    run: async (a, by, deps) => context(a.task !== undefined ? ref(a.task) : await currentTask(by, deps), by, deps),
  },
  {
    name: "list_my_tasks",
    description: "Tasks assigned to you, oldest first.",
    access: "agent",
    mirrors: { method: "GET", url: "/api/tasks", args: { status: ["query", "status"], ...PAGE_ARGS } },
    inputSchema: args({ status: prop(TaskListQuery, "status"), ...PAGE }),
    output: TaskSummary,
    list: "page",
    run: (a, by, deps) =>
      deps.tasks.list(
        { agent_id: agentKeyOf(by, "list_my_tasks"), status: a.status as TaskStatus | undefined, ...page(a) },
        by,
      ),
  },
  {
    name: "get_task",
    description: "A task with its latest logs.",
    access: "agent",
    mirrors: { method: "GET", url: "/api/tasks/{id}", args: TASK_ARG },
    inputSchema: args({ task: TASK }),
    output: Task,
    run: (a, by, deps) => deps.tasks.get(ref(a.task), by),
  },
  {
    name: "start_task",
    description: "Move your task to in_progress.",
    access: "agent",
    mirrors: { method: "POST", url: "/api/tasks/{id}/report", args: TASK_ARG },
    inputSchema: args({ task: TASK }),
    output: Task,
    run: (a, by, deps) => deps.tasks.report(ref(a.task), { status: TASK_STATUS.in_progress }, by),
  },
  {
    name: "report_progress",
    description: "Report progress: a message, logs, outputs (merged), optionally a new status.",
    access: "agent",
    mirrors: {
      method: "POST",
      url: "/api/tasks/{id}/report",
      args: {
        task: ["params", "id"],
        status: ["body", "status"],
        outputs: ["body", "outputs"],
        logs: ["body", "logs"],
      },
    },
    inputSchema: args({
      task: TASK,
      message: arg(Type.String({ minLength: 1, maxLength: 65_536 }), "one log line"),
      status: prop(TaskReport, "status"),
      outputs: prop(TaskReport, "outputs", "merged into the task's outputs"),
      logs: prop(TaskReport, "logs"),
    }),
    output: Task,
    run: (a, by, deps) => {
      const logs = [
        ...((a.logs as TaskReport["logs"]) ?? []),
        ...(a.message !== undefined ? [{ message: a.message as string }] : []),
      ];
      return deps.tasks.report(
        ref(a.task),
        {
          ...(a.status !== undefined ? { status: a.status as TaskStatus } : {}),
          ...(a.outputs !== undefined ? { outputs: a.outputs as Record<string, unknown> } : {}),
          ...(logs.length > 0 ? { logs } : {}),
        },
        by,
      );
    },
  },
  {
    name: "submit_for_review",
    description: "Move your task to pending_review with a summary (and PR URL, evidence) in its outputs.",
    access: "agent",
    mirrors: { method: "POST", url: "/api/tasks/{id}/report", args: TASK_ARG },
    inputSchema: args({
      task: TASK,
      summary: arg(Type.String({ minLength: 1, maxLength: 10_000 }), "what was done", true),
      pr_url: arg(Type.String({ minLength: 1, maxLength: 2_000 }), "pull request URL"),
      evidence: arg(TaskReport.properties.outputs, "e.g. test results"),
    }),
    output: Task,
    run: (a, by, deps) =>
      deps.tasks.report(
        ref(a.task),
        {
          status: TASK_STATUS.pending_review,
          outputs: {
            summary: a.summary,
            ...(a.pr_url !== undefined ? { pr_url: a.pr_url } : {}),
            ...(a.evidence !== undefined ? { evidence: a.evidence } : {}),
          },
          logs: [{ message: `Submitted for review: ${a.summary as string}` }],
        },
        by,
      ),
  },
  {
    name: "search_knowledge",
    description: "Search the knowledge base, best first.",
    access: "agent",
    mirrors: {
      method: "POST",
      url: "/api/knowledge/search",
      args: { query: ["body", "query"], limit: ["body", "limit"] },
    },
    inputSchema: args({ query: prop(SearchBody, "query", undefined, true), limit: prop(SearchBody, "limit") }),
    output: SearchHit,
    list: "array",
    run: (a, _by, deps) =>
      deps.knowledge.search({
        query: a.query as string,
        ...(a.limit !== undefined ? { limit: a.limit as number } : {}),
      }),
  },
  {
    name: "check_policy",
    description: 'Ask the policies about an action before taking it, e.g. {"action_type":"git_push","branch":"main"}.',
    access: "agent",
    mirrors: {
      method: "POST",
      url: "/api/policies/evaluate",
      args: { action: ["body", "action"], task: ["body", "task_id"] },
    },
    inputSchema: args({
      action: prop(EvaluateBody, "action", undefined, true),
      task: prop(EvaluateBody, "task_id", "task id or key"),
    }),
    output: PolicyDecisionView,
    run: (a, by, deps) =>
      deps.policies.evaluateRequest(
        {
          action: a.action as Record<string, unknown>,
          ...(a.task !== undefined ? { task_id: a.task as string | number } : {}),
        },
        by,
      ),
  },
  {
    name: "list_decisions",
    description: "Recent approvals and rejections of your tasks, with reviewers' comments, newest first.",
    access: "agent",
    mirrors: null,
    inputSchema: args({ task: arg(RefSchema, "only this task") }),
    output: null,
    list: "array",
    run: async (a, by, deps) => {
      // A named task must be one the caller may read (as GET /api/tasks/:id decides).
      const taskKey = a.task !== undefined ? (await deps.tasks.get(ref(a.task), by)).task_id : null;
      return listDecisions(deps.database.db, {
        agentKey: by.role === "agent" ? by.agentKey : null,
        taskKey,
        limit: 20,
      });
    },
  },
  {
    name: "list_missions",
    description: "Missions, oldest first.",
    access: "member",
    mirrors: { method: "GET", url: "/api/missions", args: { status: ["query", "status"], ...PAGE_ARGS } },
    inputSchema: args({ status: prop(MissionListQuery, "status"), ...PAGE }),
    output: Mission,
    list: "page",
    run: (a, _by, deps) => deps.missions.list({ status: a.status as never, ...page(a) }),
  },
  {
    name: "list_tasks",
    description: "Tasks, oldest first; filter by mission, status, agent.",
    access: "member",
    mirrors: {
      method: "GET",
      url: "/api/missions/{mission_id}/tasks",
      args: {
        mission: ["params", "mission_id"],
        status: ["query", "status"],
        agent: ["query", "agent_id"],
        ...PAGE_ARGS,
      },
    },
    inputSchema: args({
      mission: arg(RefSchema, "mission id or key"),
      status: prop(TaskListQuery, "status"),
      agent: prop(TaskListQuery, "agent_id", "agent id or key"),
      ...PAGE,
    }),
    output: TaskSummary,
    list: "page",
    run: (a, by, deps) => {
      const q = { status: a.status as TaskStatus | undefined, agent_id: a.agent as string | undefined, ...page(a) };
      return a.mission !== undefined ? deps.tasks.listForMission(ref(a.mission), q, by) : deps.tasks.list(q, by);
    },
  },
  {
    name: "create_task",
    description: "Create a pending task in a mission.",
    access: "member",
    mirrors: {
      method: "POST",
      url: "/api/missions/{mission_id}/tasks",
      args: {
        mission: ["params", "mission_id"],
        objective: ["body", "objective"],
        agent: ["body", "agent_id"],
        task_id: ["body", "task_id"],
        priority: ["body", "priority"],
        required_capabilities: ["body", "required_capabilities"],
        requirement_ids: ["body", "requirement_ids"],
      },
    },
    inputSchema: args({
      mission: arg(RefSchema, "mission id or key", true),
      objective: prop(TaskCreate, "objective", undefined, true),
      agent: prop(TaskCreate, "agent_id", "agent id or key"),
      task_id: prop(TaskCreate, "task_id", "key; generated when omitted"),
      priority: prop(TaskCreate, "priority"),
      required_capabilities: prop(TaskCreate, "required_capabilities"),
      requirement_ids: prop(TaskCreate, "requirement_ids"),
    }),
    output: Task,
    run: (a, by, deps) => {
      const { mission, agent, ...body } = a;
      return deps.tasks.create(
        ref(mission),
        { ...(body as TaskCreate), ...(agent !== undefined ? { agent_id: agent as TaskCreate["agent_id"] } : {}) },
        by,
      );
    },
  },
  {
    name: "assign_task",
    description: "Assign a task to an agent (null: unassign).",
    access: "member",
    mirrors: { method: "PATCH", url: "/api/tasks/{id}", args: { task: ["params", "id"], agent: ["body", "agent_id"] } },
    inputSchema: args({ task: TASK, agent: prop(TaskUpdate, "agent_id", "agent id or key", true) }),
    output: Task,
    run: (a, by, deps) => deps.tasks.update(ref(a.task), { agent_id: a.agent as TaskUpdate["agent_id"] }, by),
  },
  {
    name: "execute_task",
    description: "Dispatch a task to its agent; returns the dispatch (poll get_task).",
    access: "member",
    mirrors: { method: "POST", url: "/api/tasks/{id}/execute", args: TASK_ARG },
    inputSchema: args({ task: TASK }),
    output: Dispatch,
    run: (a, by, deps) => deps.dispatch.execute(ref(a.task), {}, by),
  },
  {
    name: "list_agents",
    description: "Agents with their live status.",
    access: "member",
    mirrors: {
      method: "GET",
      url: "/api/agents",
      args: { status: ["query", "status"], capability: ["query", "capability"], ...PAGE_ARGS },
    },
    inputSchema: args({
      status: prop(AgentListQuery, "status"),
      capability: prop(AgentListQuery, "capability"),
      ...PAGE,
    }),
    output: Agent,
    list: "page",
    run: (a, _by, deps) =>
      deps.agents.list({
        status: a.status as never,
        ...(a.capability !== undefined ? { capability: a.capability as string } : {}),
        ...page(a),
      }),
  },
  {
    name: "approve_task",
    description:
      "Approve a task in pending_review (completes it, merging its pull request first). If the merge takes long: approve still in_progress; call again for the outcome.",
    access: "member",
    mirrors: {
      method: "POST",
      url: "/api/tasks/{id}/approve",
      args: { task: ["params", "id"], comment: ["body", "comment"] },
    },
    inputSchema: args({ task: TASK, comment: prop(ReviewBody, "comment") }),
    output: Task,
    // Answers within a few seconds; a slow merge goes on and its outcome waits for the next call (mcp.approve.ts).
    run: async (a, by, deps) => {
      const task = await deps.tasks.get(ref(a.task), by);
      const input = a.comment !== undefined ? { comment: a.comment as string } : {};
      return approvalsFor(deps.tasks).approve(task.task_id, input, by);
    },
  },
  {
    name: "reject_task",
    description: "Reject a task in pending_review, saying why.",
    access: "member",
    mirrors: {
      method: "POST",
      url: "/api/tasks/{id}/reject",
      args: { task: ["params", "id"], comment: ["body", "comment"] },
    },
    inputSchema: args({ task: TASK, comment: prop(ReviewBody, "comment", undefined, true) }),
    output: Task,
    run: (a, by, deps) => deps.tasks.reject(ref(a.task), { comment: a.comment as string }, by),
  },
];

/** The tools a principal sees: an agent token the agent tools, a member or admin all of them. */
export function toolsFor(by: Principal): ToolDef[] {
  return TOOLS.filter((t) => t.access === "agent" || by.role !== "agent");
}
