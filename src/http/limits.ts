// Overload protection and per-token rate limits. Invariants:
// - At most `maxInFlight` requests are being served at once. One more is answered at once with 503 and
//   `Retry-After`, before authentication, body parsing or any database work, so a flood beyond capacity is
//   refused cheaply instead of queueing without bound (in the database pool, in memory as parsed bodies).
// - Under sustained event-loop delay or heap use above their limits (@fastify/under-pressure, sampled every
//   second) requests are answered 503 with `Retry-After` too.
// - A token making more than `rateLimit` requests in a window of `rateLimitWindowS` is answered 429 with
//   `Retry-After` (the seconds until its window ends) for the rest of the window (@fastify/rate-limit, fixed
//   window, in this process's memory, at most RATE_KEYS tokens tracked). Counted after authentication, so
//   the key is the token (its id, never its secret), not a guess from the header; requests without a
//   token (public routes) are counted by client address.
// - `/healthz` and `/readyz` are never refused by these limits (a load balancer must see the process is
//   up), and a live event stream (`/api/events`) does not hold an in-flight slot for its whole life.
// - Every refusal is in the contract's error shape and changes nothing.
import rateLimit from "@fastify/rate-limit";
import underPressure from "@fastify/under-pressure";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { LimitsConfig } from "../config.js";
import { ServiceUnavailable, TooManyRequests } from "../core/errors.js";

/** Routes no limit refuses. */
const HEALTH = new Set(["/healthz", "/readyz"]);
/** Long-lived streams: rate-limited when opened, but not counted as in flight while open. */
const STREAMS = new Set(["/api/events"]);
/** Distinct rate-limit keys kept in memory (least recently used ones are forgotten). */
const RATE_KEYS = 10_000;
const RETRY_AFTER_BUSY_S = 1;
const RETRY_AFTER_PRESSURE_S = 5;

const routeOf = (req: FastifyRequest) => req.routeOptions.url ?? "";

export async function registerLimits(app: FastifyInstance, limits: LimitsConfig): Promise<void> {
  if (limits.maxInFlight > 0) {
    let inFlight = 0;
    app.addHook("onRequest", async (req, reply) => {
      const route = routeOf(req);
      if (HEALTH.has(route) || STREAMS.has(route)) return;
      if (inFlight >= limits.maxInFlight) {
        throw new ServiceUnavailable("The server is busy; retry later", RETRY_AFTER_BUSY_S);
      }
      inFlight++;
      const socket = req.raw.socket;
      let held = true;
      const release = () => {
        if (!held) return;
        held = false;
        inFlight--;
        socket?.off("close", release);
      };
      // A response emits `close` once, when it is done or the client went away. Except one that waits behind
      // an earlier response on the same connection (pipelined requests): it has no socket yet, and if the
      // client goes away meanwhile it never closes; its connection does.
      reply.raw.once("close", release);
      if (!reply.raw.socket) socket?.once("close", release);
    });
  }

  if (limits.maxEventLoopDelayMs > 0 || limits.maxHeapMb > 0) {
    await app.register(underPressure, {
      maxEventLoopDelay: limits.maxEventLoopDelayMs,
      maxHeapUsedBytes: limits.maxHeapMb * 1024 * 1024,
      sampleInterval: 1000,
      // A rejected promise becomes the request's error, answered by the one error handler.
      pressureHandler: async (req: FastifyRequest) => {
        if (HEALTH.has(routeOf(req))) return;
        throw new ServiceUnavailable("The server is overloaded; retry later", RETRY_AFTER_PRESSURE_S);
      },
    });
  }

  if (limits.rateLimit > 0) {
    await app.register(rateLimit, {
      max: limits.rateLimit,
      timeWindow: limits.rateLimitWindowS * 1000,
      cache: RATE_KEYS,
      // Route-level onRequest hooks run after the global ones, so the caller is authenticated by now.
      hook: "onRequest",
      allowList: (req) => HEALTH.has(routeOf(req)),
      keyGenerator: (req) => {
        const p = req.principal;
        if (p) return p.tokenId !== null ? `token:${p.tokenId}` : `actor:${p.actor}`;
        return `ip:${req.ip}`;
      },
      addHeadersOnExceeding: { "x-ratelimit-limit": false, "x-ratelimit-remaining": false, "x-ratelimit-reset": false },
      errorResponseBuilder: (_req, ctx) =>
        new TooManyRequests(
          `Rate limit exceeded: at most ${ctx.max} requests per ${limits.rateLimitWindowS} s for this token; retry later`,
          Math.max(1, Math.ceil(ctx.ttl / 1000)),
        ),
    });
  }
}
