import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Data, ListOf } from "../core/envelope.js";
import { IdParam } from "../core/ids.js";
import { Mission, MissionCreate, MissionListQuery, MissionUpdate } from "./missions.schemas.js";
import type { MissionsService } from "./missions.service.js";

export const missionsRoutes: FastifyPluginAsyncTypebox<{ missions: MissionsService }> = async (app, { missions }) => {
  const tags = ["missions"];

  app.get(
    "/api/missions",
    {
      config: { access: "member" },
      schema: { tags, summary: "List missions", querystring: MissionListQuery, response: { 200: ListOf(Mission) } },
    },
    async (req) => missions.list(req.query),
  );

  app.post(
    "/api/missions",
    {
      config: { access: "member", wrap: "mission" },
      schema: {
        tags,
        summary: "Create mission",
        description: 'Body may be wrapped (`{"mission": {...}}`) or bare. Only `planning` may be given as status.',
        body: MissionCreate,
        response: { 201: Data(Mission) },
      },
    },
    async (req, reply) => {
      const data = await missions.create(req.body, req.principal);
      reply.code(201).header("location", `/api/missions/${data.mission_id}`);
      return { data };
    },
  );

  app.get(
    "/api/missions/:id",
    {
      config: { access: "agent" },
      schema: { tags, summary: "Get mission", params: IdParam, response: { 200: Data(Mission) } },
    },
    async (req) => ({ data: await missions.get(req.params.id, req.principal) }),
  );

  app.patch(
    "/api/missions/:id",
    {
      config: { access: "member", wrap: "mission" },
      schema: {
        tags,
        summary: "Update mission",
        description: "Changes only the fields named. A status change obeys the mission state machine.",
        params: IdParam,
        body: MissionUpdate,
        response: { 200: Data(Mission) },
      },
    },
    async (req) => ({ data: await missions.update(req.params.id, req.body, req.principal) }),
  );

  app.post(
    "/api/missions/:id/start",
    {
      config: { access: "member" },
      schema: {
        tags,
        summary: "Start mission",
        description: "Starts the process tree for a mission: `planning` or `paused` → `active`.",
        params: IdParam,
        response: { 200: Data(Mission) },
      },
    },
    async (req) => ({ data: await missions.start(req.params.id, req.principal) }),
  );

  app.post(
    "/api/missions/:id/pause",
    {
      config: { access: "member" },
      schema: {
        tags,
        summary: "Pause mission",
        description: "Stops the process tree for a mission: `active` → `paused`.",
        params: IdParam,
        response: { 200: Data(Mission) },
      },
    },
    async (req) => ({ data: await missions.pause(req.params.id, req.principal) }),
  );
};
