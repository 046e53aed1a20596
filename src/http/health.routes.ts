import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { Database } from "../db/client.js";
import { migrationsApplied } from "../db/migrate.js";

export const healthRoutes: FastifyPluginAsyncTypebox<{ database: Database }> = async (app, { database }) => {
  app.get(
    "/healthz",
    {
      config: { access: "public" },
      schema: {
        tags: ["health"],
        summary: "The process is up",
        operationId: "getHealth",
        security: [],
        response: { 200: Type.Object({ status: Type.Literal("ok") }) },
      },
    },
    async () => ({ status: "ok" as const }),
  );

  const Ready = Type.Object({
    status: Type.Union([Type.Literal("ready"), Type.Literal("unavailable")]),
    database: Type.Boolean(),
    migrations: Type.Boolean(),
  });
  app.get(
    "/readyz",
    {
      config: { access: "public" },
      schema: {
        tags: ["health"],
        summary: "The database answers and every migration is applied",
        operationId: "getReadiness",
        security: [],
        response: { 200: Ready, 503: Ready },
      },
    },
    async (_req, reply) => {
      let dbOk = false;
      try {
        await database.query("SELECT 1");
        dbOk = true;
      } catch {
        dbOk = false;
      }
      const migrations = dbOk && (await migrationsApplied(database));
      const ready = dbOk && migrations;
      reply.code(ready ? 200 : 503);
      return { status: ready ? ("ready" as const) : ("unavailable" as const), database: dbOk, migrations };
    },
  );
};
