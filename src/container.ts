// The composition root: every service of the server process, built once in dependency order, and the
// background loops they run, as daemons for whoever runs the process (app.ts starts them when the server is
// ready and stops them in reverse when it closes). It only wires: what a module decides lives in the module.
// Invariants: a service is built after everything it is given; the one cycle (runtime ↔ missions, below) is
// closed before buildContainer returns; building starts no loop that a daemon does not also stop.
import type { AddressInfo } from "node:net";
import path from "node:path";
import type { FastifyBaseLogger } from "fastify";
import type { Config } from "./config.js";
import { daemon, type Daemon } from "./core/daemon.js";
import { statisticsLoop } from "./db/analyze.js";
import type { Database } from "./db/client.js";
import { createNotifier } from "./db/notify.js";
import { announceHeartbeats } from "./agents/agents.live.js";
import { createAgentsService } from "./agents/agents.service.js";
import { createMissionAgentsService } from "./agents/mission-agents.service.js";
import { createGithubService } from "./github/github.service.js";
import { createHooksService } from "./hooks/hooks.service.js";
import { captureApprovedTask } from "./knowledge/capture.js";
import { createKnowledgeService } from "./knowledge/knowledge.service.js";
import { createMissionsService, type MissionsService } from "./missions/missions.service.js";
import { createOkrsService } from "./okrs/okrs.service.js";
import { preToolUseDecider } from "./policies/hook-decider.js";
import { createPoliciesService } from "./policies/policies.service.js";
import { reportedActionsCheck } from "./policies/verdict.js";
import { createRequirementsService } from "./requirements/requirements.service.js";
import { createHousekeeping } from "./runtime/adapters/housekeeping.js";
import { Worktrees } from "./runtime/adapters/worktree.js";
import { createDispatchService } from "./runtime/dispatch.service.js";
import { listenUrl } from "./runtime/listen-url.js";
import { Runtime } from "./runtime/runtime.js";
import { createSprintsService } from "./sprints/sprints.service.js";
import { createTasksService } from "./tasks/tasks.service.js";
import { createTokensService } from "./tokens/tokens.service.js";
import { createEventBus } from "./trace/events.bus.js";
import { createTraceService } from "./trace/trace.service.js";
import { createTraceabilityService } from "./traceability/traceability.service.js";

export interface ContainerDeps {
  config: Config;
  database: Database;
  log: FastifyBaseLogger;
  /** Where the server listens once it does: runs reach the API there unless MC_PUBLIC_URL says otherwise. */
  listenAddress(): string | AddressInfo | null;
  /** Live event stream tuning (tests shorten the intervals). */
  eventStream?: { gapWaitMs?: number; idleStopMs?: number };
}

export type Container = ReturnType<typeof buildContainer>;
export type Services = Container["services"];

/** A reference that is set once, after the value it names is built: how a dependency cycle is closed. */
function lateBound<T>(name: string): { set(value: T): void; get(): T } {
  let value: T | undefined;
  return {
    set: (v) => void (value = v),
    get() {
      if (value === undefined) throw new Error(`${name} used before the container built it`);
      return value;
    },
  };
}

export function buildContainer(deps: ContainerDeps) {
  const { config, database, log } = deps;

  const tokens = createTokensService({ database, adminToken: config.adminToken });
  const trace = createTraceService({ database });
  // The process's one LISTEN connection, shared by the runtime, the live events and the GitHub comment worker.
  const notifier = createNotifier(database);
  const events = createEventBus({ database, notifier, log, ...deps.eventStream });
  // Coding agents get a git worktree per task under MC_DATA_DIR/worktrees.
  const worktrees = new Worktrees({ root: path.join(config.dataDir, "worktrees"), database, log });
  const policies = createPoliciesService({ database });

  // The one cycle: missions move the runtime's process trees (missions → runtime), and a run that cost
  // something asks missions to pause its mission if it went over budget (runtime → missions). No run starts
  // before the daemons do, so the late reference is always set when it is used.
  const budget = lateBound<Pick<MissionsService, "enforceBudget">>("missions");
  // The mission runtime of this process: supervised process trees for the missions it holds leases of.
  const runtime = new Runtime({
    database,
    notifier,
    tokens,
    log,
    leaseTtlS: config.leaseTtlS,
    apiUrl: () => config.publicUrl ?? listenUrl(deps.listenAddress(), config),
    worktrees,
    afterCost: async (missionId) => void (await budget.get().enforceBudget(missionId)),
  });
  const missions = createMissionsService({ database, runtime });
  budget.set(missions);

  const dispatch = createDispatchService({ database, policies });
  const agents = createAgentsService({
    database,
    staleAfterS: config.agentStaleAfterS,
    log: (err) => log.error({ err }, "writing coalesced heartbeats failed; they are retried"),
    onHeartbeat: announceHeartbeats(events),
    // A reset agent's escalated workers take work again, in whichever process runs them.
    onReset: (agentId) => runtime.agentReset(agentId),
  });
  const missionAgents = createMissionAgentsService({
    database,
    onMembershipChanged: (missionId) => runtime.membershipChanged(missionId),
  });
  const hooks = createHooksService({
    agents,
    publicUrl: config.publicUrl,
    deciders: { preToolUse: preToolUseDecider(database, policies) },
  });
  const housekeeping = createHousekeeping({ worktrees, enforceBudgets: () => missions.enforceBudgets(), log });
  const sprints = createSprintsService({ database });
  const github = createGithubService({ database, config: config.github, log, notifier });
  const knowledge = createKnowledgeService({ database, embeddings: config.embeddings, logger: log });
  const tasks = createTasksService({
    database,
    // The pull request is merged before an approved task completes.
    beforeComplete: [github.mergeStep],
    onApproved: [captureApprovedTask(knowledge)],
    checkReportedActions: reportedActionsCheck(policies),
    tokens,
  });
  const okrs = createOkrsService({ database });
  const requirements = createRequirementsService({ database });
  const traceability = createTraceabilityService({ database });

  // Started in this order, stopped in reverse: the notifier outlives everything that listens on it, and what
  // is held in memory (token uses, heartbeats) is written before whoever runs the process closes the database.
  const daemons: Daemon[] = [
    daemon("notifier", { stop: () => notifier.close() }),
    // Open live streams are ended as soon as the server begins to close; they would keep it waiting otherwise.
    daemon("events", { drain: () => events.close(), stop: () => events.close() }),
    daemon("runtime", { start: () => runtime.start(), stop: () => runtime.close() }),
    // Token uses noted in memory (its timer runs from creation) are flushed to last_used_at.
    daemon("tokens", { stop: () => tokens.close() }),
    // The staleness scan, and the heartbeat coalescer's last write.
    daemon("agents", { start: () => agents.start(), stop: () => agents.close() }),
    // Worktrees of finished tasks removed, missions over budget paused: a pass every few seconds.
    daemon("housekeeping", housekeeping),
    // The issue sync scheduler and the completion-comment worker.
    daemon("github", github),
    // Decides whether vector search is usable (warns when not) and runs the embedding worker.
    daemon("knowledge", knowledge),
    // Planner statistics where no autovacuum keeps them (PGlite; a PostgreSQL without it).
    daemon("statistics", statisticsLoop(database, log)),
  ];

  return {
    services: {
      tokens,
      trace,
      events,
      worktrees,
      policies,
      runtime,
      missions,
      dispatch,
      agents,
      missionAgents,
      hooks,
      housekeeping,
      sprints,
      github,
      knowledge,
      tasks,
      okrs,
      requirements,
      traceability,
    },
    daemons,
  };
}
