// Bearer-token authentication and role checks, applied to every /api route from its `access` config.
// Services receive the resulting Principal and do the finer checks (an agent token touching only its own
// agent's work).
import type { FastifyInstance, FastifyRequest } from "fastify";
import { Forbidden, Unauthorized } from "../core/errors.js";
import type { Access, Principal, Role } from "../core/principal.js";

export type { Access, Principal, Role } from "../core/principal.js";
export { ROLES } from "../core/principal.js";

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
