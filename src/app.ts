// buildApp(deps) assembles the HTTP application: the contract machinery (src/http/: parsing, ids, limits,
// auth, errors, OpenAPI), each module's routes over the services of the container (src/container.ts), and the
// container's daemons, started once the server is ready and stopped in reverse when it closes. main.ts and
// every test build it the same way.
import Fastify, { type FastifyBaseLogger, type FastifyServerOptions } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { Config } from "./config.js";
import { buildContainer, type Services } from "./container.js";
import { drainDaemons, startDaemons, stopDaemons } from "./core/daemon.js";
import type { Database } from "./db/client.js";
import { requestLogController, requestLoggerFactory } from "./logger.js";
import { registerAuth } from "./http/auth.js";
import { registerBodyUnwrap } from "./http/body-wrap.js";
import { clientErrorHandler, frameworkErrorHandler, registerErrorHandling } from "./http/error-handler.js";
import { healthRoutes } from "./http/health.routes.js";
import { registerIdempotency } from "./http/idempotency.js";
import { registerJsonParser, registerTextGuard } from "./http/json.js";
import { registerLimits } from "./http/limits.js";
import { methodNotAllowedRoutes } from "./http/method-not-allowed.js";
import { registerOpenApi } from "./http/openapi.js";
import { registerRequestId, requestId } from "./http/request-id.js";
import { registerShutdownGuard } from "./http/shutdown.js";
import { validatorCompiler } from "./http/validation.js";
import { agentsRoutes } from "./agents/agents.routes.js";
import { consoleRoutes } from "./console/console.routes.js";
import { githubRoutes } from "./github/github.routes.js";
import { hooksRoutes } from "./hooks/hooks.routes.js";
import { knowledgeRoutes } from "./knowledge/knowledge.routes.js";
import { mcpRoutes } from "./mcp/mcp.routes.js";
import { missionsRoutes } from "./missions/missions.routes.js";
import { okrsRoutes } from "./okrs/okrs.routes.js";
import { policiesRoutes } from "./policies/policies.routes.js";
import { requirementsRoutes } from "./requirements/requirements.routes.js";
import { runtimeRoutes } from "./runtime/runtime.routes.js";
import { sprintsRoutes } from "./sprints/sprints.routes.js";
import { tasksRoutes } from "./tasks/tasks.routes.js";
import { tokensRoutes } from "./tokens/tokens.routes.js";
import { eventsRoutes } from "./trace/events.routes.js";
import { traceRoutes } from "./trace/trace.routes.js";
import { traceabilityRoutes } from "./traceability/traceability.routes.js";

export interface AppDeps {
  config: Config;
  database: Database;
  /** A logger instance (main.ts), Fastify's logger options, or false (the default: no logging). */
  logger?: FastifyBaseLogger | boolean | Record<string, unknown>;
  /** Live event stream (GET /api/events) tuning; tests shorten the intervals. */
  eventStream?: { keepAliveMs?: number; gapWaitMs?: number; idleStopMs?: number };
  /** How long a close waits for requests in flight before cutting their connections (default 10 s). */
  shutdownGraceMs?: number;
}

declare module "fastify" {
  interface FastifyInstance {
    /** The container's services: what tests and scripts reach the running server's state through. */
    services: Services;
  }
}

function loggerOptions(logger: AppDeps["logger"] = false): FastifyServerOptions {
  if (typeof logger === "object" && "info" in logger) {
    return {
      loggerInstance: logger as FastifyBaseLogger,
      childLoggerFactory: requestLoggerFactory,
      logController: requestLogController(),
    };
  }
  return { logger };
}

export async function buildApp(deps: AppDeps) {
  const { config, database } = deps;
  const app = Fastify({
    ...loggerOptions(deps.logger),
    bodyLimit: config.bodyLimit,
    requestIdHeader: false,
    genReqId: requestId,
    ajv: { customOptions: { removeAdditional: false } },
    routerOptions: { maxParamLength: 500 },
    // A malformed URL escape or an over-long path parameter fails before routing: same error shape as any.
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
    forceCloseConnections: "idle",
    // The shutdown guard's 503 answers in the contract's error shape.
    return503OnClosing: false,
  }).withTypeProvider<TypeBoxTypeProvider>();
  const { services, daemons } = buildContainer({
    config,
    database,
    log: app.log,
    listenAddress: () => app.server.address(),
    eventStream: deps.eventStream,
  });
  const { tokens, missions, tasks, agents, dispatch, knowledge, policies, requirements } = services;

  app.setValidatorCompiler(validatorCompiler);
  registerJsonParser(app);
  registerTextGuard(app);
  registerErrorHandling(app);
  registerRequestId(app);
  registerShutdownGuard(app, { graceMs: deps.shutdownGraceMs });
  // Overload (503) and per-token rate limits (429): before any route is registered, so every route has them.
  await registerLimits(app, config.limits);
  registerBodyUnwrap(app);
  await registerOpenApi(app);
  registerAuth(app, tokens);
  // Before any route is registered: it adds the Idempotency-Key header to every authenticated POST route.
  registerIdempotency(app, database);

  await app.register(healthRoutes, { database });
  await app.register(tokensRoutes, { tokens });
  await app.register(missionsRoutes, { missions });
  await app.register(tasksRoutes, { tasks });
  await app.register(runtimeRoutes, { dispatch });
  await app.register(traceRoutes, { trace: services.trace });
  await app.register(eventsRoutes, {
    trace: services.trace,
    events: services.events,
    keepAliveMs: deps.eventStream?.keepAliveMs,
  });
  await app.register(agentsRoutes, { agents, missionAgents: services.missionAgents });
  await app.register(hooksRoutes, { hooks: services.hooks });
  await app.register(sprintsRoutes, { sprints: services.sprints });
  await app.register(okrsRoutes, { okrs: services.okrs });
  await app.register(requirementsRoutes, { requirements });
  await app.register(traceabilityRoutes, { traceability: services.traceability });
  await app.register(policiesRoutes, { policies });
  await app.register(knowledgeRoutes, { knowledge, bodyLimit: config.bodyLimit });
  await app.register(githubRoutes, { github: services.github, bodyLimit: config.bodyLimit });
  await app.register(consoleRoutes, { dir: config.consoleDir });
  // MCP for agents (POST /mcp): the same services as the routes above, as the token's principal.
  const mcp = { database, tokens, tasks, missions, agents, dispatch, knowledge, policies, requirements };
  await app.register(mcpRoutes, mcp);
  await app.register(methodNotAllowedRoutes);

  // Daemons start in order once every route is in place, let go of open streams as the server begins to
  // close, and stop in reverse once the requests in flight have finished.
  app.addHook("onReady", async () => startDaemons(daemons));
  app.addHook("preClose", async () => drainDaemons(daemons));
  app.addHook("onClose", async () => stopDaemons(daemons));
  app.decorate("services", services);
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
