// DELETE on a mission, an agent or a task is 405 with an `Allow` header, in the contract's error shape.
// They are never deleted: the trace names them for good (its entries store their keys, and replay and
// verification rebuild them), so removing one would leave entries that point at nothing. A mission ends by
// moving to completed, failed or cancelled; a task by failing or completing; an agent that should do no more
// work is taken off its missions (DELETE /api/missions/:mission_id/agents/:id). Kept out of the OpenAPI
// document, as the /mcp 405s are: they are not operations, only a clear answer to a natural guess.
import type { FastifyPluginAsync } from "fastify";

export const NOT_DELETABLE = [
  { url: "/api/missions/:id", allow: "GET, PATCH", how: "move it to completed, failed or cancelled with PATCH" },
  {
    url: "/api/agents/:id",
    allow: "GET, PATCH",
    how: "take it off its missions with DELETE /api/missions/:mission_id/agents/:id",
  },
  { url: "/api/tasks/:id", allow: "GET, PATCH", how: "move it to failed with PATCH" },
] as const;

export const methodNotAllowedRoutes: FastifyPluginAsync = async (app) => {
  for (const r of NOT_DELETABLE) {
    app.delete(r.url, { config: { access: "agent" }, schema: { hide: true } }, async (_req, reply) => {
      reply.code(405).header("allow", r.allow);
      return { errors: { detail: `Method Not Allowed: records the trace names are never deleted; ${r.how}` } };
    });
  }
};
