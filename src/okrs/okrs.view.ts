// Rows → API shapes for objectives and key results. Shared by the objectives routes and the traceability
// matrix, so both show the same progress and health for the same data.
import type { KeyResultView, ObjectiveRow } from "./okrs.repo.js";
import {
  healthOf,
  krProgress,
  objectiveProgress,
  round1,
  type KrDirection,
  type RequirementCompletionInput,
} from "./okrs.progress.js";

export function keyResultToApi(kr: KeyResultView) {
  return {
    id: kr.id,
    kr_id: kr.krId,
    objective_id: kr.objectiveKey,
    title: kr.title,
    direction: kr.direction as KrDirection,
    start: kr.startValue,
    target: kr.target,
    current: kr.current,
    progress: round1(krProgress(kr)),
    inserted_at: kr.insertedAt,
    updated_at: kr.updatedAt,
  };
}

/** `krs` and `reqs` are this objective's key results (oldest first) and requirements. */
export function objectiveToApi(o: ObjectiveRow, krs: KeyResultView[], reqs: RequirementCompletionInput[], now: Date) {
  // Health is judged on the figure shown, so a reader can check it against the thresholds.
  const progress = round1(objectiveProgress(krs, reqs));
  return {
    id: o.id,
    objective_id: o.objectiveId,
    title: o.title,
    description: o.description,
    priority: o.priority,
    status: o.status,
    progress,
    health: healthOf(o, progress, now),
    start_date: o.startDate,
    end_date: o.endDate,
    key_results: krs.map(keyResultToApi),
    inserted_at: o.insertedAt,
    updated_at: o.updatedAt,
  };
}

/** Groups rows by an integer key, keeping their order. */
export function groupBy<T>(rows: T[], key: (r: T) => number | null): Map<number, T[]> {
  const out = new Map<number, T[]>();
  for (const r of rows) {
    const k = key(r);
    if (k === null) continue;
    let list = out.get(k);
    if (!list) out.set(k, (list = []));
    list.push(r);
  }
  return out;
}
