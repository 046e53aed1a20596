// Sprints. Invariants: whenever both dates are set, end_date is not before start_date (checked on create and
// on every update against the row as locked, so two PATCHes each moving one date cannot together break it);
// a status changes only through `transition` (state machine, conditional update, `sprint.status_changed`);
// every change writes its trace entry in its own transaction. Reads carry task counts by status, fetched
// for a whole page in one grouped query.
import type { Database, Executor } from "../db/client.js";
import { isUniqueViolation } from "../db/lookup.js";
import type { Principal } from "../core/principal.js";
import { Invalid, NotFound } from "../core/errors.js";
import { generateKey, parseRef } from "../core/ids.js";
import { pageOf, toPage } from "../core/pagination.js";
import { TASK_STATUSES } from "../tasks/tasks.state.js";
import { appendTrace } from "../trace/trace.append.js";
import * as repo from "./sprints.repo.js";
import type { SprintCreate, SprintListQuery, SprintUpdate } from "./sprints.schemas.js";
import { canMoveSprint, SPRINT, type SprintStatus } from "./sprints.state.js";

export interface SprintsDeps {
  database: Database;
}

type Counts = Record<string, number> & { total: number };

function emptyCounts(): Counts {
  const c = { total: 0 } as Counts;
  for (const s of TASK_STATUSES) c[s] = 0;
  return c;
}

export type SprintsService = ReturnType<typeof createSprintsService>;

export function createSprintsService({ database }: SprintsDeps) {
  const { db } = database;

  function toApi(s: repo.SprintRow, counts: Counts) {
    return {
      id: s.id,
      sprint_id: s.sprintId,
      name: s.name,
      goal: s.goal,
      start_date: s.startDate,
      end_date: s.endDate,
      status: s.status,
      task_counts: counts,
      inserted_at: s.insertedAt,
      updated_at: s.updatedAt,
    };
  }

  async function countsFor(exec: Executor, ids: number[]): Promise<Map<number, Counts>> {
    const out = new Map<number, Counts>(ids.map((id) => [id, emptyCounts()]));
    for (const r of await repo.taskCounts(exec, ids)) {
      const c = out.get(r.sprintId!)!;
      c[r.status] = r.n;
      c.total += r.n;
    }
    return out;
  }

  async function withCounts(exec: Executor, s: repo.SprintRow) {
    return toApi(s, (await countsFor(exec, [s.id])).get(s.id)!);
  }

  async function load(exec: Executor, idRaw: string | number, opts: { lock?: boolean } = {}) {
    const ref = parseRef(idRaw);
    const s = ref === null ? undefined : await repo.findSprint(exec, ref, opts);
    if (!s) throw new NotFound();
    return s;
  }

  /** Keeps end_date ≥ start_date; the error names the field the request changed (end_date when both). */
  function checkDates(start: string | null, end: string | null, changed: { start: boolean; end: boolean }) {
    if (start === null || end === null || end >= start) return;
    if (changed.end || !changed.start) throw Invalid.field("end_date", "must not be before start_date");
    throw Invalid.field("start_date", "must not be after end_date");
  }

  async function transition(tx: Executor, s: repo.SprintRow, to: SprintStatus, actor: string): Promise<repo.SprintRow> {
    const from = s.status;
    if (from === to) return s;
    if (!canMoveSprint(from, to)) throw Invalid.field("status", `cannot move from ${from} to ${to}`);
    const moved = await repo.moveSprintStatus(tx, s.id, from, to);
    if (!moved) throw Invalid.field("status", `sprint changed concurrently; it is no longer ${from}`);
    await appendTrace(tx, { event: "sprint.status_changed", actor, data: { sprint_id: s.sprintId, from, to } });
    return moved;
  }

  async function create(input: SprintCreate, by: Principal) {
    const startDate = input.start_date ?? null;
    const endDate = input.end_date ?? null;
    checkDates(startDate, endDate, { start: true, end: true });
    const sprintId = input.sprint_id ?? generateKey("sprint");
    try {
      const row = await db.transaction(async (tx) => {
        const s = await repo.insertSprint(tx, {
          sprintId,
          name: input.name,
          goal: input.goal ?? null,
          startDate,
          endDate,
          status: SPRINT.planned,
        });
        if (!s) throw Invalid.field("sprint_id", "has already been taken");
        await appendTrace(tx, {
          event: "sprint.created",
          actor: by.actor,
          data: {
            sprint_id: s.sprintId,
            changes: { name: s.name, goal: s.goal, start_date: s.startDate, end_date: s.endDate, status: s.status },
          },
        });
        return s;
      });
      return toApi(row, emptyCounts());
    } catch (err) {
      if (isUniqueViolation(err)) throw Invalid.field("sprint_id", "has already been taken");
      throw err;
    }
  }

  async function get(idRaw: string) {
    return withCounts(db, await load(db, idRaw));
  }

  async function list(q: SprintListQuery) {
    const page = pageOf(q);
    const rows = await repo.listSprints(db, { status: q.status }, page);
    const counts = await countsFor(
      db,
      rows.slice(0, page.limit).map((r) => r.id),
    );
    return toPage(rows, page, (r) => toApi(r, counts.get(r.id)!));
  }

  async function update(idRaw: string, input: SprintUpdate, by: Principal) {
    const row = await db.transaction(async (tx) => {
      const s = await load(tx, idRaw, { lock: true });
      if (input.sprint_id !== undefined && input.sprint_id !== s.sprintId)
        throw Invalid.field("sprint_id", "cannot be changed");
      const start = input.start_date === undefined ? s.startDate : input.start_date;
      const end = input.end_date === undefined ? s.endDate : input.end_date;
      checkDates(start, end, { start: input.start_date !== undefined, end: input.end_date !== undefined });
      const set: { name?: string; goal?: string | null; startDate?: string | null; endDate?: string | null } = {};
      const changes: Record<string, unknown> = {};
      if (input.name !== undefined && input.name !== s.name) set.name = changes.name = input.name;
      if (input.goal !== undefined && input.goal !== s.goal) set.goal = changes.goal = input.goal;
      if (start !== s.startDate) set.startDate = changes.start_date = start;
      if (end !== s.endDate) set.endDate = changes.end_date = end;
      let cur = s;
      if (Object.keys(set).length > 0) {
        cur = await repo.updateSprint(tx, s.id, set);
        await appendTrace(tx, { event: "sprint.updated", actor: by.actor, data: { sprint_id: s.sprintId, changes } });
      }
      if (input.status !== undefined) cur = await transition(tx, cur, input.status, by.actor);
      return cur;
    });
    return withCounts(db, row);
  }

  return { create, get, list, update, load, transition };
}
