// Requirements. Invariants: a requirement's key result belongs to its objective (checked on every write,
// with both rows share-locked, objective first, so a concurrent delete can neither slip in between nor
// deadlock with us); a requirement that tasks
// serve cannot be deleted (422: unlinking would silently change those tasks, whose links belong to the
// tasks module and its trace); every change writes its trace entry in the same transaction.
import type { Database, Executor } from "../db/client.js";
import { isUniqueViolation } from "../db/lookup.js";
import type { Principal } from "../core/principal.js";
import { Invalid, NotFound } from "../core/errors.js";
import { generateKey, parseRef, type Ref } from "../core/ids.js";
import { pageOf, toPage } from "../core/pagination.js";
import { findKeyResult, findObjective } from "../okrs/okrs.lookup.js";
import { isForeignKeyViolation, stillReferenced } from "../okrs/okrs.service.js";
import { appendTrace } from "../trace/trace.append.js";
import * as repo from "./requirements.repo.js";
import type { RequirementCreate, RequirementListQuery, RequirementUpdate } from "./requirements.schemas.js";
import { requirementToApi } from "./requirements.view.js";
import { REQUIREMENT } from "./requirements.state.js";

export interface RequirementsDeps {
  database: Database;
}

export type RequirementsService = ReturnType<typeof createRequirementsService>;

const KR_MISMATCH = "must be a key result of the requirement's objective";

interface ObjectiveRef {
  id: number;
  key: string;
}
interface KrRef {
  id: number;
  key: string;
  objectiveId: number;
  objectiveKey: string;
}

/** Filter → reference: `undefined` no filter, `null` a filter that can match nothing. */
function filterRef(raw: string | undefined): Ref | null | undefined {
  return raw === undefined ? undefined : parseRef(raw);
}

export function createRequirementsService({ database }: RequirementsDeps) {
  const { db } = database;

  async function resolveObjective(tx: Executor, raw: string | number): Promise<ObjectiveRef> {
    const ref = parseRef(raw);
    const o = ref === null ? undefined : await findObjective(tx, ref, { lock: "key share" });
    if (!o) throw Invalid.field("objective_id", "does not exist");
    return { id: o.id, key: o.objectiveId };
  }

  /**
   * Share-locks the key result's objective before the key result itself: the same order in which deleting
   * an objective locks them (the objective, then its key results), so the two can wait on each other but
   * never deadlock. A key result never changes objective, so the unlocked first read names the right one.
   */
  async function resolveKr(tx: Executor, raw: string | number): Promise<KrRef> {
    const ref = parseRef(raw);
    const seen = ref === null ? undefined : await findKeyResult(tx, ref);
    const objective = seen && (await findObjective(tx, seen.objectiveId, { lock: "key share" }));
    const kr = objective && (await findKeyResult(tx, seen.id, { lock: "key share" }));
    if (!kr) throw Invalid.field("kr_id", "does not exist");
    return { id: kr.id, key: kr.krId, objectiveId: kr.objectiveId, objectiveKey: kr.objectiveKey };
  }

  /**
   * The (objective, key result) pair a write ends with. `named` says whether the body named objective_id:
   * a key result given for a requirement without an objective brings its objective along, but one that
   * contradicts an objective (named or kept) is 422.
   */
  function reconcile(objective: ObjectiveRef | null, kr: KrRef | null, named: boolean): ObjectiveRef | null {
    if (kr === null) return objective;
    if (objective === null && !named) return { id: kr.objectiveId, key: kr.objectiveKey };
    if (objective === null || objective.id !== kr.objectiveId) throw Invalid.field("kr_id", KR_MISMATCH);
    return objective;
  }

  async function view(exec: Executor, id: number) {
    return requirementToApi((await repo.findRequirementView(exec, id))!);
  }

  async function load(exec: Executor, idRaw: string, opts: { lock?: boolean } = {}) {
    const ref = parseRef(idRaw);
    const r = ref === null ? undefined : await repo.findRequirement(exec, ref, opts);
    if (!r) throw new NotFound();
    return r;
  }

  async function create(input: RequirementCreate, by: Principal) {
    try {
      return await db.transaction(async (tx) => {
        const named = input.objective_id !== undefined;
        const kr = input.kr_id == null ? null : await resolveKr(tx, input.kr_id);
        const objective = reconcile(
          input.objective_id == null ? null : await resolveObjective(tx, input.objective_id),
          kr,
          named,
        );
        const r = await repo.insertRequirement(tx, {
          requirementId: input.requirement_id ?? generateKey("req"),
          title: input.title,
          description: input.description ?? null,
          priority: input.priority ?? null,
          horizon: input.horizon ?? null,
          status: input.status ?? REQUIREMENT.proposed,
          objectiveId: objective?.id ?? null,
          krId: kr?.id ?? null,
        });
        await appendTrace(tx, {
          event: "requirement.created",
          actor: by.actor,
          data: {
            requirement_id: r.requirementId,
            title: r.title,
            description: r.description,
            priority: r.priority,
            horizon: r.horizon,
            status: r.status,
            objective_id: objective?.key ?? null,
            kr_id: kr?.key ?? null,
          },
        });
        return view(tx, r.id);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw Invalid.field("requirement_id", "has already been taken");
      throw err;
    }
  }

  async function get(idRaw: string) {
    return view(db, (await load(db, idRaw)).id);
  }

  async function list(q: RequirementListQuery) {
    const page = pageOf(q);
    const objective = filterRef(q.objective_id);
    const kr = filterRef(q.kr_id);
    if (objective === null || kr === null) return { data: [], meta: { next_cursor: null } };
    const rows = await repo.listRequirements(
      db,
      { priority: q.priority, horizon: q.horizon, status: q.status, objective, kr },
      page,
    );
    return toPage(rows, page, requirementToApi);
  }

  async function update(idRaw: string, input: RequirementUpdate, by: Principal) {
    return db.transaction(async (tx) => {
      const r = await load(tx, idRaw, { lock: true });
      if (input.requirement_id !== undefined && input.requirement_id !== r.requirementId) {
        throw Invalid.field("requirement_id", "cannot be changed");
      }
      const set: Partial<repo.RequirementRow> = {};
      const changes: Record<string, unknown> = {};
      const field = <K extends "title" | "description" | "priority" | "horizon" | "status">(
        col: K,
        value: repo.RequirementRow[K] | undefined,
      ) => {
        if (value !== undefined && value !== r[col]) {
          set[col] = value;
          changes[col] = value;
        }
      };
      field("title", input.title);
      field("description", input.description);
      field("priority", input.priority);
      field("horizon", input.horizon);
      field("status", input.status);

      if (input.objective_id !== undefined || input.kr_id !== undefined) {
        const named = input.objective_id !== undefined;
        let objective: ObjectiveRef | null;
        if (named) objective = input.objective_id === null ? null : await resolveObjective(tx, input.objective_id!);
        else objective = r.objectiveId === null ? null : await resolveObjective(tx, r.objectiveId);
        let kr: KrRef | null;
        if (input.kr_id !== undefined) kr = input.kr_id === null ? null : await resolveKr(tx, input.kr_id);
        else kr = r.krId === null ? null : await resolveKr(tx, r.krId);
        // Kept links are re-read (and share-locked) too: the pair is checked as it will be after the write.
        objective = reconcile(objective, kr, named);
        if ((objective?.id ?? null) !== r.objectiveId) {
          set.objectiveId = objective?.id ?? null;
          changes.objective_id = objective?.key ?? null;
        }
        if ((kr?.id ?? null) !== r.krId) {
          set.krId = kr?.id ?? null;
          changes.kr_id = kr?.key ?? null;
        }
      }

      if (Object.keys(set).length > 0) {
        await repo.updateRequirement(tx, r.id, set);
        await appendTrace(tx, {
          event: "requirement.updated",
          actor: by.actor,
          data: { requirement_id: r.requirementId, changes },
        });
      }
      return view(tx, r.id);
    });
  }

  async function remove(idRaw: string, by: Principal) {
    try {
      await db.transaction(async (tx) => {
        const r = await load(tx, idRaw, { lock: true });
        // The row lock makes a concurrent link insert wait for us (its foreign-key check share-locks this
        // row), so a link committed before the delete is counted and one attempted after it fails.
        const serving = await repo.tasksServing(tx, r.id);
        if (serving.total > 0) {
          throw Invalid.field("tasks", stillReferenced(serving.total, serving.keys, "task", "serve", "requirement"));
        }
        await repo.deleteRequirement(tx, r.id);
        await appendTrace(tx, {
          event: "requirement.deleted",
          actor: by.actor,
          data: { requirement_id: r.requirementId, title: r.title },
        });
      });
    } catch (err) {
      if (isForeignKeyViolation(err)) throw Invalid.field("tasks", "tasks still serve this requirement");
      throw err;
    }
  }

  return { create, get, list, update, remove };
}
