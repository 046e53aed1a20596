// Objectives and their key results. Invariants: every change writes its trace entry in the same transaction;
// an objective or key result that requirements point at cannot be deleted (422), so a requirement never
// loses the OKR it serves behind its back; a key result never moves to another objective, so "a
// requirement's key result belongs to its objective" stays true once checked; `health` is stored only for
// objectives without both dates (with both it is derived, see okrs.progress.ts).
import type { Database, Executor } from "../db/client.js";
import { isUniqueViolation, pgErrorCode } from "../db/lookup.js";
import type { Principal } from "../core/principal.js";
import { Invalid, NotFound } from "../core/errors.js";
import { generateKey, parseRef } from "../core/ids.js";
import { pageOf, toPage } from "../core/pagination.js";
import { completionInputsOf } from "../requirements/requirements.lookup.js";
import { appendTrace } from "../trace/trace.append.js";
import * as repo from "./okrs.repo.js";
import { startError } from "./okrs.progress.js";
import { OBJECTIVE } from "./okrs.state.js";
import type {
  KeyResultCreate,
  KeyResultListQuery,
  KeyResultUpdate,
  ObjectiveCreate,
  ObjectiveListQuery,
  ObjectiveUpdate,
} from "./okrs.schemas.js";
import { groupBy, keyResultToApi, objectiveToApi } from "./okrs.view.js";

export interface OkrsDeps {
  database: Database;
  /** The clock health is judged against. */
  now?: () => Date;
}

export type OkrsService = ReturnType<typeof createOkrsService>;

const HEALTH_DERIVED = "is derived from start_date and end_date; set either to null to set health by hand";
const PROGRESS_COMPUTED = "is computed from current and target; set target to null to set progress directly";

export const isForeignKeyViolation = (err: unknown) => pgErrorCode(err) === "23503";

/** "3 requirements still serve this objective: A, B, C, …" */
export function stillReferenced(total: number, keys: string[], what: string, verb: string, target: string): string {
  const more = total > keys.length ? ", …" : "";
  return `${total} ${what}${total === 1 ? "" : "s"} still ${verb}${total === 1 ? "s" : ""} this ${target}: ${keys.join(", ")}${more}`;
}

function checkDates(start: string | null, end: string | null): void {
  // Dates are YYYY-MM-DD, so comparing the strings compares the days.
  if (start !== null && end !== null && end < start) throw Invalid.field("end_date", "must not be before start_date");
}

export function createOkrsService({ database, now = () => new Date() }: OkrsDeps) {
  const { db } = database;

  /** API shapes for objectives, in two set-based queries however many there are. */
  async function views(exec: Executor, rows: repo.ObjectiveRow[]) {
    const ids = rows.map((r) => r.id);
    const krs = groupBy(await repo.keyResultsOf(exec, ids), (k) => k.objectiveId);
    const reqs = groupBy(await completionInputsOf(exec, ids), (r) => r.objectiveId);
    const at = now();
    return rows.map((o) => objectiveToApi(o, krs.get(o.id) ?? [], reqs.get(o.id) ?? [], at));
  }

  async function view(exec: Executor, row: repo.ObjectiveRow) {
    return (await views(exec, [row]))[0]!;
  }

  async function load(exec: Executor, idRaw: string | number, opts: { lock?: repo.RowLock } = {}) {
    const ref = parseRef(idRaw);
    const o = ref === null ? undefined : await repo.findObjective(exec, ref, opts);
    if (!o) throw new NotFound();
    return o;
  }

  async function loadKeyResult(exec: Executor, idRaw: string, opts: { lock?: repo.RowLock } = {}) {
    const ref = parseRef(idRaw);
    const kr = ref === null ? undefined : await repo.findKeyResult(exec, ref, opts);
    if (!kr) throw new NotFound();
    return kr;
  }

  async function create(input: ObjectiveCreate, by: Principal) {
    const start = input.start_date ?? null;
    const end = input.end_date ?? null;
    checkDates(start, end);
    const health = input.health ?? null;
    if (health !== null && start !== null && end !== null) throw Invalid.field("health", HEALTH_DERIVED);
    try {
      return await db.transaction(async (tx) => {
        const o = await repo.insertObjective(tx, {
          objectiveId: input.objective_id ?? generateKey("objective"),
          title: input.title,
          description: input.description ?? null,
          priority: input.priority ?? null,
          status: input.status ?? OBJECTIVE.active,
          health,
          startDate: start,
          endDate: end,
        });
        await appendTrace(tx, {
          event: "objective.created",
          actor: by.actor,
          data: {
            objective_id: o.objectiveId,
            title: o.title,
            description: o.description,
            priority: o.priority,
            status: o.status,
            health: o.health,
            start_date: o.startDate,
            end_date: o.endDate,
          },
        });
        return view(tx, o);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw Invalid.field("objective_id", "has already been taken");
      throw err;
    }
  }

  async function get(idRaw: string) {
    return view(db, await load(db, idRaw));
  }

  async function list(q: ObjectiveListQuery) {
    const page = pageOf(q);
    const rows = await repo.listObjectives(db, { status: q.status }, page);
    const shown = rows.slice(0, page.limit);
    const apis = new Map((await views(db, shown)).map((v) => [v.id, v]));
    return toPage(rows, page, (r) => apis.get(r.id)!);
  }

  async function update(idRaw: string, input: ObjectiveUpdate, by: Principal) {
    return db.transaction(async (tx) => {
      const o = await load(tx, idRaw, { lock: "no key update" });
      if (input.objective_id !== undefined && input.objective_id !== o.objectiveId) {
        throw Invalid.field("objective_id", "cannot be changed");
      }
      const set: Partial<repo.ObjectiveRow> = {};
      const changes: Record<string, unknown> = {};
      const field = <K extends keyof repo.ObjectiveRow>(
        api: string,
        col: K,
        value: repo.ObjectiveRow[K] | undefined,
      ) => {
        if (value !== undefined && value !== o[col]) {
          set[col] = value;
          changes[api] = value;
        }
      };
      field("title", "title", input.title);
      field("description", "description", input.description);
      field("priority", "priority", input.priority);
      field("status", "status", input.status);
      field("start_date", "startDate", input.start_date);
      field("end_date", "endDate", input.end_date);
      const start = set.startDate !== undefined ? set.startDate : o.startDate;
      const end = set.endDate !== undefined ? set.endDate : o.endDate;
      checkDates(start, end);
      const derived = start !== null && end !== null;
      if (derived && input.health !== undefined && input.health !== null) throw Invalid.field("health", HEALTH_DERIVED);
      // With both dates health is derived; a hand-set value would only resurface, stale, if a date is cleared.
      field("health", "health", derived ? null : input.health);
      let cur = o;
      if (Object.keys(set).length > 0) {
        cur = await repo.updateObjective(tx, o.id, set);
        await appendTrace(tx, {
          event: "objective.updated",
          actor: by.actor,
          data: { objective_id: o.objectiveId, changes },
        });
      }
      return view(tx, cur);
    });
  }

  async function remove(idRaw: string, by: Principal) {
    try {
      await db.transaction(async (tx) => {
        const o = await load(tx, idRaw, { lock: "update" });
        // The row lock makes a concurrent requirement insert pointing here wait (its foreign-key check
        // needs a share lock on this row), so this count cannot miss one that commits before the delete.
        const refs = await repo.requirementsPointingAt(tx, { objectiveId: o.id });
        if (refs.total > 0) {
          throw Invalid.field(
            "requirements",
            stillReferenced(refs.total, refs.keys, "requirement", "serve", "objective"),
          );
        }
        const krKeys = await repo.deleteKeyResultsOf(tx, o.id);
        await repo.deleteObjective(tx, o.id);
        await appendTrace(tx, {
          event: "objective.deleted",
          actor: by.actor,
          data: { objective_id: o.objectiveId, title: o.title, key_results: krKeys },
        });
      });
    } catch (err) {
      if (isForeignKeyViolation(err)) throw Invalid.field("requirements", "requirements still serve this objective");
      throw err;
    }
  }

  // Key results.

  async function createKeyResult(objectiveRaw: string, input: KeyResultCreate, by: Principal) {
    const target = input.target ?? null;
    const progress = input.progress ?? null;
    if (target !== null && progress !== null) throw Invalid.field("progress", PROGRESS_COMPUTED);
    const direction = input.direction ?? "increase";
    const startValue = input.start ?? null;
    const badStart = startError(direction, startValue, target);
    if (badStart) throw Invalid.field("start", badStart);
    try {
      return await db.transaction(async (tx) => {
        const o = await load(tx, objectiveRaw, { lock: "key share" });
        const kr = await repo.insertKeyResult(tx, {
          krId: input.kr_id ?? generateKey("kr"),
          objectiveId: o.id,
          title: input.title,
          target,
          current: input.current ?? null,
          progress,
          direction,
          startValue,
        });
        await appendTrace(tx, {
          event: "key_result.created",
          actor: by.actor,
          data: {
            kr_id: kr.krId,
            objective_id: o.objectiveId,
            title: kr.title,
            target: kr.target,
            current: kr.current,
            progress: kr.progress,
            direction: kr.direction,
            start: kr.startValue,
          },
        });
        return keyResultToApi({ ...kr, objectiveKey: o.objectiveId });
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw Invalid.field("kr_id", "has already been taken");
      throw err;
    }
  }

  async function listKeyResults(objectiveRaw: string, q: KeyResultListQuery) {
    const o = await load(db, objectiveRaw);
    const page = pageOf(q);
    return toPage(await repo.listKeyResults(db, o.id, page), page, keyResultToApi);
  }

  async function getKeyResult(idRaw: string) {
    return keyResultToApi(await loadKeyResult(db, idRaw));
  }

  async function updateKeyResult(idRaw: string, input: KeyResultUpdate, by: Principal) {
    return db.transaction(async (tx) => {
      const kr = await loadKeyResult(tx, idRaw, { lock: "no key update" });
      if (input.kr_id !== undefined && input.kr_id !== kr.krId) throw Invalid.field("kr_id", "cannot be changed");
      if (input.objective_id !== undefined) {
        const ref = parseRef(input.objective_id);
        if (ref !== kr.objectiveId && ref !== kr.objectiveKey) throw Invalid.field("objective_id", "cannot be changed");
      }
      const set: Partial<repo.KeyResultRow> = {};
      const changes: Record<string, unknown> = {};
      const field = <K extends "title" | "target" | "current" | "progress">(
        col: K,
        value: repo.KeyResultRow[K] | undefined,
      ) => {
        if (value !== undefined && value !== kr[col]) {
          set[col] = value;
          changes[col] = value;
        }
      };
      field("title", input.title);
      field("target", input.target);
      field("current", input.current);
      if (input.direction !== undefined && input.direction !== kr.direction)
        set.direction = changes.direction = input.direction;
      if (input.start !== undefined && input.start !== kr.startValue) {
        set.startValue = input.start;
        changes.start = input.start;
      }
      const target = set.target !== undefined ? set.target : kr.target;
      const badStart = startError(
        set.direction ?? kr.direction,
        set.startValue !== undefined ? set.startValue : kr.startValue,
        target,
      );
      if (badStart) throw Invalid.field("start", badStart);
      if (target !== null && input.progress !== undefined && input.progress !== null) {
        throw Invalid.field("progress", PROGRESS_COMPUTED);
      }
      // A direct value kept under a target would resurface, stale, if the target were removed later.
      field("progress", target !== null ? null : input.progress);
      let cur: repo.KeyResultRow = kr;
      if (Object.keys(set).length > 0) {
        cur = await repo.updateKeyResult(tx, kr.id, set);
        await appendTrace(tx, {
          event: "key_result.updated",
          actor: by.actor,
          data: { kr_id: kr.krId, objective_id: kr.objectiveKey, changes },
        });
      }
      return keyResultToApi({ ...cur, objectiveKey: kr.objectiveKey });
    });
  }

  async function removeKeyResult(idRaw: string, by: Principal) {
    try {
      await db.transaction(async (tx) => {
        const kr = await loadKeyResult(tx, idRaw, { lock: "update" });
        const refs = await repo.requirementsPointingAt(tx, { krId: kr.id });
        if (refs.total > 0) {
          throw Invalid.field(
            "requirements",
            stillReferenced(refs.total, refs.keys, "requirement", "serve", "key result"),
          );
        }
        await repo.deleteKeyResult(tx, kr.id);
        await appendTrace(tx, {
          event: "key_result.deleted",
          actor: by.actor,
          data: { kr_id: kr.krId, objective_id: kr.objectiveKey, title: kr.title },
        });
      });
    } catch (err) {
      if (isForeignKeyViolation(err)) throw Invalid.field("requirements", "requirements still serve this key result");
      throw err;
    }
  }

  return {
    create,
    get,
    list,
    update,
    remove,
    createKeyResult,
    listKeyResults,
    getKeyResult,
    updateKeyResult,
    removeKeyResult,
  };
}
