// The traceability matrix: objective → key results / requirements → tasks, with coverage and delivery
// figures. Invariant: it is read in a fixed number of set-based queries (traceability.repo.ts), all in one
// read-only REPEATABLE READ transaction so the tree and its stats describe the same snapshot; everything
// else is done in memory in time linear in the rows read.
import { sql } from "drizzle-orm";
import type { Database } from "../db/client.js";
import { parseRef } from "../core/ids.js";
import { pct } from "../okrs/okrs.progress.js";
import { groupBy, objectiveToApi } from "../okrs/okrs.view.js";
import { requirementToApi } from "../requirements/requirements.view.js";
import { REQUIREMENT_PRIORITIES } from "../requirements/requirements.schemas.js";
import * as repo from "./traceability.repo.js";
import type { Matrix, MatrixQuery } from "./traceability.schemas.js";

export interface TraceabilityDeps {
  database: Database;
  /** The clock objectives' health is judged against. */
  now?: () => Date;
}

export type TraceabilityService = ReturnType<typeof createTraceabilityService>;

/** How long a piece of the matrix's text grows before it is handed on (fewer, larger writes to the socket). */
const PIECE = 64 * 1024;

/** The pieces of `parts`, joined into pieces of at least `size` characters (the last may be shorter). */
function* coalesced(parts: Iterable<string>, size: number): Generator<string> {
  let pending = "";
  for (const part of parts) {
    pending += part;
    if (pending.length < size) continue;
    yield pending;
    pending = "";
  }
  if (pending.length > 0) yield pending;
}

/** `record` as JSON text with one more field, `key`, a list whose items are already JSON text (`items`). */
function withList(record: object, key: string, items: string): string {
  return `${JSON.stringify(record).slice(0, -1)},"${key}":[${items}]}`;
}

/** The requirement figures' groups: by priority (`none`: no priority), then all requirements. */
const PRIORITY_KEYS = [...REQUIREMENT_PRIORITIES, "none"] as const;
const NONE = PRIORITY_KEYS.indexOf("none");
const ALL = PRIORITY_KEYS.length;

/** A requirement's group among PRIORITY_KEYS (-1: a priority outside them, counted only in the overall figures). */
function priorityIndex(p: string | null): number {
  return p === null ? NONE : (REQUIREMENT_PRIORITIES as readonly string[]).indexOf(p);
}

/**
 * Coverage and delivery of the requirements, overall and per priority, given the ids of the in-scope tasks
 * serving each: one pass over the links, each task marked with the groups it serves (a bit per group).
 */
function requirementFigures(
  reqs: repo.MatrixRequirementView[],
  tasksOf: Map<number, number[]>,
  completed: Set<number>,
) {
  const total = new Array<number>(ALL + 1).fill(0);
  const linked = new Array<number>(ALL + 1).fill(0);
  const delivered = new Array<number>(ALL + 1).fill(0);
  const groupsOf = new Map<number, number>();
  for (const r of reqs) {
    const p = priorityIndex(r.priority);
    const bits = (1 << ALL) | (p < 0 ? 0 : 1 << p);
    total[ALL]!++;
    if (p >= 0) total[p]!++;
    const ids = tasksOf.get(r.id);
    if (!ids) continue;
    let allDone = true;
    for (const id of ids) {
      groupsOf.set(id, (groupsOf.get(id) ?? 0) | bits);
      if (allDone && !completed.has(id)) allDone = false;
    }
    for (const g of p < 0 ? [ALL] : [p, ALL]) {
      linked[g]!++;
      if (allDone) delivered[g]!++;
    }
  }
  const tasks = new Array<number>(ALL + 1).fill(0);
  const completedTasks = new Array<number>(ALL + 1).fill(0);
  for (const [id, bits] of groupsOf) {
    const done = completed.has(id);
    for (let g = 0; g <= ALL; g++) {
      if ((bits & (1 << g)) === 0) continue;
      tasks[g]!++;
      if (done) completedTasks[g]!++;
    }
  }
  const figures = (g: number) => ({
    total_requirements: total[g]!,
    linked_requirements: linked[g]!,
    requirement_coverage_pct: pct(linked[g]!, total[g]!),
    delivered_requirements: delivered[g]!,
    delivery_pct: pct(delivered[g]!, linked[g]!),
  });
  const priorityFigures = (g: number) => ({
    ...figures(g),
    total_tasks: tasks[g]!,
    completed_tasks: completedTasks[g]!,
  });
  const byPriority: Matrix["stats"]["by_priority"] = {
    p0: priorityFigures(priorityIndex("p0")),
    p1: priorityFigures(priorityIndex("p1")),
    p2: priorityFigures(priorityIndex("p2")),
    p3: priorityFigures(priorityIndex("p3")),
    none: priorityFigures(NONE),
  };
  // Every task serving a requirement in scope: the in-scope tasks that are linked.
  return { overall: figures(ALL), byPriority, linkedTasks: tasks[ALL]! };
}

export function createTraceabilityService({ database, now = () => new Date() }: TraceabilityDeps) {
  const { db } = database;

  /**
   * The matrix as JSON text (the `data` of the answer), in pieces of about PIECE characters in document order (an
   * objective at a time, the statistics last), made as they are asked for: sent as a stream, the answer leaves
   * while the rest is built, and the process serves other requests between pieces. The reads, the counts and the
   * figures are done before this returns, so what can fail fails here, as a plain error. No object is built per
   * task (see taskGroupsIn).
   */
  async function matrixText(q: Omit<MatrixQuery, "format">): Promise<Iterable<string>> {
    const scope: repo.MatrixScope = {
      objective: q.objective_id === undefined ? undefined : parseRef(q.objective_id),
      mission: q.mission_id === undefined ? undefined : parseRef(q.mission_id),
      sprint: q.sprint_id === undefined ? undefined : parseRef(q.sprint_id),
    };
    // Only the reads hold the transaction (on the embedded database it holds every other request back).
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
    const countsFromGroups = repo.countsFromGroups(scope);
    const reqById = new Map(reqs.map((r) => [r.id, r]));
    const krsOf = groupBy(krs, (k) => k.objectiveId);
    const reqsOf = groupBy(reqs, (r) => r.objectiveId);
    const at = now();
    const completed = new Set<number>();
    /** Requirement id → ids of the in-scope tasks serving it, in no particular order (the figures need the set). */
    const tasksOf = new Map<number, number[]>();
    /** Requirement id → those tasks as API JSON, comma-separated. */
    const jsonOf = new Map<number, string>();
    let unlinked: { ids: number[]; json: string } = { ids: [], json: "" };

    const requirementJson = (r: repo.MatrixRequirementView) =>
      withList(requirementToApi(r), "tasks", jsonOf.get(r.id) ?? "");
    const objectiveJson = (o: (typeof objectives)[number]) => {
      const own = reqsOf.get(o.id) ?? [];
      const record = objectiveToApi(o, krsOf.get(o.id) ?? [], own, at);
      return withList(record, "requirements", own.map(requirementJson).join(","));
    };

    for (const g of groups) {
      const ids = JSON.parse(g.ids) as number[];
      let done = 0;
      for (let i = 0; i < ids.length; i++) {
        if (ids[i]! < 0) {
          completed.add((ids[i] = -ids[i]!));
          done++;
        }
      }
      if (g.requirementId === null) {
        unlinked = { ids, json: g.json };
        continue;
      }
      tasksOf.set(g.requirementId, ids);
      jsonOf.set(g.requirementId, g.json);
      const r = reqById.get(g.requirementId);
      if (countsFromGroups && r) {
        r.taskCount = ids.length;
        r.completedTaskCount = done;
      }
    }
    const figures = requirementFigures(reqs, tasksOf, completed);
    const totalTasks = figures.linkedTasks + unlinked.ids.length;
    const stats = {
      total_objectives: objectives.length,
      total_tasks: totalTasks,
      linked_tasks: figures.linkedTasks,
      unlinked_tasks: unlinked.ids.length,
      task_coverage_pct: pct(figures.linkedTasks, totalTasks),
      completed_tasks: completed.size,
      ...figures.overall,
      by_priority: figures.byPriority,
    };
    // The same text JSON.stringify would write for { objectives: [{ ...objectiveToApi, requirements }],
    // unlinked_requirements, unlinked_tasks, stats }. The counts are in (an objective's progress needs its
    // requirements'), so the objectives can be written.
    function* parts(): Generator<string> {
      yield `{"objectives":[`;
      for (let i = 0; i < objectives.length; i++) yield (i === 0 ? "" : ",") + objectiveJson(objectives[i]!);
      const unlinkedRequirements = reqs
        .filter((r) => r.objectiveId === null)
        .map(requirementJson)
        .join(",");
      yield `],"unlinked_requirements":[${unlinkedRequirements}],"unlinked_tasks":[${unlinked.json}],"stats":${JSON.stringify(stats)}}`;
    }
    return coalesced(parts(), PIECE);
  }

  /** The matrix as objects (the CSV export): the JSON text parsed, so both formats show the same data. */
  async function matrix(q: Omit<MatrixQuery, "format">): Promise<Matrix> {
    return JSON.parse([...(await matrixText(q))].join("")) as Matrix;
  }

  return { matrix, matrixText };
}

export type MatrixApi = Matrix;
