// MCP over Streamable HTTP at POST /mcp: stateless (a server and transport per request, no session) with
// JSON answers, authenticated by the usual bearer tokens. GET (the server-to-client stream) and DELETE (ending
// a session) have no meaning without sessions: 405. Kept out of the OpenAPI document: it is not a REST route.
import type { FastifyPluginAsync } from "fastify";
import { bearerSecret, type Authenticator } from "../http/auth.js";
import { Unauthorized } from "../core/errors.js";
import { approvalsFor } from "./mcp.approve.js";
import type { McpDeps } from "./mcp.tools.js";

export interface McpRouteDeps extends McpDeps {
  tokens: Authenticator;
}

/**
 * The MCP SDK and the tools' server (with zod, ~0.3 s of CPU to load) come with the first MCP call instead of
 * at start-up: most processes never answer one, and every start (a restart, a test's server) paid for it.
 */
let sdk: Promise<{
  createMcpServer: typeof import("./mcp.server.js").createMcpServer;
  StreamableHTTPServerTransport: typeof import("@modelcontextprotocol/sdk/server/streamableHttp.js").StreamableHTTPServerTransport;
}> | null = null;
function loadSdk() {
  sdk ??= Promise.all([import("./mcp.server.js"), import("@modelcontextprotocol/sdk/server/streamableHttp.js")]).then(
    ([server, http]) => ({
      createMcpServer: server.createMcpServer,
      StreamableHTTPServerTransport: http.StreamableHTTPServerTransport,
    }),
  );
  sdk.catch(() => (sdk = null));
  return sdk;
}

export const mcpRoutes: FastifyPluginAsync<McpRouteDeps> = async (app, deps) => {
  // An approve_task that outlived its call still runs (a slow merge): closing waits for it to write its outcome.
  app.addHook("onClose", async () => approvalsFor(deps.tasks).settled());
  const notAllowed = { config: { access: "public" as const }, schema: { hide: true } };
  for (const method of ["GET", "DELETE"] as const) {
    app.route({
      method,
      url: "/mcp",
      ...notAllowed,
      handler: async (_req, reply) => {
        reply.code(405).header("allow", "POST");
        return { errors: { detail: "Method Not Allowed: MCP here is stateless, use POST" } };
      },
    });
  }

  app.post("/mcp", { config: { access: "public" }, schema: { hide: true } }, async (req, reply) => {
    const secret = bearerSecret(req);
    const principal = secret ? await deps.tokens.authenticate(secret) : null;
    if (!principal) throw new Unauthorized();
    req.principal = principal;
    // Any MCP call with an agent token says the agent is alive, as its heartbeat would. Bookkeeping: when it
    // fails (logged), the call itself still goes through.
    if (principal.role === "agent" && principal.agentKey !== null) {
      await deps.agents
        .activity(principal.agentKey, { event: "heartbeat" }, principal)
        .catch((err: unknown) => req.log.error({ err, reqId: req.id }, "MCP heartbeat failed"));
    }
    const { createMcpServer, StreamableHTTPServerTransport } = await loadSdk();
    const server = createMcpServer(principal, deps, req.log);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    reply.hijack();
    reply.raw.setHeader("x-request-id", req.id);
    reply.raw.on("close", () => {
      void transport.close();
      void server.close();
    });
    try {
      await server.connect(transport);
      await transport.handleRequest(req.raw, reply.raw, req.body);
    } catch (err) {
      req.log.error({ err, reqId: req.id }, "MCP request failed");
      if (!reply.raw.headersSent) {
        reply.raw.writeHead(500, { "content-type": "application/json; charset=utf-8" });
        reply.raw.end(JSON.stringify({ errors: { detail: "Internal Server Error" } }));
      }
    }
  });
};
