// Policies: CRUD, templates and evaluation. Invariants:
// - A stored policy's conditions and actions passed validation (matcher.ts, decide.ts), so every stored
//   policy compiles; compiled matchers are cached per (id, version), which never changes meaning.
// - `version` is 1 on create and grows by exactly one with every change, in the same transaction as that
//   change's `policy.updated` entry. A request that changes nothing bumps nothing and writes no entry.
// - Every evaluation writes exactly one `policy.evaluated` entry (input action, decision, matched policies
//   with their versions) on the caller's executor; that entry's id is the decision_id.
// - Dry-run policies never make a decision stricter than the enforced policies alone make it.
// - An agent token evaluates only as its own agent, for missions it is on and tasks assigned to it.
import type { Database, Executor } from "../db/client.js";
import { isUniqueViolation } from "../db/lookup.js";
import { findAgent, isAgentOnMission } from "../agents/agents.lookup.js";
import { findMission } from "../missions/missions.lookup.js";
import type { Principal } from "../core/principal.js";
import { Forbidden, Invalid, NotFound, type FieldErrors } from "../core/errors.js";
import { generateKey, parseRef, type Ref } from "../core/ids.js";
import { pageOf, toPage } from "../core/pagination.js";
import { appendTrace } from "../trace/trace.append.js";
import {
  decide,
  MODE,
  policyBlockedError,
  strictest,
  validateActions,
  type Decision,
  type Outcome,
  type PolicyAction,
} from "./decide.js";
import { compileConditions, deepEqual, validateConditions, type ActionMatcher } from "./matcher.js";
import * as repo from "./policies.repo.js";
import type { EvaluateBody, PolicyCreate, PolicyListQuery, PolicyUpdate, TemplateCreate } from "./policies.schemas.js";
import { findTemplate, POLICY_TEMPLATES } from "./templates.js";
import { isAgentRole } from "../tokens/tokens.state.js";

export interface PoliciesDeps {
  database: Database;
}

/** What an enforcement point asks about one action. Keys, not ids: callers already hold the records. */
export interface EvaluationInput {
  action: Record<string, unknown>;
  missionKey?: string | null;
  agentKey?: string | null;
  taskKey?: string | null;
  /** Where the question comes from (`api`, `dispatch`, `report`, `hook`…); recorded in the trace entry. */
  source?: string;
}

export interface PolicyDecision extends Outcome {
  decision_id: number;
  mission_id: string | null;
  agent_id: string | null;
  task_id: string | null;
}

/** Several actions asked about together (one shell line gives several); each has its own trace entry. */
export interface CombinedDecision {
  decision: Decision;
  messages: string[];
  /** The first decision of the strictest kind, or null when everything is allowed. */
  deciding: PolicyDecision | null;
  decisions: PolicyDecision[];
}

/** Keys that would shadow the static routes under /api/policies/. */
const RESERVED_KEYS = new Set(["templates", "evaluate", "decisions"]);
const SCOPE_MESSAGE = "must be global, mission:<key> or agent:<key>";
const COMPILED_MAX = 5_000;

type ParsedScope = { kind: "global" } | { kind: "mission" | "agent"; ref: Ref };

function parseScope(raw: string): ParsedScope | null {
  if (raw === "global") return { kind: "global" };
  const m = /^(mission|agent):(.*)$/.exec(raw);
  if (!m) return null;
  const ref = parseRef(m[2]!);
  return ref === null ? null : { kind: m[1] as "mission" | "agent", ref };
}

/** Trace columns for a policy's scope, so a mission's or agent's trace shows the policies aimed at it. */
function scopeColumns(scope: string): { missionId?: string; agentId?: string } {
  if (scope.startsWith("mission:")) return { missionId: scope.slice("mission:".length) };
  if (scope.startsWith("agent:")) return { agentId: scope.slice("agent:".length) };
  return {};
}

export type PoliciesService = ReturnType<typeof createPoliciesService>;

export function createPoliciesService({ database }: PoliciesDeps) {
  const { db } = database;
  const compiled = new Map<string, ActionMatcher>();

  function toApi(p: repo.PolicyRow) {
    return {
      id: p.id,
      policy_id: p.policyId,
      description: p.description,
      scope: p.scope,
      conditions: p.conditions,
      actions: p.actions,
      enabled: p.enabled,
      mode: p.mode,
      version: p.version,
      inserted_at: p.insertedAt,
      updated_at: p.updatedAt,
    };
  }

  function snapshot(p: repo.PolicyRow) {
    const { id: _id, inserted_at: _i, updated_at: _u, ...rest } = toApi(p);
    return rest;
  }

  async function load(exec: Executor, idRaw: string, opts: { lock?: boolean } = {}) {
    const ref = parseRef(idRaw);
    const p = ref === null ? undefined : await repo.findPolicy(exec, ref, opts);
    if (!p) throw new NotFound();
    return p;
  }

  /** Everything about a body that needs no database: conditions, actions, the shape of the scope. */
  function checkBody(input: { conditions?: unknown; actions?: unknown; scope?: string }): void {
    const errors: FieldErrors = {};
    if (input.conditions !== undefined) Object.assign(errors, validateConditions(input.conditions));
    if (input.actions !== undefined) Object.assign(errors, validateActions(input.actions));
    if (input.scope !== undefined && parseScope(input.scope) === null) errors.scope = [SCOPE_MESSAGE];
    if (Object.keys(errors).length > 0) throw new Invalid(errors);
  }

  /** The stored form of a scope: keys, never ids. A mission must exist; an agent key need not yet. */
  async function normalizeScope(exec: Executor, raw: string): Promise<string> {
    const s = parseScope(raw);
    if (s === null) throw Invalid.field("scope", SCOPE_MESSAGE);
    if (s.kind === "global") return "global";
    if (s.kind === "mission") {
      const m = await findMission(exec, s.ref);
      if (!m) throw Invalid.field("scope", "names a mission that does not exist");
      return `mission:${m.missionId}`;
    }
    if (typeof s.ref === "string") return `agent:${s.ref}`;
    const a = await findAgent(exec, s.ref);
    if (!a) throw Invalid.field("scope", "names an agent that does not exist");
    return `agent:${a.agentId}`;
  }

  async function create(input: PolicyCreate, by: Principal) {
    const policyId = input.policy_id ?? generateKey("policy");
    if (RESERVED_KEYS.has(policyId)) throw Invalid.field("policy_id", "is reserved");
    checkBody(input);
    try {
      const row = await db.transaction(async (tx) => {
        const scope = await normalizeScope(tx, input.scope ?? "global");
        const p = await repo.insertPolicy(tx, {
          policyId,
          description: input.description ?? null,
          scope,
          conditions: input.conditions,
          actions: input.actions as Array<Record<string, string>>,
          enabled: input.enabled ?? true,
          mode: input.mode ?? MODE.enforce,
        });
        await appendTrace(tx, { event: "policy.created", actor: by.actor, ...scopeColumns(scope), data: snapshot(p) });
        return p;
      });
      return toApi(row);
    } catch (err) {
      if (isUniqueViolation(err)) throw Invalid.field("policy_id", "has already been taken");
      throw err;
    }
  }

  async function get(idRaw: string) {
    return toApi(await load(db, idRaw));
  }

  async function list(q: PolicyListQuery) {
    const page = pageOf(q);
    let scope: string | undefined;
    if (q.scope !== undefined) {
      const s = parseScope(q.scope);
      if (s === null) throw Invalid.field("scope", SCOPE_MESSAGE);
      // An integer id in the filter names the record's key; an unknown one matches nothing.
      if (s.kind !== "global" && typeof s.ref === "number") {
        const rec =
          s.kind === "mission" ? (await findMission(db, s.ref))?.missionId : (await findAgent(db, s.ref))?.agentId;
        if (rec === undefined) return { data: [], meta: { next_cursor: null } };
        scope = `${s.kind}:${rec}`;
      } else scope = q.scope;
    }
    const rows = await repo.listPolicies(db, { scope, enabled: q.enabled, mode: q.mode }, page);
    return toPage(rows, page, toApi);
  }

  async function update(idRaw: string, input: PolicyUpdate, by: Principal) {
    checkBody(input);
    return db.transaction(async (tx) => {
      const p = await load(tx, idRaw, { lock: true });
      if (input.policy_id !== undefined && input.policy_id !== p.policyId) {
        throw Invalid.field("policy_id", "cannot be changed");
      }
      if (input.version !== undefined && input.version !== p.version) {
        throw Invalid.field("version", `is ${p.version}: the policy has changed since version ${input.version}`);
      }
      const changes: Record<string, unknown> = {};
      const set: Partial<typeof p> = {};
      if (input.description !== undefined && input.description !== p.description) {
        set.description = changes.description = input.description;
      }
      if (input.scope !== undefined) {
        const scope = await normalizeScope(tx, input.scope);
        if (scope !== p.scope) set.scope = changes.scope = scope;
      }
      if (input.conditions !== undefined && !deepEqual(input.conditions, p.conditions)) {
        set.conditions = changes.conditions = input.conditions;
      }
      if (input.actions !== undefined && !deepEqual(input.actions, p.actions)) {
        set.actions = changes.actions = input.actions as Array<Record<string, string>>;
      }
      if (input.enabled !== undefined && input.enabled !== p.enabled) set.enabled = changes.enabled = input.enabled;
      if (input.mode !== undefined && input.mode !== p.mode) set.mode = changes.mode = input.mode;
      if (Object.keys(set).length === 0) return toApi(p);
      const row = await repo.updatePolicy(tx, p.id, set);
      await appendTrace(tx, {
        event: "policy.updated",
        actor: by.actor,
        ...scopeColumns(row.scope),
        data: { policy_id: row.policyId, version: row.version, changes },
      });
      return toApi(row);
    });
  }

  async function remove(idRaw: string, by: Principal) {
    await db.transaction(async (tx) => {
      const p = await load(tx, idRaw, { lock: true });
      await repo.deletePolicy(tx, p.id);
      await appendTrace(tx, { event: "policy.deleted", actor: by.actor, ...scopeColumns(p.scope), data: snapshot(p) });
    });
  }

  function templates() {
    return { data: POLICY_TEMPLATES.map((t) => structuredClone(t)), meta: { next_cursor: null } };
  }

  async function createFromTemplate(templateId: string, overrides: TemplateCreate, by: Principal) {
    const t = findTemplate(templateId);
    if (!t) throw new NotFound();
    const p = structuredClone(t.policy);
    return create(
      {
        policy_id: overrides.policy_id ?? p.policy_id,
        description: overrides.description !== undefined ? overrides.description : p.description,
        scope: overrides.scope ?? p.scope,
        conditions: p.conditions,
        actions: p.actions as Array<Record<string, unknown>>,
        enabled: overrides.enabled ?? p.enabled,
        mode: overrides.mode ?? p.mode,
      },
      by,
    );
  }

  function matcherOf(p: repo.PolicyRow): ActionMatcher {
    const key = `${p.id}:${p.version}`;
    let m = compiled.get(key);
    if (m === undefined) {
      try {
        m = compileConditions(p.conditions);
      } catch {
        // Unreachable while the invariant holds (only validated conditions are stored). A row changed behind
        // the API's back matches nothing rather than failing every evaluation.
        m = () => false;
      }
      if (compiled.size >= COMPILED_MAX) compiled.clear();
      compiled.set(key, m);
    }
    return m;
  }

  /**
   * Evaluates one action and records the decision as a `policy.evaluated` trace entry on `exec`, for
   * enforcement points inside their own transaction. Keys are trusted (the caller holds the records); a task
   * without a mission key takes its mission's. Note: an entry written inside a transaction that then rolls
   * back (say, because the caller throws policyBlockedError inside it) is gone with it: evaluate a blocked
   * action on the database itself, or commit before refusing, so the decision stays on record. The append
   * holds the trace chain's lock (the mission's, else the global one) until `exec` commits, so keep it late
   * in a long transaction, as for any trace entry.
   */
  async function evaluate(exec: Executor, input: EvaluationInput, actor: string): Promise<PolicyDecision> {
    const taskKey = input.taskKey ?? null;
    const agentKey = input.agentKey ?? null;
    let missionKey = input.missionKey ?? null;
    if (missionKey === null && taskKey !== null) {
      missionKey = (await repo.findTaskContext(exec, taskKey))?.missionKey ?? null;
    }
    const scopes = ["global"];
    if (missionKey !== null) scopes.push(`mission:${missionKey}`);
    if (agentKey !== null) scopes.push(`agent:${agentKey}`);
    const rows = await repo.listApplicable(exec, scopes);
    const outcome = decide(
      rows.map((r) => ({
        policyId: r.policyId,
        version: r.version,
        mode: r.mode,
        actions: r.actions as PolicyAction[],
        match: matcherOf(r),
      })),
      input.action,
    );
    const entry = await appendTrace(exec, {
      event: "policy.evaluated",
      actor,
      missionId: missionKey,
      taskId: taskKey,
      agentId: agentKey,
      data: { action: input.action, source: input.source ?? "api", ...outcome },
    });
    return { decision_id: entry.id, ...outcome, mission_id: missionKey, agent_id: agentKey, task_id: taskKey };
  }

  /** Evaluates several actions (e.g. everything one shell line does); the strictest decision wins. */
  async function evaluateAll(
    exec: Executor,
    input: Omit<EvaluationInput, "action"> & { actions: Array<Record<string, unknown>> },
    actor: string,
  ): Promise<CombinedDecision> {
    const { actions, ...ctx } = input;
    const decisions: PolicyDecision[] = [];
    for (const action of actions) decisions.push(await evaluate(exec, { ...ctx, action }, actor));
    const decision = strictest(decisions.map((d) => d.decision));
    const deciding = decision === "allow" ? null : (decisions.find((d) => d.decision === decision) ?? null);
    const messages = [...new Set(decisions.flatMap((d) => d.messages))];
    return { decision, messages, deciding, decisions };
  }

  /** `POST /api/policies/evaluate`: resolves and authorizes the references, then evaluates. */
  async function evaluateRequest(body: EvaluateBody, by: Principal): Promise<PolicyDecision> {
    let agentKey: string | null = null;
    if (isAgentRole(by.role)) {
      // An agent asks as itself; naming another agent is not allowed.
      if (by.agentId === null || by.agentKey === null) throw new Forbidden();
      if (body.agent_id != null) {
        const ref = parseRef(body.agent_id);
        if (ref !== by.agentId && ref !== by.agentKey) throw new Forbidden();
      }
      agentKey = by.agentKey;
    } else if (body.agent_id != null) {
      const ref = parseRef(body.agent_id);
      const a = ref === null ? undefined : await findAgent(db, ref);
      if (!a) throw Invalid.field("agent_id", "does not exist");
      agentKey = a.agentId;
    }

    let taskKey: string | null = null;
    let missionKey: string | null = null;
    let taskMission: { id: number; key: string } | null = null;
    if (body.task_id != null) {
      const ref = parseRef(body.task_id);
      const t = ref === null ? undefined : await repo.findTaskContext(db, ref);
      if (!t) throw Invalid.field("task_id", "does not exist");
      if (isAgentRole(by.role) && t.agentId !== by.agentId) throw new Forbidden();
      taskKey = t.taskKey;
      taskMission = { id: t.missionId, key: t.missionKey };
      missionKey = t.missionKey;
    }
    if (body.mission_id != null) {
      const ref = parseRef(body.mission_id);
      const m = ref === null ? undefined : await findMission(db, ref);
      if (!m) throw Invalid.field("mission_id", "does not exist");
      if (taskMission !== null && taskMission.id !== m.id) {
        throw Invalid.field("task_id", `belongs to mission ${taskMission.key}, not ${m.missionId}`);
      }
      if (isAgentRole(by.role) && taskMission === null && !(await isAgentOnMission(db, m.id, by.agentId!))) {
        throw new Forbidden();
      }
      missionKey = m.missionId;
    }
    return evaluate(db, { action: body.action, missionKey, agentKey, taskKey, source: "api" }, by.actor);
  }

  /** Recorded decisions by id (for approving a parked action by its decision_id); unknown ids are left out. */
  async function findDecisions(exec: Executor, decisionIds: number[]) {
    const ids = decisionIds.filter((id) => Number.isSafeInteger(id) && id >= 1);
    return (await repo.findDecisionEntries(exec, ids)).map((e) => {
      const d = e.data as unknown as Outcome & { action: Record<string, unknown>; source: string };
      return {
        decision_id: e.id,
        at: e.at,
        actor: e.actor,
        source: d.source,
        action: d.action,
        decision: d.decision,
        mode: d.mode,
        dry_run_decision: d.dry_run_decision,
        matched: d.matched,
        dry_run_matched: d.dry_run_matched,
        messages: d.messages,
        mission_id: e.missionId,
        agent_id: e.agentId,
        task_id: e.taskId,
      };
    });
  }

  /** A recorded decision, or undefined. */
  async function findDecision(exec: Executor, decisionId: number) {
    return (await findDecisions(exec, [decisionId]))[0];
  }

  return {
    create,
    get,
    list,
    update,
    remove,
    templates,
    createFromTemplate,
    evaluate,
    evaluateAll,
    evaluateRequest,
    findDecision,
    findDecisions,
    /** The contract's 403 for a `block` decision: `{"errors": {"policy": [...]}, "policy_decision": {...}}`. */
    blockedError: (d: PolicyDecision) => policyBlockedError(d),
    toApi,
  };
}
