// buildApp(deps) assembles the HTTP application: the contract machinery (parsing, auth, errors, request
// ids, OpenAPI) and each module's routes over its service. main.ts and every test build it the same way.
import { randomUUID } from "node:crypto";
import path from "node:path";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { Config } from "./config.js";
import type { Database } from "./db/client.js";
import { registerAuth } from "./http/auth.js";
import { clientErrorHandler, frameworkErrorHandler, registerErrorHandling } from "./http/error-handler.js";
import { ServiceUnavailable } from "./core/errors.js";
import { healthRoutes } from "./http/health.routes.js";
import { registerIdempotency } from "./http/idempotency.js";
import { registerJsonParser, registerTextGuard } from "./http/json.js";
import { registerLimits } from "./http/limits.js";
import { validatorCompiler } from "./http/validation.js";
import { transformDocument, transformRoute } from "./http/openapi.js";
import { createAgentsService } from "./agents/agents.service.js";
import { agentsRoutes } from "./agents/agents.routes.js";
import { createMissionAgentsService } from "./agents/mission-agents.service.js";
import { createMissionsService } from "./missions/missions.service.js";
import { missionsRoutes } from "./missions/missions.routes.js";
import { createTasksService } from "./tasks/tasks.service.js";
import { tasksRoutes } from "./tasks/tasks.routes.js";
import { createNotifier } from "./db/notify.js";
import { createDispatchService } from "./runtime/dispatch.service.js";
import { listenUrl } from "./runtime/listen-url.js";
import { Runtime } from "./runtime/runtime.js";
import { runtimeRoutes } from "./runtime/runtime.routes.js";
import { createHousekeeping } from "./runtime/adapters/housekeeping.js";
import { Worktrees } from "./runtime/adapters/worktree.js";
import { createHooksService } from "./hooks/hooks.service.js";
import { preToolUseDecider } from "./policies/hook-decider.js";
import { captureApprovedTask } from "./knowledge/capture.js";
import { hooksRoutes } from "./hooks/hooks.routes.js";
import { createSprintsService } from "./sprints/sprints.service.js";
import { sprintsRoutes } from "./sprints/sprints.routes.js";
import { createOkrsService } from "./okrs/okrs.service.js";
import { okrsRoutes } from "./okrs/okrs.routes.js";
import { createRequirementsService } from "./requirements/requirements.service.js";
import { requirementsRoutes } from "./requirements/requirements.routes.js";
import { createTraceabilityService } from "./traceability/traceability.service.js";
import { traceabilityRoutes } from "./traceability/traceability.routes.js";
import { createTokensService } from "./tokens/tokens.service.js";
import { tokensRoutes } from "./tokens/tokens.routes.js";
import { createTraceService } from "./trace/trace.query.js";
import { createPoliciesService } from "./policies/policies.service.js";
import { policiesRoutes } from "./policies/policies.routes.js";
import { traceRoutes } from "./trace/trace.routes.js";
import { createEventBus } from "./trace/events.bus.js";
import { eventsRoutes } from "./trace/events.routes.js";
import { createKnowledgeService } from "./knowledge/knowledge.service.js";
import { knowledgeRoutes } from "./knowledge/knowledge.routes.js";
import { createGithubService } from "./github/github.service.js";
import { githubRoutes } from "./github/github.routes.js";
import { consoleRoutes } from "./console/console.routes.js";
import { mcpRoutes } from "./mcp/mcp.routes.js";
import { methodNotAllowedRoutes } from "./http/method-not-allowed.js";

export interface AppDeps {
  config: Config;
  database: Database;
  logger?: FastifyBaseLogger | boolean | Record<string, unknown>;
  /** Live event stream (GET /api/events) tuning; tests shorten the intervals. */
  eventStream?: { keepAliveMs?: number; gapWaitMs?: number; idleStopMs?: number };
}

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

/** Tag descriptions in the OpenAPI document. */
const OPENAPI_TAGS: Record<string, string> = {
  health: "Liveness and readiness (public, never rate-limited)",
  tokens: "API tokens (admin)",
  missions: "Missions: a goal, its process tree, its budget",
  tasks: "Tasks: work for agents, reported on and reviewed",
  trace: "The hash-chained audit trail, its verification and export, live events",
  agents: "Agents and their activity",
  "mission agents": "Which agents work on a mission",
  hooks: "Agent CLI hooks (Claude Code)",
  sprints: "Sprints",
  objectives: "Objectives",
  "key results": "Key results of objectives, with their progress",
  requirements: "Requirements",
  traceability: "The requirement-to-task traceability matrix",
  policies: "Guardrail policies and their evaluation",
  knowledge: "Knowledge documents and search",
  github: "GitHub issue sync, issue-to-task and the webhook",
};

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
    // A malformed URL escape or an over-long path parameter fails before routing: same error shape as any.
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
    forceCloseConnections: "idle",
    // Our own 503 below answers in the contract's error shape.
    return503OnClosing: false,
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  registerJsonParser(app);
  registerTextGuard(app);
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
  // Overload (503) and per-token rate limits (429): before any route is registered, so every route has them.
  await registerLimits(app, config.limits);
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

  // The document's finishing passes (standard errors and headers, operationIds, named schemas): src/http/openapi.ts.
  await app.register(swagger, {
    transform: transformRoute,
    transformObject: (d) =>
      transformDocument((d as { openapiObject: Record<string, unknown> }).openapiObject, {
        tags: OPENAPI_TAGS,
      }) as never,
    openapi: {
      openapi: "3.1.0",
      servers: [{ url: "/", description: "The server that serves this document" }],
      info: {
        title: "Mission Control API",
        version: "0.1.0",
        license: { name: "Proprietary: all rights reserved", identifier: "LicenseRef-Proprietary" },
        description:
          "Control plane for teams that run AI coding agents. Conventions: JSON envelopes `{data}` / " +
          "`{data, meta}`, errors `{errors: {...}}`, integer id or key in every path parameter, cursor pagination. " +
          "Any request may be answered 503 (the server is busy or overloaded) or 429 (this token's rate limit), both " +
          "with `Retry-After` in seconds, and having changed nothing. Free-form JSON objects in a request (`metadata`, " +
          "`outputs`, `config`, `context`, policy `actions`) are at most 64 KiB as JSON (`x-max-json-bytes`); larger is 422.",
      },
      components: { securitySchemes: { bearerAuth: { type: "http", scheme: "bearer" } } },
      security: [{ bearerAuth: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });
  app.get("/openapi.json", { config: { access: "public" }, schema: { hide: true } }, async () => app.swagger());

  const tokens = createTokensService({ database, adminToken: config.adminToken });
  registerAuth(app, tokens);
  // Before any route is registered: it adds the Idempotency-Key header to every authenticated POST route.
  registerIdempotency(app, database);

  const trace = createTraceService({ database });
  // The mission runtime of this process: supervised process trees for the missions it holds leases of.
  const notifier = createNotifier(database);
  // Live events (SSE): ended before the server closes, since open streams would otherwise keep it waiting.
  const events = createEventBus({ database, notifier, log: app.log, ...deps.eventStream });
  app.addHook("preClose", async () => events.close());
  // Coding agents get a git worktree per task under MC_DATA_DIR/worktrees.
  const worktrees = new Worktrees({ root: path.join(config.dataDir, "worktrees"), database, log: app.log });
  const runtime = new Runtime({
    database,
    notifier,
    tokens,
    log: app.log,
    leaseTtlS: config.leaseTtlS,
    apiUrl: () => config.publicUrl ?? listenUrl(app.server.address(), config),
    worktrees,
    // After a run that cost something: pause the mission if it went over budget.
    afterCost: async (missionId) => void (await missions.enforceBudget(missionId)),
  });
  app.addHook("onReady", async () => runtime.start());
  app.addHook("onClose", async () => {
    await runtime.close();
    await notifier.close();
  });
  const policies = createPoliciesService({ database });
  const dispatch = createDispatchService({ database, policies });
  const missions = createMissionsService({ database, runtime });
  const agents = createAgentsService({
    database,
    staleAfterS: config.agentStaleAfterS,
    log: (err) => app.log.error({ err }, "writing coalesced heartbeats failed; they are retried"),
    onHeartbeat: (agentKey, at) => void events.publishEphemeral({ event: "agent.heartbeat", agent_id: agentKey, at }),
    // A reset agent's escalated workers take work again, in whichever process runs them.
    onReset: (agentId) => runtime.agentReset(agentId),
  });
  // The staleness daemon (agents.staleness.ts) runs from onReady; it is stopped by agents.close.
  app.addHook("onReady", async () => agents.start());
  // Token uses noted in memory are written to last_used_at before the database is closed.
  app.addHook("onClose", async () => tokens.close());
  // Heartbeats still in memory are written before the database is closed.
  app.addHook("onClose", async () => agents.close());
  const hooks = createHooksService({
    agents,
    publicUrl: config.publicUrl,
    deciders: { preToolUse: preToolUseDecider(database, policies) },
  });
  // Worktrees of finished tasks removed, missions over budget paused: a pass every few seconds.
  const housekeeping = createHousekeeping({ worktrees, enforceBudgets: () => missions.enforceBudgets(), log: app.log });
  app.addHook("onReady", async () => housekeeping.start());
  app.addHook("onClose", async () => housekeeping.stop());
  const missionAgents = createMissionAgentsService({
    database,
    onMembershipChanged: (missionId) => runtime.membershipChanged(missionId),
  });
  const sprints = createSprintsService({ database });
  // GitHub: the sync scheduler and the completion-comment worker run from onReady to onClose; the merge
  // step runs inside approve, before a task completes.
  const github = createGithubService({ database, config: config.github, log: app.log, notifier });
  app.addHook("onReady", async () => github.start());
  app.addHook("onClose", async () => github.stop());
  // Knowledge: start() decides whether vector search is usable (warns when not) and starts the embedding worker.
  const knowledge = createKnowledgeService({ database, embeddings: config.embeddings, logger: app.log });
  app.addHook("onReady", async () => knowledge.start());
  app.addHook("onClose", async () => knowledge.stop());
  const tasks = createTasksService({
    database,
    beforeComplete: [github.mergeStep],
    // Approved work of a mission with metadata.capture_knowledge becomes a searchable document.
    onApproved: [captureApprovedTask(knowledge)],
    // Guardrails on what agents report they did: a blocked action blocks the task.
    checkReportedActions: async (tx, { actions, task, actor }) => {
      const verdict = await policies.evaluateAll(
        tx,
        { actions, missionKey: task.missionKey, agentKey: task.agentKey, taskKey: task.taskId, source: "report" },
        actor,
      );
      return {
        blocked: verdict.decision === "block",
        messages: verdict.messages,
        decisionId: verdict.deciding?.decision_id ?? null,
      };
    },
  });
  const okrs = createOkrsService({ database });
  const requirements = createRequirementsService({ database });
  const traceability = createTraceabilityService({ database });

  await app.register(healthRoutes, { database });
  await app.register(tokensRoutes, { tokens });
  await app.register(missionsRoutes, { missions });
  await app.register(tasksRoutes, { tasks });
  await app.register(runtimeRoutes, { dispatch });
  await app.register(traceRoutes, { trace });
  await app.register(eventsRoutes, { trace, events, keepAliveMs: deps.eventStream?.keepAliveMs });
  await app.register(agentsRoutes, { agents, missionAgents });
  await app.register(hooksRoutes, { hooks });
  await app.register(sprintsRoutes, { sprints });
  await app.register(okrsRoutes, { okrs });
  await app.register(requirementsRoutes, { requirements });
  await app.register(traceabilityRoutes, { traceability });
  await app.register(policiesRoutes, { policies });
  await app.register(knowledgeRoutes, { knowledge, bodyLimit: config.bodyLimit });
  await app.register(githubRoutes, { github, bodyLimit: config.bodyLimit });
  await app.register(consoleRoutes, { dir: config.consoleDir });
  // MCP for agents (POST /mcp): the same services as the routes above, as the token's principal.
  await app.register(mcpRoutes, {
    database,
    tokens,
    tasks,
    missions,
    agents,
    dispatch,
    knowledge,
    policies,
    requirements,
  });
  await app.register(methodNotAllowedRoutes);

  app.decorate("services", {
    runtime,
    dispatch,
    tokens,
    trace,
    events,
    missions,
    tasks,
    agents,
    missionAgents,
    sprints,
    knowledge,
    policies,
    hooks,
    worktrees,
    housekeeping,
  });
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
export type Services = { tokens: ReturnType<typeof createTokensService> };
export type { FastifyInstance };
