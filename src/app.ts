// buildApp(deps) assembles the HTTP application: the contract machinery (parsing, auth, errors, request
// ids, OpenAPI) and each module's routes over its service. main.ts and every test build it the same way.
import { randomUUID } from "node:crypto";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { Config } from "./config.js";
import type { Database } from "./db/client.js";
import { registerAuth } from "./http/auth.js";
import { registerErrorHandling } from "./http/error-handler.js";
import { ServiceUnavailable } from "./http/errors.js";
import { healthRoutes } from "./http/health.routes.js";
import { registerJsonParser } from "./http/json.js";
import { validatorCompiler } from "./http/validation.js";
import { createMissionsService } from "./missions/missions.service.js";
import { missionsRoutes } from "./missions/missions.routes.js";
import type { MissionRuntime } from "./runtime/runtime.types.js";
import { createTokensService } from "./tokens/tokens.service.js";
import { tokensRoutes } from "./tokens/tokens.routes.js";
import { createTraceService } from "./trace/trace.query.js";
import { traceRoutes } from "./trace/trace.routes.js";

export interface AppDeps {
  config: Config;
  database: Database;
  logger?: FastifyBaseLogger | boolean | Record<string, unknown>;
  runtime?: MissionRuntime;
}

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

export async function buildApp(deps: AppDeps) {
  const { config, database } = deps;
  const loggerOpt = deps.logger ?? false;
  const app = Fastify({
    ...(typeof loggerOpt === "object" && "info" in loggerOpt
      ? { loggerInstance: loggerOpt as FastifyBaseLogger }
      : { logger: loggerOpt as boolean | Record<string, unknown> }),
    bodyLimit: config.bodyLimit,
    requestIdHeader: false,
    genReqId: (req) => {
      const h = req.headers["x-request-id"];
      return typeof h === "string" && REQUEST_ID_RE.test(h) ? h : randomUUID();
    },
    ajv: { customOptions: { removeAdditional: false } },
    routerOptions: { maxParamLength: 500 },
    forceCloseConnections: "idle",
    // Our own 503 below answers in the contract's error shape.
    return503OnClosing: false,
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  registerJsonParser(app);
  registerErrorHandling(app);

  // Shutting down: requests already running finish; new ones are refused cleanly rather than half-served.
  let closing = false;
  app.addHook("preClose", async () => {
    closing = true;
  });
  app.addHook("onRequest", async (req, reply) => {
    reply.header("x-request-id", req.id);
    if (closing) {
      reply.header("connection", "close");
      throw new ServiceUnavailable("Server is shutting down", 1);
    }
  });
  // Bodies may come wrapped as in the reference (`{"mission": {...}}`) or bare; an absent body on a write is
  // an empty object, so a missing required field is reported by name rather than as "body must be object".
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

  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Mission Control API",
        version: "0.1.0",
        description:
          "Control plane for teams that run AI coding agents. Conventions: JSON envelopes `{data}` / " +
          "`{data, meta}`, errors `{errors: {...}}`, integer id or key in every path parameter, cursor pagination.",
      },
      components: { securitySchemes: { bearerAuth: { type: "http", scheme: "bearer" } } },
      security: [{ bearerAuth: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });
  app.get("/openapi.json", { config: { access: "public" }, schema: { hide: true } }, async () => app.swagger());

  const tokens = createTokensService({ database, adminToken: config.adminToken });
  registerAuth(app, tokens);

  const trace = createTraceService({ database });
  const missions = createMissionsService({ database, runtime: deps.runtime });

  await app.register(healthRoutes, { database });
  await app.register(tokensRoutes, { tokens });
  await app.register(missionsRoutes, { missions });
  await app.register(traceRoutes, { trace });

  app.decorate("services", { tokens, trace, missions });
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
export type Services = { tokens: ReturnType<typeof createTokensService> };
export type { FastifyInstance };
