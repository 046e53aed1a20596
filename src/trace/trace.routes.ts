import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { ListOf } from "../http/envelope.js";
import { MissionTraceQuery, TraceEntry, TraceQuery } from "./trace.schemas.js";
import type { TraceService } from "./trace.query.js";

export const traceRoutes: FastifyPluginAsyncTypebox<{ trace: TraceService }> = async (app, { trace }) => {
  const tags = ["trace"];
  app.get(
    "/api/trace",
    {
      config: { access: "member" },
      schema: {
        tags,
        summary: "List trace logs",
        description: "Oldest first. Filters: mission_id, task_id, agent_id (id or key), event, since, until.",
        querystring: TraceQuery,
        response: { 200: ListOf(TraceEntry) },
      },
    },
    async (req) => trace.list(req.query),
  );

  app.get(
    "/api/missions/:mission_id/trace",
    {
      config: { access: "member" },
      schema: {
        tags,
        summary: "Get mission trace",
        params: Type.Object({ mission_id: Type.String() }),
        querystring: MissionTraceQuery,
        response: { 200: ListOf(TraceEntry) },
      },
    },
    async (req) => trace.listForMission(req.params.mission_id, req.query),
  );
};
