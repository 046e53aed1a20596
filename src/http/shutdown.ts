// Shutting down: requests already running finish; new ones are refused cleanly (503 with Retry-After, and the
// connection closed) rather than half-served. Fastify's own 503 is off (return503OnClosing: false) since it
// does not answer in the contract's error shape. Invariant: a close always ends. Node's server.close() waits
// for every connection with a request in progress, and one that never completes (a client that stalls halfway
// through sending its body, a peer that vanished without a FIN) would hold the process forever; after the grace
// period every connection still open is cut.
import type { FastifyInstance } from "fastify";
import { ServiceUnavailable } from "../core/errors.js";

/** How long requests in flight at the start of a close may take before their connections are cut. */
export const SHUTDOWN_GRACE_MS = 10_000;

export function registerShutdownGuard(app: FastifyInstance, opts: { graceMs?: number } = {}): void {
  const graceMs = opts.graceMs ?? SHUTDOWN_GRACE_MS;
  let closing = false;
  let grace: NodeJS.Timeout | undefined;
  app.addHook("preClose", async () => {
    closing = true;
    if (!app.server.listening) return;
    grace = setTimeout(() => {
      app.server.getConnections((_err, open) => {
        if (open > 0) {
          app.log.warn(
            { connections: open, grace_ms: graceMs },
            "requests still in flight after the grace period; cutting their connections",
          );
        }
        app.server.closeAllConnections();
      });
    }, graceMs).unref();
  });
  app.addHook("onClose", async () => {
    clearTimeout(grace);
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
