import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Data, ListOf, PolicyErrorBody } from "../core/envelope.js";
import { IdParam } from "../core/ids.js";
import { Dispatch, DispatchListQuery, ExecuteBody } from "./dispatch.schemas.js";

import type { DispatchService } from "./dispatch.service.js";
import { isAwaitingApproval } from "./dispatch.state.js";

export const runtimeRoutes: FastifyPluginAsyncTypebox<{ dispatch: DispatchService }> = async (app, { dispatch }) => {
  app.post(
    "/api/tasks/:id/execute",
    {
      config: { access: "member" },
      schema: {
        tags: ["tasks"],
        summary: "Execute task",
        description:
          "Dispatches a task to its assigned agent (or, with none assigned, to the least busy agent on the mission " +
          "whose capabilities cover `required_capabilities`). Allowed from pending, blocked and rejected, on an " +
          "active mission. Executing a failed task retries it: in the same request it moves back to pending " +
          "(a `task.status_changed` entry with `via: execute`) and is dispatched (`task.dispatched`). " +
          "202 with the durable dispatch; the task moves to in_progress when its agent starts it. " +
          "Guardrails are asked first: `block` is 403 with the policy error; `require_approval` parks the dispatch " +
          '(status `awaiting_approval`) until a member calls execute again with `{"approve_policy": "<decision_id>"}`.',
        params: IdParam,
        body: ExecuteBody,
        response: { 202: Data(Dispatch), 403: PolicyErrorBody },
      },
    },
    async (req, reply) => {
      const d = await dispatch.execute(req.params.id, req.body, req.principal);
      req.log.info(
        { task_id: d.task_id, agent_id: d.agent_id, mission_id: d.mission_id, dispatch_id: d.id, status: d.status },
        isAwaitingApproval(d.status) ? "task dispatch awaits a policy approval" : "task dispatched",
      );
      reply.code(202);
      return { data: d };
    },
  );

  app.get(
    "/api/dispatches",
    {
      config: { access: "member" },
      schema: {
        tags: ["tasks"],
        summary: "List dispatches",
        description:
          "Dispatches oldest first, each as `GET /api/dispatches/:id` shows it; `status=awaiting_approval` lists " +
          "the ones a `require_approval` guardrail parked (with the decision in `policy`), whatever their age.",
        querystring: DispatchListQuery,
        response: { 200: ListOf(Dispatch) },
      },
    },
    async (req) => dispatch.list(req.query),
  );

  app.get(
    "/api/dispatches/:id",
    {
      config: { access: "member" },
      schema: { tags: ["tasks"], summary: "Get a dispatch", params: IdParam, response: { 200: Data(Dispatch) } },
    },
    async (req) => ({ data: await dispatch.get(req.params.id) }),
  );
};
