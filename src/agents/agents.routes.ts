import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { Data, ListOf } from "../core/envelope.js";
import { IdParam } from "../core/ids.js";
import {
  ActivityReport,
  Agent,
  AgentCreate,
  AgentListQuery,
  AgentParam,
  AgentUpdate,
  MissionAgentAdd,
  MissionAgentListQuery,
  MissionAgentParams,
  MissionParam,
} from "./agents.schemas.js";
import type { AgentsService } from "./agents.service.js";
import type { MissionAgentsService } from "./mission-agents.service.js";

export const agentsRoutes: FastifyPluginAsyncTypebox<{
  agents: AgentsService;
  missionAgents: MissionAgentsService;
}> = async (app, { agents, missionAgents }) => {
  const tags = ["agents"];

  app.get(
    "/api/agents",
    {
      config: { access: "member" },
      schema: {
        tags,
        summary: "List agents",
        description:
          "Filters: `status` (as stored: the server itself makes an agent silent past the staleness window `offline`, " +
          "within a second, with an `agent.status_changed` entry), `adapter_module`, " +
          "`capability` (agents that have it).",
        querystring: AgentListQuery,
        response: { 200: ListOf(Agent) },
      },
    },
    async (req) => agents.list(req.query),
  );

  app.post(
    "/api/agents",
    {
      config: { access: "member", wrap: "agent" },
      schema: {
        tags,
        summary: "Create agent",
        description:
          'Body may be wrapped (`{"agent": {...}}`) or bare. `name` defaults to the key, `adapter_module` to `manual`. ' +
          "`status`, `current_task_id` and `last_seen_at` are set by activity reports only.",
        body: AgentCreate,
        response: { 201: Data(Agent) },
      },
    },
    async (req, reply) => {
      const data = await agents.create(req.body, req.principal);
      reply.code(201).header("location", `/api/agents/${data.agent_id}`);
      return { data };
    },
  );

  app.get(
    "/api/agents/:id",
    {
      config: { access: "agent" },
      schema: {
        tags,
        summary: "Get agent",
        description: "An agent token may read only its own agent.",
        params: IdParam,
        response: { 200: Data(Agent) },
      },
    },
    async (req) => ({ data: await agents.get(req.params.id, req.principal) }),
  );

  app.patch(
    "/api/agents/:id",
    {
      config: { access: "member", wrap: "agent" },
      schema: {
        tags,
        summary: "Update agent",
        description:
          'Changes only the fields named; `config` is replaced whole (a `"[REDACTED]"` value keeps the stored secret).',
        params: IdParam,
        body: AgentUpdate,
        response: { 200: Data(Agent) },
      },
    },
    async (req) => ({ data: await agents.update(req.params.id, req.body, req.principal) }),
  );

  app.post(
    "/api/agents/:agent_id/activity",
    {
      config: { access: "agent" },
      schema: {
        tags,
        summary: "Report agent activity",
        description:
          "Sets the agent's status from the event: session_start, task_complete, completed → idle; task_start → " +
          "working (current_task_id from context.task_id); blocked → blocked; waiting_for_input → waiting_for_input; " +
          "error → error; stop → offline; heartbeat keeps the stored status (an offline agent, stopped or made offline " +
          "for silence, becomes idle). task_complete, completed and stop clear current_task_id. Every event updates " +
          "last_seen_at; every event but heartbeat is traced (`agent.activity`), and every status change, a heartbeat's " +
          "revival included, writes one `agent.status_changed` {from, to, reason}. An `error` stays until the agent " +
          "reports another event, a new run of it starts, or a member resets it. " +
          "An unknown agent key registers the agent (201); known agents answer 200. " +
          "An agent token may report only its own agent's activity.",
        params: AgentParam,
        body: ActivityReport,
        response: { 200: Data(Agent), 201: Data(Agent) },
      },
    },
    async (req, reply) => {
      const { created, data } = await agents.activity(req.params.agent_id, req.body, req.principal);
      if (created) reply.code(201).header("location", `/api/agents/${data.agent_id}`);
      return { data };
    },
  );

  app.post(
    "/api/agents/:agent_id/reset",
    {
      config: { access: "member" },
      schema: {
        tags,
        summary: "Reset an agent's status",
        description:
          "A person clears the agent's state, above all an `error` that stays until then: the agent becomes `idle` " +
          "(`offline` if it was never heard from), its `current_task_id` is cleared, an escalated worker of it takes work " +
          "again, and the trace gets `agent.reset` (and `agent.status_changed` with reason `reset` when the status moved). " +
          "No body (or `{}`). 422 while a run of the runtime holds the agent. Members and admins only.",
        params: AgentParam,
        body: Type.Optional(Type.Object({}, { additionalProperties: false })),
        response: { 200: Data(Agent) },
      },
    },
    async (req) => ({ data: await agents.reset(req.params.agent_id, req.principal) }),
  );

  const mtags = ["mission agents"];

  app.get(
    "/api/missions/:mission_id/agents",
    {
      config: { access: "member" },
      schema: {
        tags: mtags,
        summary: "List agents on a mission",
        params: MissionParam,
        querystring: MissionAgentListQuery,
        response: { 200: ListOf(Agent) },
      },
    },
    async (req) => missionAgents.list(req.params.mission_id, req.query),
  );

  app.post(
    "/api/missions/:mission_id/agents",
    {
      config: { access: "member", wrap: "agent" },
      schema: {
        tags: mtags,
        summary: "Add agent to mission",
        description: "`agent_id` is the agent's integer id or key. An agent already on the mission is a 422.",
        params: MissionParam,
        body: MissionAgentAdd,
        response: { 201: Data(Agent) },
      },
    },
    async (req, reply) => {
      const { mission_id, data } = await missionAgents.add(req.params.mission_id, req.body, req.principal);
      reply.code(201).header("location", `/api/missions/${mission_id}/agents/${data.agent_id}`);
      return { data };
    },
  );

  app.get(
    "/api/missions/:mission_id/agents/:id",
    {
      config: { access: "member" },
      schema: {
        tags: mtags,
        summary: "Get an agent on a mission",
        description: "404 when the agent is not on the mission.",
        params: MissionAgentParams,
        response: { 200: Data(Agent) },
      },
    },
    async (req) => ({ data: await missionAgents.get(req.params.mission_id, req.params.id) }),
  );

  app.delete(
    "/api/missions/:mission_id/agents/:id",
    {
      config: { access: "member" },
      schema: {
        tags: mtags,
        summary: "Remove agent from mission",
        description: "404 when the agent was not on the mission.",
        params: MissionAgentParams,
        response: { 204: Type.Null() },
      },
    },
    async (req, reply) => {
      await missionAgents.remove(req.params.mission_id, req.params.id, req.principal);
      reply.code(204);
      return null;
    },
  );
};
