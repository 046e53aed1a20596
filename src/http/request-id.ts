// Every request has an id that its log lines and its answer carry: the caller's own `x-request-id` when it
// is a plausible one, else a new UUID.
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { FastifyInstance } from "fastify";

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

/** Fastify's genReqId. */
export function requestId(req: IncomingMessage): string {
  const h = req.headers["x-request-id"];
  return typeof h === "string" && REQUEST_ID_RE.test(h) ? h : randomUUID();
}

/** Every answer says its request's id, errors included (the hook runs before anything can fail). */
export function registerRequestId(app: FastifyInstance): void {
  app.addHook("onRequest", async (req, reply) => {
    reply.header("x-request-id", req.id);
  });
}
