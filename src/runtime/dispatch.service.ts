// Dispatch: turning POST /api/tasks/:id/execute into a durable dispatch row. Invariants: the row, the
// agent choice (when the task had no agent) and their trace entries commit together; the partial unique
// index on dispatches makes a second live dispatch of one task impossible, whatever races.
import type { Database } from "../db/client.js";
import { isUniqueViolation } from "../db/lookup.js";
import { notify } from "../db/notify.js";
import type { Principal } from "../core/principal.js";
import { Invalid, NotFound } from "../core/errors.js";
import { parseRef } from "../core/ids.js";
import { pageOf, toPage } from "../core/pagination.js";
import type { Executor } from "../db/client.js";
import { agentKeyOf } from "../agents/agents.runs.js";
import { findMission } from "../missions/missions.lookup.js";
import { missionRuns, type MissionStatus } from "../missions/missions.state.js";
import { assignDispatchedAgent, findTaskForRun, retryByExecute, traceDispatched } from "../tasks/tasks.runs.js";
import { isExecutable, isRetriedByExecute } from "../tasks/tasks.state.js";
import { appendTrace } from "../trace/trace.append.js";
import { parkingDecisionIds } from "../trace/trace.lookup.js";
import * as repo from "./dispatch.repo.js";
import { DISPATCH, initialDispatchStatus, isAwaitingApproval } from "./dispatch.state.js";
import { conflictSummary } from "../tasks/conflicts.shape.js";
import type { DispatchListQuery } from "./dispatch.schemas.js";
import { RUNTIME_CHANNEL, type RuntimeSignal } from "./runtime.js";
import type { PoliciesService } from "../policies/policies.service.js";
import { DECISION, policyBlockedError } from "../policies/decide.js";

export type DispatchService = ReturnType<typeof createDispatchService>;

export interface DispatchDeps {
  database: Database;
  /** Guardrails: asked about every dispatch before it is queued. */
  policies?: Pick<PoliciesService, "evaluate" | "findDecision" | "findDecisions">;
}

export function createDispatchService({ database, policies }: DispatchDeps) {
  const { db } = database;

  function toApi(
    d: repo.DispatchRow,
    keys: { task: string; mission: string; agent: string },
    policy: { decision_id: number; decision: string; messages: string[] } | null = null,
  ) {
    return {
      policy,
      id: d.id,
      task_id: keys.task,
      mission_id: keys.mission,
      agent_id: keys.agent,
      status: d.status,
      attempt: d.attempt,
      run_after: d.runAfter,
      reason: d.reason,
      started_at: d.startedAt,
      finished_at: d.finishedAt,
      inserted_at: d.insertedAt,
    };
  }

  async function execute(taskRaw: string, body: { approve_policy?: string }, by: Principal) {
    if (body.approve_policy !== undefined) return approveParked(taskRaw, body.approve_policy, by);
    const ref = parseRef(taskRaw);
    let blocked: Awaited<ReturnType<NonNullable<typeof policies>["evaluate"]>> | null = null;
    try {
      const result = await db.transaction(async (tx) => {
        const found = ref === null ? undefined : await findTaskForRun(tx, ref, { lock: true });
        if (!found) throw new NotFound();
        let task = found;
        const status = task.status;
        if (!isExecutable(status)) {
          throw Invalid.field("status", `cannot execute a task that is ${task.status}`);
        }
        const mission = (await findMission(tx, task.missionId))!;
        if (!missionRuns(mission.status as MissionStatus))
          throw Invalid.field("mission_id", `mission is ${mission.status}, not active`);
        if (await repo.liveDispatchForTask(tx, task.id)) throw Invalid.field("task_id", "is already dispatched");

        const onMission = await repo.missionAgentsWithLoad(tx, mission.id);
        let agent: { id: number; agentId: string };
        if (task.agentId !== null) {
          const a = onMission.find((x) => x.id === task.agentId);
          if (!a) throw Invalid.field("agent_id", "is not on the mission");
          agent = a;
        } else {
          // Least busy agent on the mission whose capabilities cover the task's requirements; ties go to
          // the agent that joined the system first.
          const need = task.requiredCapabilities;
          const fits = onMission
            .filter((a) => need.every((c) => a.capabilities.includes(c)))
            .sort((a, b) => a.load - b.load || a.id - b.id);
          const chosen = fits[0];
          if (!chosen) {
            throw Invalid.field(
              "agent_id",
              need.length > 0
                ? `no agent on the mission has the capabilities ${need.join(", ")}`
                : "no agent is on the mission",
            );
          }
          agent = chosen;
        }
        // Guardrails see the dispatch as it would happen. A block commits only its trace entry.
        const decision = policies
          ? await policies.evaluate(
              tx,
              {
                action: {
                  action_type: "dispatch",
                  agent: {
                    agent_id: agent.agentId,
                    capabilities: onMission.find((a) => a.id === agent.id)?.capabilities ?? [],
                  },
                  task: {
                    task_id: task.taskId,
                    objective: task.objective,
                    priority: task.priority,
                    required_capabilities: task.requiredCapabilities,
                    requirement_ids: task.requirementKeys,
                    // What the task has in common with other open tasks of its repository (conflict radar).
                    conflicts: conflictSummary(task.outputs),
                  },
                  mission: { mission_id: mission.missionId, goal: mission.goal, metadata: mission.metadata },
                },
                missionKey: mission.missionId,
                agentKey: agent.agentId,
                taskKey: task.taskId,
                source: "dispatch",
              },
              by.actor,
            )
          : null;
        if (decision?.decision === "block") {
          blocked = decision;
          return null;
        }
        if (isRetriedByExecute(status)) task = await retryByExecute(tx, task, by.actor);
        if (task.agentId === null) task = await assignDispatchedAgent(tx, task, agent, by.actor);
        // require_approval parks the dispatch until a member approves that decision.
        const parked = decision?.decision === DECISION.require_approval;
        const d = await repo.insertDispatch(tx, {
          taskId: task.id,
          missionId: mission.id,
          agentId: agent.id,
          status: initialDispatchStatus(parked),
        });
        await traceDispatched(tx, task, agent.agentId, by.actor, {
          dispatch_id: d.id,
          attempt: d.attempt,
          ...(parked ? { awaiting_approval: decision.decision_id } : {}),
        });
        if (!parked)
          await notify(
            tx,
            RUNTIME_CHANNEL,
            JSON.stringify({ t: "dispatch", m: mission.id, a: agent.id } satisfies RuntimeSignal),
          );
        const policy =
          decision && decision.decision !== "allow"
            ? { decision_id: decision.decision_id, decision: decision.decision, messages: decision.messages }
            : null;
        return toApi(d, { task: task.taskId, mission: mission.missionId, agent: agent.agentId }, policy);
      });
      if (blocked) throw policyBlockedError(blocked);
      return result!;
    } catch (err) {
      if (isUniqueViolation(err)) throw Invalid.field("task_id", "is already dispatched");
      throw err;
    }
  }

  /** A member approves a parked dispatch by naming the require_approval decision that parked it. */
  async function approveParked(taskRaw: string, decisionRaw: string, by: Principal) {
    const ref = parseRef(taskRaw);
    return db.transaction(async (tx) => {
      const task = ref === null ? undefined : await findTaskForRun(tx, ref, { lock: true });
      if (!task) throw new NotFound();
      const live = await repo.liveDispatchForTask(tx, task.id);
      const decision =
        /^[0-9]+$/.test(decisionRaw) && policies ? await policies.findDecision(tx, Number(decisionRaw)) : undefined;
      if (
        !live ||
        !isAwaitingApproval(live.status) ||
        !decision ||
        decision.decision !== DECISION.require_approval ||
        decision.task_id !== task.taskId
      ) {
        throw Invalid.field("approve_policy", "does not name a require_approval decision this task is waiting on");
      }
      const d = (await repo.setDispatch(tx, live.id, { status: DISPATCH.queued, runAfter: new Date() }))!;
      const mission = (await findMission(tx, d.missionId))!;
      const agentKey = task.agentKey ?? (await keyOfAgent(d.agentId));
      await appendTrace(tx, {
        event: "dispatch.policy_approved",
        actor: by.actor,
        missionId: mission.missionId,
        taskId: task.taskId,
        agentId: agentKey,
        data: { dispatch_id: d.id, decision_id: decision.decision_id, messages: decision.messages },
      });
      await notify(
        tx,
        RUNTIME_CHANNEL,
        JSON.stringify({ t: "dispatch", m: d.missionId, a: d.agentId } satisfies RuntimeSignal),
      );
      return toApi(
        d,
        { task: task.taskId, mission: mission.missionId, agent: agentKey },
        {
          decision_id: decision.decision_id,
          decision: DECISION.require_approval,
          messages: decision.messages,
        },
      );
    });
  }

  async function get(idRaw: string) {
    const id = parseRef(idRaw);
    if (typeof id !== "number") throw new NotFound();
    const d = await repo.findDispatch(db, id);
    if (!d) throw new NotFound();
    const [task, mission] = await Promise.all([findTaskForRun(db, d.taskId), findMission(db, d.missionId)]);
    const agent = task?.agentId === d.agentId ? task.agentKey : null;
    const keys = { task: task!.taskId, mission: mission!.missionId, agent: agent ?? (await keyOfAgent(d.agentId)) };
    const policy = (await parkingPolicies(db, [{ id: d.id, taskKey: keys.task }])).get(d.id) ?? null;
    return toApi(d, keys, policy);
  }

  /** `GET /api/dispatches`: oldest first, each as `get` shows it. */
  async function list(q: DispatchListQuery) {
    const page = pageOf(q);
    const mission = q.mission_id === undefined ? undefined : parseRef(q.mission_id);
    const task = q.task_id === undefined ? undefined : parseRef(q.task_id);
    // A reference that cannot name a record matches nothing (as an unknown key does).
    if (mission === null || task === null) return { data: [], meta: { next_cursor: null } };
    const rows = await repo.listDispatches(db, { status: q.status, mission, task }, page);
    const shown = rows.slice(0, page.limit);
    const policies = await parkingPolicies(
      db,
      shown.map((r) => ({ id: r.dispatch.id, taskKey: r.taskKey })),
    );
    return toPage(
      rows.map((r) => ({ ...r, id: r.dispatch.id })),
      page,
      (r) =>
        toApi(r.dispatch, { task: r.taskKey, mission: r.missionKey, agent: r.agentKey }, policies.get(r.id) ?? null),
    );
  }

  /**
   * The require_approval decision that parked each dispatch (null `policy` for one that was never parked):
   * the console shows its messages and approves with its decision_id.
   */
  async function parkingPolicies(exec: Executor, of: Array<{ id: number; taskKey: string }>) {
    const out = new Map<number, { decision_id: number; decision: string; messages: string[] }>();
    if (!policies) return out;
    const parked = await parkingDecisionIds(exec, of);
    const decisions = new Map(
      (await policies.findDecisions(exec, [...new Set(parked.values())])).map((d) => [d.decision_id, d]),
    );
    for (const [dispatchId, decisionId] of parked) {
      const decision = decisions.get(decisionId);
      if (decision)
        out.set(dispatchId, {
          decision_id: decision.decision_id,
          decision: decision.decision,
          messages: decision.messages,
        });
    }
    return out;
  }

  async function keyOfAgent(id: number): Promise<string> {
    return (await agentKeyOf(db, id))!;
  }

  return { execute, get, list };
}
