// The traceability matrix's queries: four set-based reads (objectives, key results, requirements with their
// task counts, tasks grouped by the requirements they serve), whatever the size of the data. Each takes the same
// scope.
import { and, asc, eq, getTableColumns, inArray, sql, type SQL } from "drizzle-orm";
import { execRows, type Executor } from "../db/client.js";
import { isoText, refWhere } from "../db/lookup.js";
import {
  agents,
  keyResults,
  missions,
  objectives,
  requirements,
  sprints,
  taskRequirements,
  tasks,
} from "../db/schema/index.js";
import type { Ref } from "../core/ids.js";
import type { KeyResultView, ObjectiveRow } from "../okrs/okrs.lookup.js";
import type { RequirementApiInput } from "../requirements/requirements.view.js";
import { TASK } from "../tasks/tasks.state.js";

/**
 * What the matrix covers. A reference is an id or a key; `null` is a reference that can name nothing (so it
 * matches nothing); `undefined` is no filter. `objective` narrows objectives, requirements and (through
 * their links) tasks; `mission` and `sprint` narrow tasks only.
 */
export interface MatrixScope {
  objective?: Ref | null;
  mission?: Ref | null;
  sprint?: Ref | null;
}

const NOTHING = sql`false`;

function objectiveCond(s: MatrixScope): SQL | undefined {
  if (s.objective === undefined) return undefined;
  if (s.objective === null) return NOTHING;
  return refWhere(objectives.id, objectives.objectiveId, s.objective);
}

/** On `requirements.objective_id`: an integer compares directly, a key goes through its objective. */
function requirementObjectiveCond(exec: Executor, s: MatrixScope): SQL | undefined {
  if (s.objective === undefined) return undefined;
  if (s.objective === null) return NOTHING;
  if (typeof s.objective === "number") return eq(requirements.objectiveId, s.objective);
  return inArray(
    requirements.objectiveId,
    exec.select({ id: objectives.id }).from(objectives).where(eq(objectives.objectiveId, s.objective)),
  );
}

/** The conditions on `tasks` for the mission and sprint filters. */
function taskConds(exec: Executor, s: MatrixScope): SQL | undefined {
  let mission: SQL | undefined;
  if (s.mission === null) mission = NOTHING;
  else if (typeof s.mission === "number") mission = eq(tasks.missionId, s.mission);
  else if (typeof s.mission === "string") {
    mission = inArray(
      tasks.missionId,
      exec.select({ id: missions.id }).from(missions).where(eq(missions.missionId, s.mission)),
    );
  }
  let sprint: SQL | undefined;
  if (s.sprint === null) sprint = NOTHING;
  else if (typeof s.sprint === "number") sprint = eq(tasks.sprintId, s.sprint);
  else if (typeof s.sprint === "string") {
    sprint = inArray(
      tasks.sprintId,
      exec.select({ id: sprints.id }).from(sprints).where(eq(sprints.sprintId, s.sprint)),
    );
  }
  return and(mission, sprint);
}

export async function objectivesIn(exec: Executor, s: MatrixScope): Promise<ObjectiveRow[]> {
  return exec.select().from(objectives).where(objectiveCond(s)).orderBy(asc(objectives.id));
}

export async function keyResultsIn(exec: Executor, s: MatrixScope): Promise<KeyResultView[]> {
  return exec
    .select({ ...getTableColumns(keyResults), objectiveKey: objectives.objectiveId })
    .from(keyResults)
    .innerJoin(objectives, eq(objectives.id, keyResults.objectiveId))
    .where(objectiveCond(s))
    .orderBy(asc(keyResults.id));
}

/** The ids of the requirements in scope, as a subquery. */
function requirementIdsIn(exec: Executor, s: MatrixScope) {
  return exec.select({ id: requirements.id }).from(requirements).where(requirementObjectiveCond(exec, s));
}

/** A requirement as the matrix reads it: its timestamps already ISO text. */
export type MatrixRequirementView = RequirementApiInput & { insertedAt: string; updatedAt: string };

/** Whether every task serving a requirement in scope is in scope: then the task groups hold its counts. */
export const countsFromGroups = (s: MatrixScope) => s.mission === undefined && s.sprint === undefined;

/**
 * Requirements in scope with the counts of all the tasks serving them (not only those in scope: a
 * requirement's completion, and so its objective's progress, do not change with the view's filters).
 * Without a mission or sprint filter every task serving a requirement in scope is in scope, so the counts
 * are left at 0 here and taken from the task groups (taskGroupsIn) instead of counting all the links twice.
 * Read as plain rows named as the view's fields, with the timestamps as the answer writes them: at 10,000
 * requirements the ORM's mapping and parsing the timestamps into dates, only to write them out again, cost more
 * than the query.
 */
export async function requirementsIn(exec: Executor, s: MatrixScope): Promise<MatrixRequirementView[]> {
  const counts = countsFromGroups(s)
    ? undefined
    : exec
        .select({
          requirementId: taskRequirements.requirementId,
          n: sql<number>`cast(count(*) as integer)`.as("n"),
          done: sql<number>`cast(count(*) filter (where ${tasks.status} = ${TASK.completed}) as integer)`.as("done"),
        })
        .from(taskRequirements)
        .innerJoin(tasks, eq(tasks.id, taskRequirements.taskId))
        .where(
          s.objective === undefined ? undefined : inArray(taskRequirements.requirementId, requirementIdsIn(exec, s)),
        )
        .groupBy(taskRequirements.requirementId)
        .as("counts");
  const cond = requirementObjectiveCond(exec, s);
  return execRows<MatrixRequirementView>(
    exec,
    sql`SELECT ${requirements.id} AS "id", ${requirements.requirementId} AS "requirementId",
      ${requirements.title} AS "title", ${requirements.description} AS "description",
      ${requirements.priority} AS "priority", ${requirements.horizon} AS "horizon", ${requirements.status} AS "status",
      ${requirements.objectiveId} AS "objectiveId", ${requirements.krId} AS "krId",
      ${isoText(requirements.insertedAt)} AS "insertedAt", ${isoText(requirements.updatedAt)} AS "updatedAt",
      ${objectives.objectiveId} AS "objectiveKey", ${keyResults.krId} AS "krKey",
      ${counts ? sql`coalesce(${counts.n}, 0)` : sql`0`} AS "taskCount",
      ${counts ? sql`coalesce(${counts.done}, 0)` : sql`0`} AS "completedTaskCount"
    FROM ${requirements}
    LEFT JOIN ${objectives} ON ${objectives.id} = ${requirements.objectiveId}
    LEFT JOIN ${keyResults} ON ${keyResults.id} = ${requirements.krId}
    ${counts ? sql`LEFT JOIN ${counts} ON ${counts.requirementId} = ${requirements.id}` : sql``}
    ${cond ? sql`WHERE ${cond}` : sql``}
    ORDER BY ${requirements.id}`,
  );
}

/** The in-scope tasks serving one requirement (`requirementId` null: the tasks serving none in scope). */
export interface MatrixTaskGroup {
  requirementId: number | null;
  /** The tasks as the API shows them, each a JSON object, comma-separated, ascending by id (no brackets). */
  json: string;
  /** Their ids in no particular order, as a JSON array; a completed task's id is negated (ids are positive). */
  ids: string;
}

// A task as JSON text, exactly as JSON.stringify writes taskToApi's object (same key order, no spaces;
// to_json escapes strings as JSON.stringify does).
const taskJson = sql`'{"id":' || ${tasks.id} || ',"task_id":' || to_json(${tasks.taskId}) || ',"objective":' || to_json(${tasks.objective}) || ',"status":' || to_json(${tasks.status}) || ',"mission_id":' || to_json(${missions.missionId}) || ',"sprint_id":' || coalesce(to_json(${sprints.sprintId})::text, 'null') || ',"agent_id":' || coalesce(to_json(${agents.agentId})::text, 'null') || '}'`;

/**
 * Tasks in scope, grouped by the requirement in scope they serve (a task serving two is in both groups; one
 * serving none is in the null group). With an objective filter, only tasks serving one of its requirements
 * are in scope.
 *
 * This is the one read that grows to a hundred thousand rows, so PostgreSQL writes each task's JSON itself and
 * hands over one text per requirement: this process splices those texts into the answer and never builds,
 * nor serializes, an object per task (at 100,000 tasks that was most of the request's CPU and garbage).
 */
export async function taskGroupsIn(exec: Executor, s: MatrixScope): Promise<MatrixTaskGroup[]> {
  const links = exec
    .select({ taskId: taskRequirements.taskId, requirementId: taskRequirements.requirementId })
    .from(taskRequirements)
    .where(s.objective === undefined ? undefined : inArray(taskRequirements.requirementId, requirementIdsIn(exec, s)))
    .as("links");
  const inScope = exec
    .select({
      id: sql<number>`${tasks.id}`.as("id"),
      done: sql<boolean>`${tasks.status} = ${TASK.completed}`.as("done"),
      json: sql<string>`${taskJson}`.as("json"),
    })
    .from(tasks)
    .innerJoin(missions, eq(missions.id, tasks.missionId))
    .leftJoin(sprints, eq(sprints.id, tasks.sprintId))
    .leftJoin(agents, eq(agents.id, tasks.agentId))
    .where(taskConds(exec, s))
    .as("t");
  const grouped = exec
    .select({
      requirementId: links.requirementId,
      json: sql<string>`string_agg(${inScope.json}, ',' order by ${inScope.id})`,
      // Unordered: the figures need the set only, and each ordered aggregate sorts its group on its own
      // (PostgreSQL before 16), ~10 % of this statement.
      ids: sql<string>`cast(json_agg(case when ${inScope.done} then -${inScope.id} else ${inScope.id} end) as text)`,
    })
    .from(inScope);
  // With an objective filter, a task in scope serves one of its requirements: no null group.
  const joined =
    s.objective === undefined
      ? grouped.leftJoin(links, eq(links.taskId, inScope.id))
      : grouped.innerJoin(links, eq(links.taskId, inScope.id));
  return joined.groupBy(links.requirementId);
}
