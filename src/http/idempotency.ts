// Idempotency-Key for every authenticated POST route, so a client (an agent retrying a report after a
// network error) can repeat a request without it being applied twice.
//
// Invariants:
// - Keys are scoped per token: two tokens may use the same key without seeing each other's responses.
// - A key is claimed (row inserted, no response yet) before the handler runs, by one atomic upsert, so of
//   two requests racing with the same key exactly one runs the handler.
// - Within 24 h of the claim, a repeat with the same method, URL and canonical JSON body gets the stored
//   response (with `Idempotent-Replayed: true`) and the handler does not run; a repeat with a different
//   request is 422 and changes nothing; a repeat while the first is still running is 409 with Retry-After
//   (retry later, you will then get the stored response).
// - Responses below 500 (successes and the caller's own errors) are stored; a 5xx releases the key, so a
//   retry does the work for real. A claim whose request never finished (the process died) is taken over
//   after IN_FLIGHT_TIMEOUT_MS.
// - Requests that fail authentication or validation never reach the claim: they changed nothing.
//
// The stored response is written after the handler's transaction has committed, so a process that dies in
// that short window leaves a claim without a response; after the in-flight timeout a retry runs again.
import { hash } from "node:crypto";
import { and, eq, inArray, lt, sql } from "drizzle-orm";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Database } from "../db/client.js";
import { idempotencyKeys } from "../db/schema/index.js";
import { AppError, Invalid } from "../core/errors.js";
import { canonicalJson } from "../core/canonical-json.js";

export const IDEMPOTENCY_HEADER = "idempotency-key";
export const REPLAYED_HEADER = "idempotent-replayed";
const KEY_RE = /^[\x21-\x7E](?:[\x20-\x7E]{0,253}[\x21-\x7E])?$/;
const TTL_S = 24 * 3600;
const PURGE_EVERY_MS = 10 * 60_000;
const PURGE_BATCH = 1000;
/** Headers a replay repeats; everything else (request id, dates) belongs to the new response. */
const KEPT_HEADERS = ["content-type", "location"] as const;

export interface IdempotencyOptions {
  /** How long a claim without a response blocks its key before a retry may take it over. */
  inFlightTimeoutMs?: number;
}

/** 409: the first request with this key is still being processed. */
export class IdempotencyInFlight extends AppError {
  readonly status = 409;
  constructor() {
    super("A request with this Idempotency-Key is still being processed; retry later");
  }
  body() {
    return { errors: { detail: this.message } };
  }
  override headers() {
    return { "retry-after": "1" };
  }
}

const HEADER_SCHEMA = {
  type: "string",
  minLength: 1,
  maxLength: 255,
  pattern: KEY_RE.source,
  description:
    "Optional. Repeating this request with the same key and body within 24 h returns the first response " +
    "(marked `Idempotent-Replayed: true`) without doing the work again. The same key with a different " +
    "request is 422; while the first request is still being processed, 409 with `Retry-After`. Keys are " +
    "scoped to the token; responses of 500 and above are not kept.",
};

function fingerprintOf(req: FastifyRequest): string {
  return hash("sha256", `${req.method} ${req.url}\n${canonicalJson(req.body ?? null)}`, "hex");
}

function scopeOf(req: FastifyRequest): string | null {
  const p = req.principal;
  if (!p) return null;
  return p.tokenId !== null ? `token:${p.tokenId}` : `actor:${p.actor}`;
}

export function registerIdempotency(app: FastifyInstance, database: Database, opts: IdempotencyOptions = {}) {
  const { db } = database;
  const inFlightTimeoutS = Math.max(1, Math.round((opts.inFlightTimeoutMs ?? 5 * 60_000) / 1000));
  /** Claims this process holds, by request: released or completed in onSend. */
  const claims = new WeakMap<FastifyRequest, number>();
  let lastPurge = 0;

  // Every authenticated POST route declares the header, so it is validated and documented like any other
  // input (routes are registered after this runs).
  app.addHook("onRoute", (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (!methods.includes("POST") || route.config?.access === "public" || !route.url.startsWith("/api")) return;
    const schema = (route.schema ?? {}) as Record<string, any>;
    const headers = (schema.headers ?? { type: "object" }) as Record<string, any>;
    route.schema = {
      ...schema,
      headers: { ...headers, properties: { ...(headers.properties ?? {}), [IDEMPOTENCY_HEADER]: HEADER_SCHEMA } },
    };
  });

  async function purge() {
    const now = Date.now();
    if (now - lastPurge < PURGE_EVERY_MS) return;
    lastPurge = now;
    const old = db
      .select({ id: idempotencyKeys.id })
      .from(idempotencyKeys)
      .where(lt(idempotencyKeys.insertedAt, sql`now() - make_interval(secs => ${TTL_S})`))
      .limit(PURGE_BATCH);
    await db.delete(idempotencyKeys).where(inArray(idempotencyKeys.id, old));
  }

  /** Our claim's id, or the row that holds the key. */
  async function claim(scope: string, key: string, fingerprint: string) {
    for (let attempt = 0; attempt < 3; attempt++) {
      // Take over a key whose 24 h are over, or whose first request was abandoned mid-flight.
      const won = await db
        .insert(idempotencyKeys)
        .values({ scope, key, fingerprint })
        .onConflictDoUpdate({
          target: [idempotencyKeys.scope, idempotencyKeys.key],
          set: { fingerprint, statusCode: null, responseBody: null, responseHeaders: null, insertedAt: sql`now()` },
          setWhere: sql`${idempotencyKeys.insertedAt} < now() - make_interval(secs => ${TTL_S}) OR (${idempotencyKeys.statusCode} IS NULL AND ${idempotencyKeys.insertedAt} < now() - make_interval(secs => ${inFlightTimeoutS}))`,
        })
        .returning({ id: idempotencyKeys.id });
      if (won[0]) return { kind: "claimed", id: won[0].id } as const;
      const held = await db
        .select()
        .from(idempotencyKeys)
        .where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, key)))
        .limit(1);
      // Gone between the two statements (its request ended in a 5xx): try to claim it again.
      if (held[0]) return { kind: "held", row: held[0] } as const;
    }
    throw new IdempotencyInFlight();
  }

  app.addHook("preHandler", async (req: FastifyRequest, reply: FastifyReply) => {
    if (req.method !== "POST") return;
    const raw = req.headers[IDEMPOTENCY_HEADER];
    if (raw === undefined) return;
    const scope = scopeOf(req);
    if (scope === null) return; // public routes (signed webhooks) have their own replay protection
    if (typeof raw !== "string" || !KEY_RE.test(raw)) {
      throw Invalid.field(IDEMPOTENCY_HEADER, "must be 1–255 printable ASCII characters");
    }
    await purge();
    const fingerprint = fingerprintOf(req);
    const r = await claim(scope, raw, fingerprint);
    if (r.kind === "claimed") {
      claims.set(req, r.id);
      return;
    }
    const held = r.row;
    if (held.fingerprint !== fingerprint) {
      throw Invalid.field(IDEMPOTENCY_HEADER, "was already used for a different request");
    }
    if (held.statusCode === null) throw new IdempotencyInFlight();
    reply.code(held.statusCode);
    for (const [k, v] of Object.entries(held.responseHeaders ?? {})) reply.header(k, v);
    reply.header(REPLAYED_HEADER, "true");
    await reply.send(held.responseBody ?? undefined);
    return reply;
  });

  app.addHook("onSend", async (req, reply, payload) => {
    const id = claims.get(req);
    if (id === undefined) return payload;
    claims.delete(req);
    const body =
      typeof payload === "string"
        ? payload
        : Buffer.isBuffer(payload)
          ? payload.toString("utf8")
          : payload == null
            ? ""
            : null;
    try {
      if (reply.statusCode >= 500 || body === null) {
        await db.delete(idempotencyKeys).where(eq(idempotencyKeys.id, id));
      } else {
        const headers: Record<string, string> = {};
        for (const h of KEPT_HEADERS) {
          const v = reply.getHeader(h);
          if (v !== undefined) headers[h] = String(v);
        }
        await db
          .update(idempotencyKeys)
          .set({ statusCode: reply.statusCode, responseBody: body, responseHeaders: headers })
          .where(eq(idempotencyKeys.id, id));
      }
    } catch (err) {
      // The response itself is fine; the key stays claimed until the in-flight timeout lets a retry through.
      req.log.error({ err, reqId: req.id }, "could not record the idempotent response");
    }
    return payload;
  });
}
