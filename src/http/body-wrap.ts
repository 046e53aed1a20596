// Request bodies may come wrapped as in the reference (`{"mission": {...}}`, the route's `wrap` config) or
// bare: a body that is exactly `{<wrap>: {object}}` is unwrapped before validation. An absent body on a write
// is an empty object, so a missing required field is reported by name rather than as "body must be object"
// (and the OpenAPI document marks a body whose fields are all optional as not required).
import type { FastifyInstance } from "fastify";

export function registerBodyUnwrap(app: FastifyInstance): void {
  app.addHook("preValidation", async (req) => {
    if (req.method === "GET" || req.method === "DELETE") return;
    if (req.body === undefined || req.body === null) req.body = {};
    const wrap = req.routeOptions.config?.wrap;
    const b = req.body as Record<string, unknown>;
    if (wrap && typeof b === "object" && !Array.isArray(b)) {
      const keys = Object.keys(b);
      const inner = b[wrap];
      if (keys.length === 1 && keys[0] === wrap && inner && typeof inner === "object" && !Array.isArray(inner)) {
        req.body = inner;
      }
    }
  });
}
