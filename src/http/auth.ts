// Bearer-token authentication and role checks, applied to every /api route from its `access` config.
// Services receive the resulting Principal and do the finer checks (an agent token touching only its own
// agent's work).
import type { FastifyInstance, FastifyRequest } from "fastify";
import { Forbidden, Unauthorized } from "./errors.js";

export type Role = "admin" | "member" | "agent";
export const ROLES: readonly Role[] = ["admin", "member", "agent"];

/**
 * Who may call a route: `public` (no token), `admin`, `member` (members and admins), `agent` (agents too;
 * the service then limits an agent to its own records).
 */
export type Access = "public" | "admin" | "member" | "agent";

export interface Principal {
  role: Role;
  tokenId: number | null;
  name: string | null;
  /** For agent tokens: the agent they are bound to. */
  agentId: number | null;
  agentKey: string | null;
  /** How the trace names this caller. */
  actor: string;
  /** For a run's token: the one task (integer id) it may act on while the run lasts. */
  runTaskId?: number | null;
}

export interface Authenticator {
  authenticate(secret: string): Promise<Principal | null>;
}

declare module "fastify" {
  interface FastifyRequest {
    principal: Principal;
  }
  interface FastifyContextConfig {
    access?: Access;
    /** Key a create/update body may be wrapped in, as in the reference (`{"mission": {...}}`). */
    wrap?: string;
  }
}

function allowed(access: Access, role: Role): boolean {
  switch (access) {
    case "public":
      return true;
    case "admin":
      return role === "admin";
    case "member":
      return role === "admin" || role === "member";
    case "agent":
      return true;
  }
}

export function bearerSecret(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (typeof h !== "string") return null;
  const m = /^Bearer +([^\s]+) *$/i.exec(h);
  return m ? m[1]! : null;
}

export function registerAuth(app: FastifyInstance, auth: Authenticator): void {
  app.decorateRequest("principal", null as unknown as Principal);
  app.addHook("onRequest", async (req) => {
    const access = req.routeOptions.config?.access ?? "member";
    // Routes outside /api (health, docs) are public; inside, only those that say so.
    if (access === "public" || !req.url.startsWith("/api")) return;
    if (req.is404) return;
    const secret = bearerSecret(req);
    if (!secret) throw new Unauthorized();
    const principal = await auth.authenticate(secret);
    if (!principal) throw new Unauthorized();
    req.principal = principal;
    if (!allowed(access, principal.role)) throw new Forbidden();
  });
}

/** For services: an agent principal may only act for its own agent. */
export function assertAgentIs(p: Principal, agentId: number | null): void {
  if (p.role === "agent" && (agentId === null || p.agentId !== agentId)) throw new Forbidden();
}
