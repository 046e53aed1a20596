import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { Data, ListOf } from "../core/envelope.js";
import { IdParam } from "../core/ids.js";
import {
  KeyResult,
  KeyResultCreate,
  KeyResultListQuery,
  KeyResultUpdate,
  Objective,
  ObjectiveCreate,
  ObjectiveListQuery,
  ObjectiveParam,
  ObjectiveUpdate,
} from "./okrs.schemas.js";
import type { OkrsService } from "./okrs.service.js";

export const okrsRoutes: FastifyPluginAsyncTypebox<{ okrs: OkrsService }> = async (app, { okrs }) => {
  const tags = ["objectives"];

  app.get(
    "/api/objectives",
    {
      config: { access: "member" },
      schema: {
        tags,
        summary: "List objectives",
        description: "Oldest first, each with its key results, progress and health. Filter: status.",
        querystring: ObjectiveListQuery,
        response: { 200: ListOf(Objective) },
      },
    },
    async (req) => okrs.list(req.query),
  );

  app.post(
    "/api/objectives",
    {
      config: { access: "member", wrap: "objective" },
      schema: {
        tags,
        summary: "Create objective",
        description:
          'Body may be wrapped (`{"objective": {...}}`) or bare. `end_date` may not be before `start_date`; ' +
          "`health` may be given only when the objective does not have both dates.",
        body: ObjectiveCreate,
        response: { 201: Data(Objective) },
      },
    },
    async (req, reply) => {
      const data = await okrs.create(req.body, req.principal);
      reply.code(201).header("location", `/api/objectives/${data.objective_id}`);
      return { data };
    },
  );

  app.get(
    "/api/objectives/:id",
    {
      config: { access: "member" },
      schema: { tags, summary: "Get objective", params: IdParam, response: { 200: Data(Objective) } },
    },
    async (req) => ({ data: await okrs.get(req.params.id) }),
  );

  app.patch(
    "/api/objectives/:id",
    {
      config: { access: "member", wrap: "objective" },
      schema: {
        tags,
        summary: "Update objective",
        description:
          "Changes only the fields named. Setting both dates makes health derived (a hand-set value is cleared).",
        params: IdParam,
        body: ObjectiveUpdate,
        response: { 200: Data(Objective) },
      },
    },
    async (req) => ({ data: await okrs.update(req.params.id, req.body, req.principal) }),
  );

  app.delete(
    "/api/objectives/:id",
    {
      config: { access: "member" },
      schema: {
        tags,
        summary: "Delete objective",
        description:
          "Deletes the objective and its key results. Refused (422, `requirements`) while requirements point at it.",
        params: IdParam,
        response: { 204: Type.Null() },
      },
    },
    async (req, reply) => {
      await okrs.remove(req.params.id, req.principal);
      reply.code(204);
      return null;
    },
  );

  app.get(
    "/api/objectives/:objective_id/key_results",
    {
      config: { access: "member" },
      schema: {
        tags,
        summary: "List key results",
        description: "The objective's key results, oldest first.",
        params: ObjectiveParam,
        querystring: KeyResultListQuery,
        response: { 200: ListOf(KeyResult) },
      },
    },
    async (req) => okrs.listKeyResults(req.params.objective_id, req.query),
  );

  app.post(
    "/api/objectives/:objective_id/key_results",
    {
      config: { access: "member", wrap: "key_result" },
      schema: {
        tags,
        summary: "Create key result",
        description:
          'Body may be wrapped (`{"key_result": {...}}`) or bare. Give `target` (and `current`) for a computed ' +
          "progress, or `progress` directly when there is no target; both together is 422.",
        params: ObjectiveParam,
        body: KeyResultCreate,
        response: { 201: Data(KeyResult) },
      },
    },
    async (req, reply) => {
      const data = await okrs.createKeyResult(req.params.objective_id, req.body, req.principal);
      reply.code(201).header("location", `/api/key_results/${data.kr_id}`);
      return { data };
    },
  );

  const krTags = ["key results"];

  app.get(
    "/api/key_results/:id",
    {
      config: { access: "member" },
      schema: { tags: krTags, summary: "Get key result", params: IdParam, response: { 200: Data(KeyResult) } },
    },
    async (req) => ({ data: await okrs.getKeyResult(req.params.id) }),
  );

  app.patch(
    "/api/key_results/:id",
    {
      config: { access: "member", wrap: "key_result" },
      schema: {
        tags: krTags,
        summary: "Update key result",
        description:
          "Changes only the fields named. Setting a target clears a directly set progress; `progress` is 422 " +
          "while the key result has a target. A key result cannot move to another objective.",
        params: IdParam,
        body: KeyResultUpdate,
        response: { 200: Data(KeyResult) },
      },
    },
    async (req) => ({ data: await okrs.updateKeyResult(req.params.id, req.body, req.principal) }),
  );

  app.delete(
    "/api/key_results/:id",
    {
      config: { access: "member" },
      schema: {
        tags: krTags,
        summary: "Delete key result",
        description: "Refused (422, `requirements`) while requirements point at it.",
        params: IdParam,
        response: { 204: Type.Null() },
      },
    },
    async (req, reply) => {
      await okrs.removeKeyResult(req.params.id, req.principal);
      reply.code(204);
      return null;
    },
  );
};
