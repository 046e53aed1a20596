// The traceability matrix: objective → key results / requirements → tasks, with coverage and delivery
// figures. Invariant: it is read in a fixed number of set-based queries (traceability.repo.ts), all in one
// read-only REPEATABLE READ transaction so the tree and its stats describe the same snapshot; everything
// else is done in memory in time linear in the rows read.
import { sql } from "drizzle-orm";
import type { Database } from "../db/client.js";
import { parseRef } from "../core/ids.js";
import { pct } from "../okrs/okrs.progress.js";
import { groupBy, objectiveToApi } from "../okrs/okrs.view.js";
import type { RequirementView } from "../requirements/requirements.lookup.js";
import { requirementToApi } from "../requirements/requirements.view.js";
import * as repo from "./traceability.repo.js";
import type { Matrix, MatrixQuery } from "./traceability.schemas.js";

export interface TraceabilityDeps {
  database: Database;
  /** The clock objectives' health is judged against. */
  now?: () => Date;
}

export type TraceabilityService = ReturnType<typeof createTraceabilityService>;

/** `record` as JSON text with one more field, `key`, a list whose items are already JSON text (`items`). */
function withList(record: object, key: string, items: string): string {
  return `${JSON.stringify(record).slice(0, -1)},"${key}":[${items}]}`;
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

  /** The matrix as JSON text (the `data` of the answer), written without an object per task (see taskGroupsIn). */
  async function matrixJson(q: Omit<MatrixQuery, "format">): Promise<string> {
    const scope: repo.MatrixScope = {
      objective: q.objective_id === undefined ? undefined : parseRef(q.objective_id),
      mission: q.mission_id === undefined ? undefined : parseRef(q.mission_id),
      sprint: q.sprint_id === undefined ? undefined : parseRef(q.sprint_id),
    };
    const { objectives, krs, reqs, groups } = await db.transaction(
      async (tx) => {
        // The task groups are sorted in memory: at 100,000 tasks the default 4 MB spills them to disk. No JIT:
        // compiling the reads' expressions cost more than it saved (100,000 tasks on PostgreSQL, 8 alternated
        // pairs: median 1.23 s with it, 1.03 s without; PGlite has no JIT).
        await tx.execute(sql`SELECT set_config('work_mem', '64MB', true), set_config('jit', 'off', true)`);
        return {
          objectives: await repo.objectivesIn(tx, scope),
          krs: await repo.keyResultsIn(tx, scope),
          reqs: await repo.requirementsIn(tx, scope),
          groups: await repo.taskGroupsIn(tx, scope),
        };
      },
      { isolationLevel: "repeatable read", accessMode: "read only" },
    );
    const completed = new Set<number>();
    /** Requirement id → ids of the in-scope tasks serving it, in no particular order (the figures need the set). */
    const tasksOf = new Map<number, number[]>();
    /** Requirement id → those tasks as API JSON, comma-separated. */
    const jsonOf = new Map<number, string>();
    const linked = new Set<number>();
    let unlinked: { ids: number[]; json: string } = { ids: [], json: "" };
    for (const g of groups) {
      const ids = JSON.parse(g.ids) as number[];
      for (let i = 0; i < ids.length; i++) {
        if (ids[i]! < 0) completed.add((ids[i] = -ids[i]!));
      }
      if (g.requirementId === null) {
        unlinked = { ids, json: g.json };
        continue;
      }
      tasksOf.set(g.requirementId, ids);
      jsonOf.set(g.requirementId, g.json);
      for (const id of ids) linked.add(id);
    }
    if (repo.countsFromGroups(scope)) {
      for (const r of reqs) {
        const ids = tasksOf.get(r.id) ?? [];
        r.taskCount = ids.length;
        r.completedTaskCount = ids.filter((id) => completed.has(id)).length;
      }
    }
    const totalTasks = linked.size + unlinked.ids.length;
    const withTasks = (r: RequirementView) => withList(requirementToApi(r), "tasks", jsonOf.get(r.id) ?? "");

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
    const stats = {
      total_objectives: objectives.length,
      total_tasks: totalTasks,
      linked_tasks: linked.size,
      unlinked_tasks: unlinked.ids.length,
      task_coverage_pct: pct(linked.size, totalTasks),
      completed_tasks: completed.size,
      ...overall.figures,
      by_priority: {
        p0: priority("p0"),
        p1: priority("p1"),
        p2: priority("p2"),
        p3: priority("p3"),
        none: priority(null),
      },
    };

    // The same text JSON.stringify would write for { objectives: [{ ...objectiveToApi, requirements }],
    // unlinked_requirements, unlinked_tasks, stats }.
    const objectivesJson = objectives
      .map((o) => {
        const own = reqsOf.get(o.id) ?? [];
        return withList(
          objectiveToApi(o, krsOf.get(o.id) ?? [], own, at),
          "requirements",
          own.map(withTasks).join(","),
        );
      })
      .join(",");
    const unlinkedRequirements = reqs
      .filter((r) => r.objectiveId === null)
      .map(withTasks)
      .join(",");
    return `{"objectives":[${objectivesJson}],"unlinked_requirements":[${unlinkedRequirements}],"unlinked_tasks":[${unlinked.json}],"stats":${JSON.stringify(stats)}}`;
  }

  /** The matrix as objects (the CSV export): the JSON text parsed, so both formats show the same data. */
  async function matrix(q: Omit<MatrixQuery, "format">): Promise<Matrix> {
    return JSON.parse(await matrixJson(q)) as Matrix;
  }

  return { matrix, matrixJson };
}

export type MatrixApi = Matrix;
