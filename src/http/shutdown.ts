// Shutting down: requests already running finish; new ones are refused cleanly (503 with Retry-After, and the
// connection closed) rather than half-served. Fastify's own 503 is off (return503OnClosing: false) since it
// does not answer in the contract's error shape.
import type { FastifyInstance } from "fastify";
import { ServiceUnavailable } from "../core/errors.js";

export function registerShutdownGuard(app: FastifyInstance): void {
  let closing = false;
  app.addHook("preClose", async () => {
    closing = true;
  });
  app.addHook("onRequest", async (_req, reply) => {
    if (closing) {
      reply.header("connection", "close");
      throw new ServiceUnavailable("Server is shutting down", 1);
    }
  });
  // A request already running when the close began gets its answer, and then its connection is closed: kept
  // alive, the server would wait for the client to hang up (Fastify's keepAliveTimeout, 72 s) before exiting.
  app.addHook("onSend", async (_req, reply, payload) => {
    if (closing) reply.header("connection", "close");
    return payload;
  });
}
