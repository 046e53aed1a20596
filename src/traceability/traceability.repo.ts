// The traceability matrix's queries: four set-based reads (objectives, key results, requirements with their
// task counts, tasks with the requirements they serve), whatever the size of the data. Each takes the same
// scope.
import { and, asc, eq, getTableColumns, inArray, sql, type SQL } from "drizzle-orm";
import type { Executor } from "../db/client.js";
import { refWhere } from "../db/lookup.js";
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
import type { RequirementView } from "../requirements/requirements.lookup.js";
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

/**
 * Requirements in scope with the counts of all the tasks serving them (not only those in scope: a
 * requirement's completion, and so its objective's progress, do not change with the view's filters).
 */
export async function requirementsIn(exec: Executor, s: MatrixScope): Promise<RequirementView[]> {
  const counts = exec
    .select({
      requirementId: taskRequirements.requirementId,
      n: sql<number>`cast(count(*) as integer)`.as("n"),
      done: sql<number>`cast(count(*) filter (where ${tasks.status} = ${TASK.completed}) as integer)`.as("done"),
    })
    .from(taskRequirements)
    .innerJoin(tasks, eq(tasks.id, taskRequirements.taskId))
    .where(s.objective === undefined ? undefined : inArray(taskRequirements.requirementId, requirementIdsIn(exec, s)))
    .groupBy(taskRequirements.requirementId)
    .as("counts");
  return exec
    .select({
      ...getTableColumns(requirements),
      objectiveKey: objectives.objectiveId,
      krKey: keyResults.krId,
      taskCount: sql<number>`coalesce(${counts.n}, 0)`,
      completedTaskCount: sql<number>`coalesce(${counts.done}, 0)`,
    })
    .from(requirements)
    .leftJoin(objectives, eq(objectives.id, requirements.objectiveId))
    .leftJoin(keyResults, eq(keyResults.id, requirements.krId))
    .leftJoin(counts, eq(counts.requirementId, requirements.id))
    .where(requirementObjectiveCond(exec, s))
    .orderBy(asc(requirements.id));
}

export interface MatrixTaskRow {
  id: number;
  taskId: string;
  objective: string;
  status: string;
  missionKey: string;
  sprintKey: string | null;
  agentKey: string | null;
  /** The requirements in scope it serves, ascending. */
  requirementIds: number[];
}

type TaskTuple = [number, string, string, string, string, string | null, string | null, number[]];

/**
 * Tasks in scope, each with the ids of the requirements in scope it serves. With an objective filter, only
 * tasks serving one of its requirements are in scope.
 *
 * This is the one read that grows to a hundred thousand rows, so PostgreSQL hands it over as a single JSON
 * array of arrays (links aggregated per task): decoding one JSON text is several times cheaper for this
 * process than decoding that many rows field by field.
 */
export async function tasksIn(exec: Executor, s: MatrixScope): Promise<MatrixTaskRow[]> {
  const links = exec
    .select({
      taskId: taskRequirements.taskId,
      ids: sql<number[]>`array_agg(${taskRequirements.requirementId} order by ${taskRequirements.requirementId})`.as(
        "ids",
      ),
    })
    .from(taskRequirements)
    .where(s.objective === undefined ? undefined : inArray(taskRequirements.requirementId, requirementIdsIn(exec, s)))
    .groupBy(taskRequirements.taskId)
    .as("links");
  const rows = await exec
    .select({
      json: sql<string>`cast(coalesce(json_agg(json_build_array(${tasks.id}, ${tasks.taskId}, ${tasks.objective}, ${tasks.status}, ${missions.missionId}, ${sprints.sprintId}, ${agents.agentId}, coalesce(${links.ids}, '{}')) order by ${tasks.id}), '[]') as text)`,
    })
    .from(tasks)
    .innerJoin(missions, eq(missions.id, tasks.missionId))
    .leftJoin(sprints, eq(sprints.id, tasks.sprintId))
    .leftJoin(agents, eq(agents.id, tasks.agentId))
    .leftJoin(links, eq(links.taskId, tasks.id))
    .where(and(taskConds(exec, s), s.objective === undefined ? undefined : sql`${links.taskId} is not null`));
  return (JSON.parse(rows[0]!.json) as TaskTuple[]).map(
    ([id, taskId, objective, status, missionKey, sprintKey, agentKey, requirementIds]) => ({
      id,
      taskId,
      objective,
      status,
      missionKey,
      sprintKey,
      agentKey,
      requirementIds,
    }),
  );
}
