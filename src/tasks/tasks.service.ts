// Tasks. Invariants:
// - A task's status changes only through `transitionTask`, which checks the move against the state
//   machine (tasks.state.ts), applies it as a conditional update on the status it read (so of two racing
//   moves exactly one wins and the other is 422), and writes the `task.status_changed` entry in the same
//   transaction; or, for a PATCH that is a plain move (`moveEffects`: nothing to do but the row and its
//   entry), through `repo.applyMove`: one statement conditional on the version read, which writes nothing
//   when the task changed since, and then `transitionTask` decides. A task is created only as `pending`.
// - Every change writes its trace entry in the transaction that makes it; a request that fails (422, 403,
//   a vetoed approve) changes nothing: no status, no outputs, no logs, no entry.
// - Trace entries name records by key: `agent_id`, `sprint_id` and `requirement_ids` in `data` are keys.
// - An agent token sees a task when it is assigned to its agent or the task's mission has its agent on it,
//   and reports only the tasks assigned to its agent; approve, reject, create and PATCH are for members.
import type { Database, Executor } from "../db/client.js";
import { isUniqueViolation } from "../db/lookup.js";
import { isAgentOnMission } from "../agents/agents.lookup.js";
import { findMission, missionKeysOf } from "../missions/missions.lookup.js";
import type { Principal } from "../core/principal.js";
import { jsonBytes } from "../core/envelope.js";
import { Forbidden, Invalid, NotFound, type FieldErrors } from "../core/errors.js";
import { canonicalJson } from "../core/canonical-json.js";
import { generateKey, parseRef, type Ref } from "../core/ids.js";
import { pageOf, toPage } from "../core/pagination.js";
import { appendTrace, type TraceInput } from "../trace/trace.append.js";
import type { TokensService } from "../tokens/tokens.service.js";
import * as repo from "./tasks.repo.js";
import { createConflictRadar, leaveConflicts } from "./conflicts.js";
import { conflictsOf, isOpenForConflicts } from "./conflicts.shape.js";
import type { LogListQuery, ReviewBody, TaskCreate, TaskListQuery, TaskReport, TaskUpdate } from "./tasks.schemas.js";
import { moveError, type TaskStatus, type TransitionVia, TASK } from "./tasks.state.js";

export type { TaskView } from "./tasks.repo.js";

/** The task read returns this many of the latest log lines; GET /api/tasks/:id/logs pages through all. */
export const LATEST_LOGS = 100;

export function logToApi(l: repo.TaskLogRow) {
  return { message: l.message, timestamp: l.timestamp, ...(l.level !== null ? { level: l.level } : {}) };
}

/** A task as lists show it (no logs). */
export function taskSummaryToApi(t: repo.TaskView) {
  return {
    id: t.id,
    task_id: t.taskId,
    mission_id: t.missionKey,
    objective: t.objective,
    status: t.status,
    agent_id: t.agentKey,
    sprint_id: t.sprintKey,
    requirement_ids: t.requirementKeys,
    required_capabilities: t.requiredCapabilities,
    priority: t.priority,
    outputs: t.outputs,
    inserted_at: t.insertedAt,
    updated_at: t.updatedAt,
  };
}
export type TaskSummaryApi = ReturnType<typeof taskSummaryToApi>;

/** A task as reads, updates and actions return it: with its latest log lines, oldest first. */
export function taskToApi(t: repo.TaskView, logs: repo.TaskLogRow[]) {
  return { ...taskSummaryToApi(t), logs: logs.map(logToApi) };
}
export type TaskApi = ReturnType<typeof taskToApi>;

export interface TransitionOptions {
  via: TransitionVia;
  comment?: string;
  /** Shallow-merged into the task's outputs in the same conditional update (a report). */
  outputs?: Record<string, unknown>;
  /**
   * When the status stays the same, still write (outputs, updated_at) guarded by the status read, so a
   * report racing a move fails instead of landing on a task that has moved on.
   */
  touch?: boolean;
}

/**
 * What a legal move does besides changing the task's row and writing its entry. `leavesOpenSet`: the task's
 * branch is out of play, so its conflicts go with the move and the tasks it listed drop it (conflicts.ts);
 * `clearsConflicts`: it had conflicts recorded; `endsRun`: leaving `in_progress` ends a delivered webhook
 * run, whose token is revoked. A move with none of these is plain: one statement can make it.
 */
function moveEffects(task: Pick<repo.TaskView, "status" | "outputs">, to: TaskStatus) {
  const leavesOpenSet = isOpenForConflicts(task.status) && !isOpenForConflicts(to);
  return {
    leavesOpenSet,
    clearsConflicts: leavesOpenSet && task.outputs.conflicts !== undefined,
    endsRun: task.status === TASK.in_progress && to !== TASK.in_progress,
  };
}

function isPlainMove(task: Pick<repo.TaskView, "status" | "outputs">, to: TaskStatus, via: TransitionVia) {
  if (task.status === to || moveError(task.status, to, via) !== null) return false;
  const e = moveEffects(task, to);
  return !e.clearsConflicts && !e.endsRun;
}

/**
 * The way a task's status changes inside the caller's transaction (the other is a plain move's statement).
 * Staying in the same status is legal and writes no `task.status_changed` entry. Throws 422 (`status`) on an illegal move or when the
 * task moved concurrently; nothing has been written then.
 */
export async function transitionTask(
  tx: Executor,
  task: repo.TaskView,
  to: TaskStatus,
  actor: string,
  opts: TransitionOptions,
): Promise<repo.TaskView> {
  const from = task.status;
  const err = moveError(from, to, opts.via);
  if (err) throw Invalid.field("status", err);
  const merges = opts.outputs !== undefined && Object.keys(opts.outputs).length > 0;
  if (from === to && !merges && !opts.touch) return task;
  // Leaving the open set (any move: a failed run, a mission's end, a PATCH, an approval).
  const { leavesOpenSet: leaving, clearsConflicts } = moveEffects(task, to);
  const had = leaving ? conflictsOf(task.outputs) : [];
  const outputs = clearsConflicts ? { ...opts.outputs, conflicts: [] } : opts.outputs;
  const moved = await repo.moveTaskStatus(tx, task.id, from, to, outputs);
  if (!moved) throw Invalid.field("status", `task changed concurrently; it is no longer ${from}`);
  if (from !== to) await appendTrace(tx, statusChangedEntry(task, actor, to, opts));
  if (leaving) await leaveConflicts(tx, { ...task, ...moved }, had, actor);
  return { ...task, ...moved };
}

/** The `task.status_changed` entry of a move from `task.status` to `to`: the one place it is built. */
function statusChangedEntry(
  task: Pick<repo.TaskView, "missionKey" | "taskId" | "agentKey" | "status">,
  actor: string,
  to: TaskStatus,
  opts: Pick<TransitionOptions, "via" | "comment">,
): TraceInput {
  return {
    event: "task.status_changed",
    actor,
    missionId: task.missionKey,
    taskId: task.taskId,
    agentId: task.agentKey,
    data: {
      from: task.status,
      to,
      ...(opts.comment !== undefined ? { comment: opts.comment } : {}),
      via: opts.via,
    },
  };
}

/**
 * The `task.reported` entry: the one place it is built, for an agent's report, a run's outputs (`via:
 * "runtime"`, its `dispatch_id`) and the conflict radar (`via: "conflict_radar"`). Replay folds `outputs`.
 */
export function reportedEntry(
  task: Pick<repo.TaskView, "missionKey" | "taskId" | "agentKey">,
  actor: string,
  r: { outputs: Record<string, unknown>; logsAdded: number; via?: string; dispatchId?: number },
): TraceInput {
  return {
    event: "task.reported",
    actor,
    missionId: task.missionKey,
    taskId: task.taskId,
    agentId: task.agentKey,
    data: {
      outputs: r.outputs,
      logs_added: r.logsAdded,
      ...(r.via !== undefined ? { via: r.via } : {}),
      ...(r.dispatchId !== undefined ? { dispatch_id: r.dispatchId } : {}),
    },
  };
}

export interface NewTask {
  taskId: string;
  mission: { id: number; missionId: string };
  objective: string;
  agent: { id: number; key: string } | null;
  sprint: { id: number; key: string } | null;
  requirements: Array<{ id: number; key: string }>;
  priority: number | null;
  outputs: Record<string, unknown>;
  requiredCapabilities: string[];
}

/** The `task.created` entry: every task comes to be with one, so replay folds every task from it. */
function createdEntry(actor: string, n: NewTask): TraceInput {
  return {
    event: "task.created",
    actor,
    missionId: n.mission.missionId,
    taskId: n.taskId,
    agentId: n.agent?.key ?? null,
    data: {
      objective: n.objective,
      status: TASK.pending,
      agent_id: n.agent?.key ?? null,
      sprint_id: n.sprint?.key ?? null,
      priority: n.priority,
      requirement_ids: n.requirements.map((r) => r.key),
      required_capabilities: n.requiredCapabilities,
      outputs: n.outputs,
    },
  };
}

function newTaskRow(n: NewTask): repo.NewTaskRow {
  return {
    taskId: n.taskId,
    missionId: n.mission.id,
    objective: n.objective,
    status: TASK.pending,
    agentId: n.agent?.id ?? null,
    sprintId: n.sprint?.id ?? null,
    priority: n.priority,
    outputs: n.outputs,
    requiredCapabilities: n.requiredCapabilities,
  };
}

function viewOf(row: repo.TaskRow, n: NewTask): repo.TaskView {
  return {
    ...row,
    missionKey: n.mission.missionId,
    agentKey: n.agent?.key ?? null,
    sprintKey: n.sprint?.key ?? null,
    requirementKeys: n.requirements.map((r) => r.key),
  };
}

/**
 * Inserts a `pending` task, its requirement links and its `task.created` entry on `tx`: a task made inside a
 * larger transaction (an issue made into one) or linked to requirements.
 */
export async function createTaskInTx(tx: Executor, actor: string, n: NewTask): Promise<repo.TaskView> {
  const row = await repo.insertTask(tx, newTaskRow(n));
  await repo.addTaskRequirements(
    tx,
    row.id,
    n.requirements.map((r) => r.id),
  );
  await appendTrace(tx, createdEntry(actor, n));
  return viewOf(row, n);
}

/**
 * The same for a task linked to no requirement, as one statement (its own transaction). Its mission, agent
 * and sprint were read before: those records are never deleted, so the references still hold.
 */
async function createTaskAlone(
  database: Database,
  actor: string,
  task: Omit<NewTask, "requirements">,
): Promise<repo.TaskView> {
  const n: NewTask = { ...task, requirements: [] };
  const { row } = await repo.insertTaskTraced(database, newTaskRow(n), createdEntry(actor, n));
  return viewOf(row, n);
}

/**
 * A step approve runs before moving a task to `completed` (merging its pull request). Throwing an AppError
 * aborts the approve: the task stays in `pending_review` and the caller gets that error.
 */
export type BeforeComplete = (task: TaskSummaryApi, ctx: { principal: Principal; comment?: string }) => Promise<void>;

/**
 * Guardrail on reports: judges the actions an agent says it performed (`progress.outputs.actions`), inside
 * the report's transaction. `blocked` moves the task to `blocked`; the decision is in the trace either way.
 */
export type CheckReportedActions = (
  tx: Executor,
  ctx: { actions: Array<Record<string, unknown>>; task: repo.TaskView; actor: string },
) => Promise<{ blocked: boolean; messages: string[]; decisionId: number | null }>;

/** Steps run inside an approve's transaction, after the move to `completed` (they commit or roll back with it). */
export type OnApproved = (
  tx: Executor,
  task: repo.TaskView,
  ctx: { principal: Principal; comment?: string },
) => Promise<void>;

export interface TasksDeps {
  database: Database;
  /** A delivered (webhook) run's token dies when its task leaves `in_progress` (tokens.service.ts). */
  tokens?: Pick<TokensService, "revokeDeliveredRunTokens">;
  beforeComplete?: BeforeComplete[];
  onApproved?: OnApproved[];
  checkReportedActions?: CheckReportedActions;
}

export type TasksService = ReturnType<typeof createTasksService>;

type Resolved = { id: number; key: string } | null | undefined;

function agentOf(by: Principal): number {
  if (by.agentId === null) throw new Forbidden();
  return by.agentId;
}

/** The log timestamp as a Date PostgreSQL can store; a leap second or year 0 is the caller's error. */
function logTime(raw: string | undefined, now: Date, i: number): Date {
  if (raw === undefined) return now;
  const d = new Date(raw);
  const y = d.getUTCFullYear();
  if (Number.isNaN(d.getTime()) || y < 1 || y > 9999)
    throw Invalid.field(`logs.${i}.timestamp`, "is not a valid timestamp");
  return d;
}

function queryRef(field: string, raw: string | undefined): Ref | undefined {
  if (raw === undefined) return undefined;
  const ref = parseRef(raw);
  if (ref === null) throw Invalid.field(field, "is not a valid id or key");
  return ref;
}

function reportedActions(outputs: Record<string, unknown>): Array<Record<string, unknown>> | null {
  if (!("actions" in outputs)) return null;
  const a = outputs.actions;
  if (!Array.isArray(a)) throw Invalid.field("outputs.actions", "must be a list of action objects");
  a.forEach((x, i) => {
    if (x === null || typeof x !== "object" || Array.isArray(x))
      throw Invalid.field(`outputs.actions.${i}`, "must be an object");
  });
  return a as Array<Record<string, unknown>>;
}

/** Largest a task's outputs may grow through reports (each report's own `outputs`: MAX_JSON_OBJECT_BYTES). */
export const MAX_TASK_OUTPUTS_BYTES = 256 * 1024;

export function createTasksService({
  database,
  beforeComplete = [],
  onApproved = [],
  checkReportedActions,
  tokens,
}: TasksDeps) {
  const { db } = database;

  /**
   * `transitionTask` for the moves requests make (a PATCH, a report): a task leaving `in_progress` ends the
   * work of a delivered webhook run, so that run's token is revoked in the same transaction.
   */
  async function move(tx: Executor, task: repo.TaskView, to: TaskStatus, actor: string, opts: TransitionOptions) {
    const moved = await transitionTask(tx, task, to, actor, opts);
    if (tokens && moveEffects(task, moved.status).endsRun) await tokens.revokeDeliveredRunTokens(tx, task.id);
    return moved;
  }
  /** Approves of one task run one at a time in this process, so a pre-completion step runs once. */
  const approving = new Map<number, Promise<unknown>>();

  async function load(exec: Executor, idRaw: string | number, opts: { lock?: boolean } = {}) {
    const ref = parseRef(idRaw);
    const t = ref === null ? undefined : await repo.findTaskView(exec, ref, opts);
    if (!t) throw new NotFound();
    return t;
  }

  /** The task and its version, outside any transaction: what a one-statement write is conditional on. */
  async function loadVersioned(idRaw: string) {
    const ref = parseRef(idRaw);
    const found = ref === null ? undefined : await repo.findTaskViewVersion(database, ref);
    if (!found) throw new NotFound();
    return found;
  }

  async function missionOfNewTask(idRaw: string) {
    const ref = parseRef(idRaw);
    const m = ref === null ? undefined : await missionKeysOf.find(database, ref);
    if (!m) throw new NotFound();
    return { id: m.id, missionId: m.key };
  }

  async function loadMission(exec: Executor, idRaw: string) {
    const ref = parseRef(idRaw);
    const m = ref === null ? undefined : await findMission(exec, ref);
    if (!m) throw new NotFound();
    return m;
  }

  async function assertCanRead(t: Pick<repo.TaskView, "agentId" | "missionId">, by: Principal) {
    if (by.role !== "agent") return;
    const me = agentOf(by);
    if (t.agentId === me || (await isAgentOnMission(db, t.missionId, me))) return;
    throw new Forbidden();
  }

  /**
   * Resolves the references of a create or update body, all at once so every unknown one is reported in
   * a single 422. `undefined` means "not given", `null` "set to none".
   */
  async function resolveRefs(
    tx: Executor,
    input: { agent_id?: Ref | null; sprint_id?: Ref | null; requirement_ids?: Ref[] },
  ) {
    const errors: FieldErrors = {};
    const one = async (
      field: string,
      raw: Ref | null | undefined,
      resolver: (e: Executor, refs: Ref[]) => Promise<Array<{ id: number; key: string }>>,
    ): Promise<Resolved> => {
      if (raw === undefined || raw === null) return raw;
      const ref = parseRef(raw);
      const found = ref === null ? [] : await resolver(tx, [ref]);
      if (!found[0]) {
        errors[field] = ["does not exist"];
        return undefined;
      }
      return found[0];
    };
    const agent = await one("agent_id", input.agent_id, repo.resolveAgents);
    const sprint = await one("sprint_id", input.sprint_id, repo.resolveSprints);
    let requirements: Array<{ id: number; key: string }> | undefined;
    if (input.requirement_ids !== undefined) {
      const refs = input.requirement_ids.map((r) => [r, parseRef(r)] as const);
      const found = await repo.resolveRequirements(
        tx,
        refs.map(([, p]) => p).filter((p): p is Ref => p !== null),
      );
      const missing: string[] = [];
      const seen = new Map<number, { id: number; key: string }>();
      for (const [raw, p] of refs) {
        const hit = p === null ? undefined : found.find((f) => (typeof p === "number" ? f.id === p : f.key === p));
        if (!hit) missing.push(String(raw));
        else if (!seen.has(hit.id)) seen.set(hit.id, hit);
      }
      if (missing.length > 0) errors.requirement_ids = [`contains unknown requirements: ${missing.join(", ")}`];
      requirements = [...seen.values()].sort((a, b) => a.id - b.id);
    }
    if (Object.keys(errors).length > 0) throw new Invalid(errors);
    return { agent, sprint, requirements };
  }

  async function create(missionRaw: string, input: TaskCreate, by: Principal) {
    const taskId = input.task_id ?? generateKey("task");
    // The mission's 404 comes before the references' 422.
    // In a transaction (`tx`) everything is read there. Outside one the mission comes from the process's
    // id ↔ key map once seen (missions are never deleted and keep their key: db/keys.ts), which leaves a
    // create that names no agent or sprint one round trip: its statement.
    const read = async (tx?: Executor): Promise<NewTask> => {
      const mission = tx ? await loadMission(tx, missionRaw) : await missionOfNewTask(missionRaw);
      const refs = await resolveRefs(tx ?? db, input);
      return {
        taskId,
        mission,
        objective: input.objective,
        agent: refs.agent ?? null,
        sprint: refs.sprint ?? null,
        requirements: refs.requirements ?? [],
        priority: input.priority ?? null,
        outputs: input.outputs ?? {},
        requiredCapabilities: input.required_capabilities ?? [],
      };
    };
    try {
      // Requirements can be deleted, so a task linked to some is made in one transaction with its links; any
      // other in one statement after its mission, agent and sprint are read (never deleted).
      const view =
        input.requirement_ids !== undefined && input.requirement_ids.length > 0
          ? await db.transaction(async (tx) => createTaskInTx(tx, by.actor, await read(tx)))
          : await createTaskAlone(database, by.actor, await read());
      return taskToApi(view, []);
    } catch (err) {
      if (isUniqueViolation(err)) throw Invalid.field("task_id", "has already been taken");
      throw err;
    }
  }

  async function get(idRaw: string, by: Principal) {
    const ref = parseRef(idRaw);
    const found = ref === null ? undefined : await repo.readTaskForApi(database, ref, LATEST_LOGS);
    if (!found) throw new NotFound();
    await assertCanRead(found, by);
    return found.task;
  }

  async function listWhere(filter: repo.TaskFilter, q: TaskListQuery, by: Principal) {
    const page = pageOf(q);
    const rows = await repo.listTaskSummaries(
      database,
      {
        ...filter,
        status: q.status,
        agent: queryRef("agent_id", q.agent_id),
        sprint: queryRef("sprint_id", q.sprint_id),
        visibleTo: by.role === "agent" ? agentOf(by) : undefined,
      },
      page,
    );
    // The rows are already in the response's shape.
    return toPage(rows, page, (r) => r);
  }

  /** Every task the caller may see, filtered (how an agent finds its work). */
  async function list(q: TaskListQuery, by: Principal) {
    return listWhere({}, q, by);
  }

  async function listForMission(missionRaw: string, q: TaskListQuery, by: Principal) {
    const ref = parseRef(missionRaw);
    if (ref === null) throw new NotFound();
    // An agent may list the tasks of a mission it is on or has a task in; for any other mission the answer
    // is 403 (as reading the mission is), not an empty page that looks like "no tasks".
    if (by.role === "agent") {
      const m = await loadMission(db, missionRaw);
      const me = agentOf(by);
      if (!(await isAgentOnMission(db, m.id, me)) && !(await repo.hasTaskInMission(db, m.id, me)))
        throw new Forbidden();
    }
    // One statement in the common case: the mission is looked up on its own only when the page is empty
    // (or the query is refused), to tell "no such mission" (404, which wins) from "no tasks".
    let page: Awaited<ReturnType<typeof listWhere>>;
    try {
      page = await listWhere({ mission: ref }, q, by);
    } catch (err) {
      await loadMission(db, missionRaw);
      throw err;
    }
    if (page.data.length === 0) await loadMission(db, missionRaw);
    return page;
  }

  /**
   * A PATCH of the status alone that is a plain move (`isPlainMove`), the usual one: one read, then one
   * statement that moves the task and appends its entry, conditional on the task being unchanged since the
   * read. Undefined when that does not apply or the task changed in between: the transaction decides then.
   */
  async function moveAlone(idRaw: string, input: TaskUpdate, by: Principal) {
    const to = input.status;
    if (to === undefined || Object.values(input).filter((v) => v !== undefined).length !== 1) return undefined;
    const found = await loadVersioned(idRaw);
    const cur = found.view;
    if (!isPlainMove(cur, to, "update")) return undefined;
    const done = await repo.applyMove(database, {
      id: cur.id,
      version: found.version,
      from: cur.status,
      to,
      latest: LATEST_LOGS,
      trace: statusChangedEntry(cur, by.actor, to, { via: "update" }),
    });
    return done && taskToApi({ ...cur, status: to, updatedAt: done.updatedAt }, done.logs);
  }

  async function update(idRaw: string, input: TaskUpdate, by: Principal) {
    const alone = await moveAlone(idRaw, input, by);
    if (alone) return alone;
    const [t, logs] = await db.transaction(async (tx) => {
      const cur = await load(tx, idRaw, { lock: true });
      if (input.task_id !== undefined && input.task_id !== cur.taskId)
        throw Invalid.field("task_id", "cannot be changed");
      const refs = await resolveRefs(tx, input);
      const logs = await repo.latestLogs(tx, cur.id, LATEST_LOGS);
      const changes: Record<string, unknown> = {};
      const set: Partial<repo.TaskRow> = {};
      const next: repo.TaskView = { ...cur };
      if (input.objective !== undefined && input.objective !== cur.objective) {
        set.objective = next.objective = changes.objective = input.objective;
      }
      if (refs.agent !== undefined && (refs.agent?.id ?? null) !== cur.agentId) {
        set.agentId = next.agentId = refs.agent?.id ?? null;
        next.agentKey = changes.agent_id = refs.agent?.key ?? null;
      }
      if (refs.sprint !== undefined && (refs.sprint?.id ?? null) !== cur.sprintId) {
        set.sprintId = next.sprintId = refs.sprint?.id ?? null;
        next.sprintKey = changes.sprint_id = refs.sprint?.key ?? null;
      }
      if (input.priority !== undefined && input.priority !== cur.priority) {
        set.priority = next.priority = changes.priority = input.priority;
      }
      if (input.outputs !== undefined && canonicalJson(input.outputs) !== canonicalJson(cur.outputs)) {
        set.outputs = next.outputs = changes.outputs = input.outputs;
      }
      if (
        input.required_capabilities !== undefined &&
        canonicalJson(input.required_capabilities) !== canonicalJson(cur.requiredCapabilities)
      ) {
        set.requiredCapabilities =
          next.requiredCapabilities =
          changes.required_capabilities =
            input.required_capabilities;
      }
      if (refs.requirements !== undefined) {
        const keys = refs.requirements.map((r) => r.key);
        if (canonicalJson([...keys].sort()) !== canonicalJson([...cur.requirementKeys].sort())) {
          await repo.setTaskRequirements(
            tx,
            cur.id,
            refs.requirements.map((r) => r.id),
          );
          next.requirementKeys = changes.requirement_ids = keys;
        }
      }
      let moved = next;
      if (Object.keys(changes).length > 0) {
        const row = await repo.updateTask(tx, cur.id, set);
        moved = { ...next, ...row };
        await appendTrace(tx, {
          event: "task.updated",
          actor: by.actor,
          missionId: moved.missionKey,
          taskId: moved.taskId,
          agentId: moved.agentKey,
          data: { changes },
        });
      }
      if (input.status !== undefined) moved = await move(tx, moved, input.status, by.actor, { via: "update" });
      return [moved, logs] as const;
    });
    return taskToApi(t, logs);
  }

  /** The checks every report passes before anything is written; the status it moves to. */
  function checkReport(cur: repo.TaskView, input: TaskReport, outputs: Record<string, unknown>, by: Principal) {
    if (by.role === "agent" && cur.agentId !== agentOf(by)) throw new Forbidden();
    // A run's token moves only the run's task.
    if (by.runTaskId != null && cur.id !== by.runTaskId) throw new Forbidden();
    // Reports add up: the merged outputs are bounded too, so no caller can grow a task without limit.
    if (Object.keys(outputs).length > 0 && jsonBytes({ ...cur.outputs, ...outputs }) > MAX_TASK_OUTPUTS_BYTES) {
      throw Invalid.field(
        "outputs",
        `would make the task's outputs larger than ${MAX_TASK_OUTPUTS_BYTES} bytes as JSON`,
      );
    }
    const to = input.status ?? cur.status;
    const illegal = moveError(cur.status, to, "report");
    if (illegal) throw Invalid.field("status", illegal);
    return to;
  }

  /**
   * Applies a progress report: the status through the state machine, outputs shallow-merged, logs
   * appended, all at once: an illegal move is a 422 before anything is written.
   *
   * The hot path (agents report progress constantly) is a report that keeps the status, adds outputs or log
   * lines, and names no actions for the guardrails: one read, then one statement that writes everything
   * (repo.applyReport), conditional on the task not having changed since the read. Any other report, or one
   * whose task changed in between, runs as one transaction of several statements.
   */
  async function report(idRaw: string, input: TaskReport, by: Principal) {
    const now = new Date();
    const logsIn = (input.logs ?? []).map((l, i) => ({ ...l, at: logTime(l.timestamp, now, i) }));
    const outputs = input.outputs ?? {};
    const adds = Object.keys(outputs).length > 0 || logsIn.length > 0;
    const actions = reportedActions(outputs);
    const guarded = actions !== null && actions.length > 0 && checkReportedActions !== undefined;
    if (adds && !guarded) {
      const found = await loadVersioned(idRaw);
      const cur = found.view;
      if (checkReport(cur, input, outputs, by) === cur.status) {
        const done = await repo.applyReport(database, {
          id: cur.id,
          version: found.version,
          status: cur.status,
          outputs,
          logs: logsIn.map((l) => ({ message: l.message, level: l.level ?? null, at: l.at })),
          latest: LATEST_LOGS,
          trace: reportedEntry(cur, by.actor, { outputs, logsAdded: logsIn.length }),
        });
        if (done) return taskToApi({ ...cur, outputs: done.outputs, updatedAt: done.updatedAt }, done.logs);
      }
    }
    const [t, logs] = await db.transaction(async (tx) => {
      // Locked first, as the single-statement path's update does: reports on one task take turns, so a
      // report's lines get consecutive ids (adjacent in the task's logs) instead of interleaving with
      // another's (PostgreSQL draws ids for concurrent inserts in any order).
      const cur = await load(tx, idRaw, { lock: true });
      let to = checkReport(cur, input, outputs, by);
      // The move itself comes after the logs, because a trace append holds the mission's chain until
      // commit: appends go last.
      let comment: string | undefined;
      if (guarded) {
        const verdict = await checkReportedActions!(tx, { actions: actions!, task: cur, actor: by.actor });
        if (verdict.blocked) {
          comment = `blocked by policy: ${verdict.messages.join("; ")}`;
          logsIn.push({ message: comment, level: "error", at: now } as (typeof logsIn)[number]);
          if (moveError(cur.status, TASK.blocked, "report") === null) to = TASK.blocked;
        }
      }
      await repo.insertLogs(
        tx,
        logsIn.map((l) => ({ taskId: cur.id, message: l.message, level: l.level ?? null, timestamp: l.at })),
      );
      const latest = await repo.latestLogs(tx, cur.id, LATEST_LOGS);
      const moved = await move(tx, cur, to, by.actor, { via: "report", outputs, touch: adds, comment });
      if (adds) await appendTrace(tx, reportedEntry(moved, by.actor, { outputs, logsAdded: logsIn.length }));
      return [moved, latest] as const;
    });
    return taskToApi(t, logs);
  }

  /** Runs `fn` after every earlier call for the same task in this process has settled. */
  async function oneAtATime<T>(taskId: number, fn: () => Promise<T>): Promise<T> {
    const prev = approving.get(taskId) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    approving.set(taskId, settled);
    try {
      return await run;
    } finally {
      if (approving.get(taskId) === settled) approving.delete(taskId);
    }
  }

  /** approve / reject: only from `pending_review`; the comment goes into the `task.status_changed` entry. */
  async function review(idRaw: string, action: "approve" | "reject", input: ReviewBody, by: Principal) {
    const first = await load(db, idRaw);
    const hooks = action === "approve" ? beforeComplete : [];
    const go = async (t: repo.TaskView) => {
      if (t.status !== TASK.pending_review)
        throw Invalid.field("status", `cannot ${action} a task that is ${t.status}`);
      // Outside the transaction: a pre-completion step may call out (GitHub), and must not hold the
      // database while it does. The conditional move below still decides any race.
      for (const hook of hooks) await hook(taskSummaryToApi(t), { principal: by, comment: input.comment });
      return db.transaction(async (tx) => {
        const logs = await repo.latestLogs(tx, t.id, LATEST_LOGS);
        const moved = await transitionTask(tx, t, action === "approve" ? TASK.completed : TASK.rejected, by.actor, {
          via: action,
          comment: input.comment,
        });
        if (action === "approve")
          for (const step of onApproved) await step(tx, moved, { principal: by, comment: input.comment });
        return taskToApi(moved, logs);
      });
    };
    // With a pre-completion step, concurrent approves of one task queue up, and each re-reads the task:
    // the step (a merge) runs once, and the later approves see `completed` and get 422.
    const reviewed =
      hooks.length === 0 ? await go(first) : await oneAtATime(first.id, async () => go(await load(db, first.id)));
    // An approved task's branch is no longer in play: the tasks it conflicted with are checked again without
    // it, against their base as it is now (conflicts.ts). After the approval committed; a failure there is not
    // the review's.
    if (action === "approve")
      await createConflictRadar(database, by.actor)
        .afterApproval(first.id)
        .catch(() => undefined);
    return reviewed;
  }

  async function logs(idRaw: string, q: LogListQuery, by: Principal) {
    const t = await load(db, idRaw);
    await assertCanRead(t, by);
    const page = pageOf(q);
    return toPage(await repo.listLogs(db, t.id, page), page, logToApi);
  }

  return {
    create,
    get,
    list,
    listForMission,
    update,
    report,
    approve: (id: string, input: ReviewBody, by: Principal) => review(id, "approve", input, by),
    reject: (id: string, input: ReviewBody, by: Principal) => review(id, "reject", input, by),
    logs,
    load,
    transition: transitionTask,
    toApi: taskToApi,
  };
}
