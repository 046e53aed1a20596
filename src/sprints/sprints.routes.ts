import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Data, ListOf } from "../core/envelope.js";
import { IdParam } from "../core/ids.js";
import { Sprint, SprintCreate, SprintListQuery, SprintUpdate } from "./sprints.schemas.js";
import type { SprintsService } from "./sprints.service.js";

export const sprintsRoutes: FastifyPluginAsyncTypebox<{ sprints: SprintsService }> = async (app, { sprints }) => {
  const tags = ["sprints"];

  app.get(
    "/api/sprints",
    {
      config: { access: "member" },
      schema: {
        tags,
        summary: "List sprints",
        description: "Oldest first; filter `status`. Each sprint carries `task_counts`, its tasks by status.",
        querystring: SprintListQuery,
        response: { 200: ListOf(Sprint) },
      },
    },
    async (req) => sprints.list(req.query),
  );

  app.post(
    "/api/sprints",
    {
      config: { access: "member", wrap: "sprint" },
      schema: {
        tags,
        summary: "Create sprint",
        description:
          'Body may be wrapped (`{"sprint": {...}}`) or bare. Dates are real calendar dates (YYYY-MM-DD); ' +
          "`end_date` may not be before `start_date`. Only `planned` may be given as status.",
        body: SprintCreate,
        response: { 201: Data(Sprint) },
      },
    },
    async (req, reply) => {
      const data = await sprints.create(req.body, req.principal);
      reply.code(201).header("location", `/api/sprints/${data.sprint_id}`);
      return { data };
    },
  );

  app.get(
    "/api/sprints/:id",
    {
      config: { access: "member" },
      schema: { tags, summary: "Get sprint", params: IdParam, response: { 200: Data(Sprint) } },
    },
    async (req) => ({ data: await sprints.get(req.params.id) }),
  );

  app.patch(
    "/api/sprints/:id",
    {
      config: { access: "member", wrap: "sprint" },
      schema: {
        tags,
        summary: "Update sprint",
        description:
          "Changes only the fields named. The dates are checked together with the stored ones (end not before " +
          "start). Status moves: planned → active or closed, active → closed, closed → active.",
        params: IdParam,
        body: SprintUpdate,
        response: { 200: Data(Sprint) },
      },
    },
    async (req) => ({ data: await sprints.update(req.params.id, req.body, req.principal) }),
  );
};
