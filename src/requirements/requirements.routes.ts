import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { Data, ListOf } from "../core/envelope.js";
import { IdParam } from "../core/ids.js";
import { Requirement, RequirementCreate, RequirementListQuery, RequirementUpdate } from "./requirements.schemas.js";
import type { RequirementsService } from "./requirements.service.js";

export const requirementsRoutes: FastifyPluginAsyncTypebox<{ requirements: RequirementsService }> = async (
  app,
  { requirements },
) => {
  const tags = ["requirements"];

  app.get(
    "/api/requirements",
    {
      config: { access: "member" },
      schema: {
        tags,
        summary: "List requirements",
        description:
          "Oldest first. Filters: priority, horizon, status, objective_id and kr_id (integer id or key; an unknown " +
          "one matches nothing).",
        querystring: RequirementListQuery,
        response: { 200: ListOf(Requirement) },
      },
    },
    async (req) => requirements.list(req.query),
  );

  app.post(
    "/api/requirements",
    {
      config: { access: "member", wrap: "requirement" },
      schema: {
        tags,
        summary: "Create requirement",
        description: 'Body may be wrapped (`{"requirement": {...}}`) or bare.',
        body: RequirementCreate,
        response: { 201: Data(Requirement) },
      },
    },
    async (req, reply) => {
      const data = await requirements.create(req.body, req.principal);
      reply.code(201).header("location", `/api/requirements/${data.requirement_id}`);
      return { data };
    },
  );

  app.get(
    "/api/requirements/:id",
    {
      config: { access: "member" },
      schema: { tags, summary: "Get requirement", params: IdParam, response: { 200: Data(Requirement) } },
    },
    async (req) => ({ data: await requirements.get(req.params.id) }),
  );

  app.patch(
    "/api/requirements/:id",
    {
      config: { access: "member", wrap: "requirement" },
      schema: {
        tags,
        summary: "Update requirement",
        description:
          "Changes only the fields named. Moving a requirement to another objective needs a matching kr_id (or " +
          "kr_id null) in the same request.",
        params: IdParam,
        body: RequirementUpdate,
        response: { 200: Data(Requirement) },
      },
    },
    async (req) => ({ data: await requirements.update(req.params.id, req.body, req.principal) }),
  );

  app.delete(
    "/api/requirements/:id",
    {
      config: { access: "member" },
      schema: {
        tags,
        summary: "Delete requirement",
        description:
          "Refused (422, `tasks`) while tasks serve it: remove it from their requirement_ids first. Tasks are " +
          "never unlinked behind their owners' back.",
        params: IdParam,
        response: { 204: Type.Null() },
      },
    },
    async (req, reply) => {
      await requirements.remove(req.params.id, req.principal);
      reply.code(204);
      return null;
    },
  );
};
