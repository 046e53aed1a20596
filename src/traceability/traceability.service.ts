// The traceability matrix: objective → key results / requirements → tasks, with coverage and delivery
// figures. Invariant: it is read in a fixed number of set-based queries (traceability.repo.ts), all in one
// read-only REPEATABLE READ transaction so the tree and its stats describe the same snapshot; everything
// else is done in memory in time linear in the rows read.
import type { Database } from "../db/client.js";
import { parseRef } from "../core/ids.js";
import { pct } from "../okrs/okrs.progress.js";
import { groupBy, objectiveToApi } from "../okrs/okrs.view.js";
import type { RequirementView } from "../requirements/requirements.lookup.js";
import { requirementToApi } from "../requirements/requirements.view.js";
import * as repo from "./traceability.repo.js";
import type { MatrixQuery } from "./traceability.schemas.js";
import { TASK } from "../tasks/tasks.state.js";

export interface TraceabilityDeps {
  database: Database;
  /** The clock objectives' health is judged against. */
  now?: () => Date;
}

export type TraceabilityService = ReturnType<typeof createTraceabilityService>;

function taskToApi(t: repo.MatrixTaskRow) {
  return {
    id: t.id,
    task_id: t.taskId,
    objective: t.objective,
    status: t.status,
    mission_id: t.missionKey,
    sprint_id: t.sprintKey,
    agent_id: t.agentKey,
  };
}

/** Coverage and delivery of a set of requirements, given the ids of the in-scope tasks serving each. */
function requirementFigures(reqs: RequirementView[], tasksOf: Map<number, number[]>, completed: Set<number>) {
  let linked = 0;
  let delivered = 0;
  const serving = new Set<number>();
  for (const r of reqs) {
    const ids = tasksOf.get(r.id);
    if (!ids) continue;
    linked++;
    if (ids.every((id) => completed.has(id))) delivered++;
    for (const id of ids) serving.add(id);
  }
  let completedServing = 0;
  for (const id of serving) if (completed.has(id)) completedServing++;
  return {
    figures: {
      total_requirements: reqs.length,
      linked_requirements: linked,
      requirement_coverage_pct: pct(linked, reqs.length),
      delivered_requirements: delivered,
      delivery_pct: pct(delivered, linked),
    },
    totalTasks: serving.size,
    completedTasks: completedServing,
  };
}

export function createTraceabilityService({ database, now = () => new Date() }: TraceabilityDeps) {
  const { db } = database;

  async function matrix(q: Omit<MatrixQuery, "format">) {
    const scope: repo.MatrixScope = {
      objective: q.objective_id === undefined ? undefined : parseRef(q.objective_id),
      mission: q.mission_id === undefined ? undefined : parseRef(q.mission_id),
      sprint: q.sprint_id === undefined ? undefined : parseRef(q.sprint_id),
    };
    const { objectives, krs, reqs, tasks } = await db.transaction(
      async (tx) => ({
        objectives: await repo.objectivesIn(tx, scope),
        krs: await repo.keyResultsIn(tx, scope),
        reqs: await repo.requirementsIn(tx, scope),
        tasks: await repo.tasksIn(tx, scope),
      }),
      { isolationLevel: "repeatable read", accessMode: "read only" },
    );
    const taskApi = new Map<number, ReturnType<typeof taskToApi>>();
    const completed = new Set<number>();
    /** Requirement id → ids of the in-scope tasks serving it; tasks arrive oldest first, so the lists are too. */
    const tasksOf = new Map<number, number[]>();
    let linkedTasks = 0;
    for (const t of tasks) {
      taskApi.set(t.id, taskToApi(t));
      if (t.status === TASK.completed) completed.add(t.id);
      if (t.requirementIds.length > 0) linkedTasks++;
      for (const rid of t.requirementIds) {
        let list = tasksOf.get(rid);
        if (!list) tasksOf.set(rid, (list = []));
        list.push(t.id);
      }
    }
    const withTasks = (r: RequirementView) => ({
      ...requirementToApi(r),
      tasks: (tasksOf.get(r.id) ?? []).map((id) => taskApi.get(id)!),
    });

    const krsOf = groupBy(krs, (k) => k.objectiveId);
    const reqsOf = groupBy(reqs, (r) => r.objectiveId);
    const at = now();

    const overall = requirementFigures(reqs, tasksOf, completed);
    const priority = (p: string | null) => {
      const f = requirementFigures(
        reqs.filter((r) => r.priority === p),
        tasksOf,
        completed,
      );
      return { ...f.figures, total_tasks: f.totalTasks, completed_tasks: f.completedTasks };
    };

    return {
      objectives: objectives.map((o) => ({
        ...objectiveToApi(o, krsOf.get(o.id) ?? [], reqsOf.get(o.id) ?? [], at),
        requirements: (reqsOf.get(o.id) ?? []).map(withTasks),
      })),
      unlinked_requirements: reqs.filter((r) => r.objectiveId === null).map(withTasks),
      unlinked_tasks: tasks.filter((t) => t.requirementIds.length === 0).map((t) => taskApi.get(t.id)!),
      stats: {
        total_objectives: objectives.length,
        total_tasks: tasks.length,
        linked_tasks: linkedTasks,
        unlinked_tasks: tasks.length - linkedTasks,
        task_coverage_pct: pct(linkedTasks, tasks.length),
        completed_tasks: completed.size,
        ...overall.figures,
        by_priority: {
          p0: priority("p0"),
          p1: priority("p1"),
          p2: priority("p2"),
          p3: priority("p3"),
          none: priority(null),
        },
      },
    };
  }

  return { matrix };
}

export type MatrixApi = Awaited<ReturnType<TraceabilityService["matrix"]>>;
