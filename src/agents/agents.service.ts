// Agents and their activity. Invariants:
// - `status`, `current_task_id` and `last_seen_at` are written by activity reports (through the EVENT_STATUS
//   mapping of agents.state.ts), the runtime's runs, the staleness daemon (agents.staleness.ts) and `reset`,
//   always through agents.status.ts, so every change has its `agent.status_changed` entry; create and update
//   reject them. What a reader sees is what is stored: nothing is derived on read but the wording of
//   `status_reason`.
// - `error` stays until the agent reports again (any event but a heartbeat), a new run of it starts, or a
//   person resets it.
// - `config` is stored whole but leaves the server only through `redactConfig` (responses and trace entries).
// - Every change but a heartbeat writes one trace entry in the transaction that makes it. A heartbeat to a
//   known agent is never traced, not even when it revives an offline agent; it is coalesced in memory and
//   written in batches at least twice a second (heartbeats.ts), and agent reads settle pending heartbeats
//   first, so a read never shows an older last_seen_at than a heartbeat already answered.
// - An agent token acts only on its own agent: it reads it and reports its activity, nothing else, and so
//   never registers another agent.
import { isDeepStrictEqual } from "node:util";
import type { Database, Executor } from "../db/client.js";
import { isUniqueViolation } from "../db/lookup.js";
import type { Principal } from "../core/principal.js";
import { Forbidden, Invalid, NotFound } from "../core/errors.js";
import { generateKey, parseRef, type Ref } from "../core/ids.js";
import { pageOf, toPage } from "../core/pagination.js";
import { findTaskKey } from "../trace/trace.lookup.js";
import { appendTrace } from "../trace/trace.append.js";
import * as repo from "./agents.repo.js";
import { heartbeatsFor } from "./heartbeats.js";
import { createStaleness } from "./agents.staleness.js";
import type { ActivityReport, AgentCreate, AgentListQuery, AgentUpdate } from "./agents.schemas.js";
import { redactConfig, restoreRedacted } from "./agents.secrets.js";
import { agentConfigWarnings, binaryProblem, checkAgentConfig } from "../runtime/agent-config.js";
import { statusReasonOf, traceStatusChange, changeStatus } from "./agents.status.js";
import {
  AGENT,
  CAUSE,
  currentTaskEffect,
  EVENT_STATUS,
  HEARTBEAT_STATUS,
  isOffline,
  isWorking,
  resetStatus,
  type AgentEvent,
} from "./agents.state.js";
import { isAgentRole } from "../tokens/tokens.state.js";

export interface AgentsDeps {
  database: Database;
  /** Where a failed heartbeat flush is reported (it is retried with the next one). */
  log?: (err: unknown) => void;
  /** Seconds of silence after which the staleness daemon makes an agent offline (config.agentStaleAfterS). */
  staleAfterS: number;
  /**
   * Heartbeats are not stored in the trace, but live-stream clients see them (`agent.heartbeat`), at most one
   * per agent a second.
   */
  onHeartbeat?: (agentKey: string, at: Date) => void;
  /** Called after a reset has committed: the runtime lets an escalated worker of the agent take work again. */
  onReset?: (agentId: number) => Promise<void>;
}

/** The API shape of an agent: its stored status, explained (agents.status.ts), and its live run if any. */
export function agentToApi(a: repo.AgentView) {
  const reason = statusReasonOf(a);
  // A CLI binary this server cannot run is said in the status too, unless the reason already says it (the
  // failed run of a dispatch to it).
  const problem = isWorking(a.status) ? null : binaryProblem(a.adapterModule, a.config);
  return {
    id: a.id,
    agent_id: a.agentId,
    name: a.name,
    adapter_module: a.adapterModule,
    capabilities: a.capabilities,
    config: redactConfig(a.config),
    warnings: agentConfigWarnings(a.adapterModule, a.config),
    status: a.status,
    status_reason: problem === null || reason.includes(problem) ? reason : `${reason}; ${problem}`,
    status_since: a.statusSince,
    current_task_id: a.currentTaskId,
    last_seen_at: a.lastSeenAt,
    last_event: a.lastEvent === null ? null : { event: a.lastEvent, at: a.lastEventAt },
    run:
      a.run === null
        ? null
        : {
            task_id: a.run.task_id,
            pid: a.run.pid,
            started_at: a.run.started_at === null ? null : new Date(a.run.started_at),
            last_output_at: a.run.last_output_at === null ? null : new Date(a.run.last_output_at),
            attempt: a.run.attempt,
          },
    inserted_at: a.insertedAt,
    updated_at: a.updatedAt,
  };
}
export type AgentApi = ReturnType<typeof agentToApi>;

const READ_ONLY = ["status", "current_task_id", "last_seen_at"] as const;

function rejectReadOnly(input: Partial<Record<(typeof READ_ONLY)[number], unknown>>): void {
  const errors: Record<string, string[]> = {};
  for (const f of READ_ONLY) if (input[f] !== undefined) errors[f] = ["is read-only; it is set by activity reports"];
  if (Object.keys(errors).length > 0) throw new Invalid(errors);
}

/** An agent token may name only its own agent, by id or by key. */
function assertOwnAgent(by: Principal, ref: Ref | null): void {
  if (!isAgentRole(by.role)) return;
  const own = typeof ref === "number" ? ref === by.agentId : ref !== null && ref === by.agentKey;
  if (!own) throw new Forbidden();
}

const dedupe = (xs: string[]) => [...new Set(xs)];

const clipText = (v: unknown, max = 300) => {
  const x = typeof v === "string" ? v : v === undefined || v === null ? "" : JSON.stringify(v);
  return x.length > max ? `${x.slice(0, max)}…` : x;
};

/** What an event's status change is put down to, in a sentence a person understands. */
function explainEvent(
  event: Exclude<AgentEvent, "heartbeat">,
  context: Record<string, unknown>,
  taskKey: string | null,
) {
  if (context.via === "claude_code_hook" && typeof context.hook_event_name === "string") {
    return { cause: CAUSE.hook, reason: `${clipText(context.hook_event_name, 100)} from Claude Code` };
  }
  const why = context.reason ?? context.message ?? context.description;
  const on = taskKey === null ? "" : ` (${taskKey})`;
  return {
    cause: CAUSE.activity,
    reason: `${event} reported${on}${why === undefined ? "" : `: ${clipText(why)}`}`,
  };
}

export type AgentsService = ReturnType<typeof createAgentsService>;

/** A live-stream `agent.heartbeat` says "still alive": more than one a second per agent says nothing more. */
const HEARTBEAT_EVENT_EVERY_MS = 1_000;

export function createAgentsService({ database, staleAfterS, log, onHeartbeat, onReset }: AgentsDeps) {
  const { db } = database;
  const heartbeats = heartbeatsFor(database, log);
  const staleness = createStaleness({ database, staleAfterS, heartbeats, log });
  /** When each agent's last `agent.heartbeat` went to the live stream: at most one a second per agent. */
  const announced = new Map<string, number>();
  function announceHeartbeat(agentKey: string) {
    if (!onHeartbeat) return;
    const now = Date.now();
    if (now - (announced.get(agentKey) ?? 0) < HEARTBEAT_EVENT_EVERY_MS) return;
    if (announced.size >= 100_000) announced.clear();
    announced.set(agentKey, now);
    onHeartbeat(agentKey, new Date(now));
  }

  async function load(exec: Executor, idRaw: string | number, opts: { lock?: boolean } = {}) {
    const ref = parseRef(idRaw);
    const a = ref === null ? undefined : await repo.findAgentView(exec, ref, opts);
    if (!a) throw new NotFound();
    return a;
  }

  async function create(input: AgentCreate, by: Principal) {
    rejectReadOnly(input);
    const agentId = input.agent_id ?? generateKey("agent");
    await checkAgentConfig(input.adapter_module ?? "manual", input.config ?? {});
    try {
      const row = await db.transaction(async (tx) => {
        const a = await repo.insertAgent(tx, {
          agentId,
          name: input.name === undefined ? agentId : input.name,
          adapterModule: input.adapter_module ?? "manual",
          capabilities: dedupe(input.capabilities ?? []),
          config: input.config ?? {},
        });
        if (!a) throw Invalid.field("agent_id", "has already been taken");
        await appendTrace(tx, {
          event: "agent.created",
          actor: by.actor,
          agentId: a.agentId,
          data: { name: a.name, adapter_module: a.adapterModule, capabilities: a.capabilities },
        });
        return a;
      });
      // A new agent has never reported: it reads offline until it does.
      return agentToApi({ ...row, run: null });
    } catch (err) {
      if (isUniqueViolation(err)) throw Invalid.field("agent_id", "has already been taken");
      throw err;
    }
  }

  async function get(idRaw: string, by: Principal) {
    // Checked before the lookup, so an agent token cannot probe which other agents exist.
    assertOwnAgent(by, parseRef(idRaw));
    await heartbeats.settle();
    const a = await load(db, idRaw);
    return agentToApi(a);
  }

  async function list(q: AgentListQuery) {
    const page = pageOf(q);
    await heartbeats.settle();
    const rows = await repo.listAgents(
      db,
      { status: q.status, adapterModule: q.adapter_module, capability: q.capability },
      page,
    );
    return toPage(rows, page, (r) => agentToApi(r));
  }

  async function update(idRaw: string, input: AgentUpdate, by: Principal) {
    rejectReadOnly(input);
    await heartbeats.settle();
    const row = await db.transaction(async (tx) => {
      const a = await load(tx, idRaw, { lock: true });
      if (input.agent_id !== undefined && input.agent_id !== a.agentId)
        throw Invalid.field("agent_id", "cannot be changed");
      const set: {
        name?: string | null;
        adapterModule?: string;
        capabilities?: string[];
        config?: Record<string, unknown>;
      } = {};
      const changes: Record<string, unknown> = {};
      if (input.name !== undefined && input.name !== a.name) set.name = changes.name = input.name;
      if (input.adapter_module !== undefined && input.adapter_module !== a.adapterModule) {
        set.adapterModule = changes.adapter_module = input.adapter_module;
      }
      if (input.capabilities !== undefined) {
        const caps = dedupe(input.capabilities);
        if (!isDeepStrictEqual(caps, a.capabilities)) set.capabilities = changes.capabilities = caps;
      }
      if (input.config !== undefined) {
        const config = restoreRedacted(input.config, a.config);
        if (!isDeepStrictEqual(config, a.config)) {
          set.config = config;
          changes.config = redactConfig(config);
        }
      }
      if (Object.keys(set).length === 0) return a;
      // A new adapter or config is checked whole: the config must suit the adapter it ends up with.
      if (set.adapterModule !== undefined || set.config !== undefined) {
        await checkAgentConfig(set.adapterModule ?? a.adapterModule, set.config ?? a.config);
      }
      const u = await repo.updateAgent(tx, a.id, set);
      await appendTrace(tx, { event: "agent.updated", actor: by.actor, agentId: a.agentId, data: { changes } });
      return { ...u, run: a.run };
    });
    return agentToApi(row);
  }

  /** `context.task_id` as a task key: integer ids are looked up, keys are taken as the agent gave them. */
  async function taskKeyOf(exec: Executor, raw: number | string | null | undefined): Promise<string | null> {
    if (raw === undefined || raw === null) return null;
    if (typeof raw === "string") return raw;
    const key = await findTaskKey(exec, raw);
    if (key === undefined) throw Invalid.field("context.task_id", "does not exist");
    return key;
  }

  /** Applies a non-heartbeat event to a known agent, with its trace entries; `undefined` when there is none. */
  async function applyEvent(
    ref: Ref,
    event: Exclude<AgentEvent, "heartbeat">,
    context: Record<string, unknown>,
    by: Principal,
  ) {
    return db.transaction(async (tx) => {
      const taskKey = await taskKeyOf(tx, context.task_id as number | string | null | undefined);
      const effect = currentTaskEffect(event);
      const status = EVENT_STATUS[event];
      const { cause, reason } = explainEvent(event, context, taskKey);
      const row = await repo.writeStatus(tx, ref, {
        status,
        cause,
        reason,
        event,
        currentTask: effect === "keep" ? "keep" : { set: effect === "set" ? taskKey : null },
        seen: true,
      });
      if (!row) return undefined;
      await appendTrace(tx, {
        event: "agent.activity",
        actor: by.actor,
        agentId: row.agentId,
        taskId: taskKey,
        data: { event, context, status },
      });
      if (row.from !== row.status) await traceStatusChange(tx, row, { cause, actor: by.actor, taskKey });
      const { from: _from, ...view } = row;
      return view;
    });
  }

  /** First report of an unknown key: creates the agent in the state the event describes. */
  async function register(key: string, event: AgentEvent, context: Record<string, unknown>, by: Principal) {
    return db.transaction(async (tx) => {
      const taskKey =
        event === "heartbeat" ? null : await taskKeyOf(tx, context.task_id as number | string | null | undefined);
      const status = event === "heartbeat" ? HEARTBEAT_STATUS : EVENT_STATUS[event];
      const { cause, reason } =
        event === "heartbeat"
          ? { cause: CAUSE.heartbeat, reason: "registered by its first heartbeat" }
          : explainEvent(event, context, taskKey);
      const a = await repo.insertAgent(
        tx,
        {
          agentId: key,
          name: key,
          status,
          statusCause: cause,
          statusReason: reason,
          ...(event === "heartbeat" ? {} : { lastEvent: event }),
          currentTaskId: currentTaskEffect(event) === "set" ? taskKey : null,
        },
        { seenNow: true },
      );
      if (!a) return undefined;
      await appendTrace(tx, { event: "agent.registered", actor: by.actor, agentId: key, data: { event } });
      if (event !== "heartbeat") {
        await appendTrace(tx, {
          event: "agent.activity",
          actor: by.actor,
          agentId: key,
          taskId: taskKey,
          data: { event, context, status },
        });
      }
      // Never heard from reads offline: the first report is its first status change.
      if (!isOffline(status))
        await traceStatusChange(tx, { agentId: key, from: AGENT.offline, status }, { cause, actor: by.actor, taskKey });
      return { ...a, run: null };
    });
  }

  /**
   * `POST /api/agents/:agent_id/activity`. `created` is true when this report registered the agent (201).
   */
  async function activity(
    idRaw: string,
    report: ActivityReport,
    by: Principal,
  ): Promise<{ created: boolean; data: AgentApi }> {
    const ref = parseRef(idRaw);
    assertOwnAgent(by, ref);
    if (ref === null) {
      // Digits name an id the database never gave; anything else is a key that cannot be registered.
      if (/^[0-9]+$/.test(idRaw)) throw new NotFound();
      throw Invalid.field("agent_id", "has an invalid format");
    }
    const { event } = report;
    const context = (report.context ?? {}) as Record<string, unknown>;
    const known = () => (event === "heartbeat" ? heartbeats.beat(ref) : applyEvent(ref, event, context, by));

    let row = await known();
    if (row && event === "heartbeat") announceHeartbeat(row.agentId);
    if (row) return { created: false, data: agentToApi(row) };
    // Ids are given by the database: only a key can register a new agent.
    if (typeof ref === "number") throw new NotFound();
    row = await register(ref, event, context, by);
    if (row) return { created: true, data: agentToApi(row) };
    // Another first report of the same agent registered it between our two statements: this one is a report.
    row = await known();
    if (!row) throw new NotFound();
    return { created: false, data: agentToApi(row) };
  }

  /**
   * `POST /api/agents/:agent_id/reset`: a person clears the agent's state (above all a sticky `error`). The
   * agent becomes `idle` (`offline` if never heard from) and its current task is cleared; `agent.reset` is
   * traced even when the status was already that, since it also lets an escalated worker take work again.
   * An agent a live run holds is reported by that run: resetting it is 422.
   */
  async function reset(idRaw: string, by: Principal) {
    const row = await db.transaction(async (tx) => {
      const a = await load(tx, idRaw, { lock: true });
      if (a.run) {
        throw Invalid.field(
          "status",
          `the agent is running ${a.run.task_id}; pause its mission or wait for the run to end`,
        );
      }
      const to = resetStatus(a.lastSeenAt);
      const changed = await changeStatus(tx, a.id, {
        to,
        cause: CAUSE.reset,
        reason: `reset by ${by.actor}`,
        actor: by.actor,
        currentTask: { set: null },
      });
      await appendTrace(tx, {
        event: "agent.reset",
        actor: by.actor,
        agentId: a.agentId,
        data: { from: a.status, to, previous_reason: statusReasonOf(a) },
      });
      const { from: _from, ...view } = changed!;
      return view;
    });
    await onReset?.(row.id);
    return agentToApi(row);
  }

  return {
    create,
    get,
    list,
    update,
    activity,
    reset,
    load,
    /** Starts the staleness daemon (agents.staleness.ts). */
    start: () => staleness.start(),
    staleness,
    close: async () => {
      await staleness.stop();
      await heartbeats.close();
    },
  };
}
