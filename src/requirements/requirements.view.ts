import { requirementCompletion, round1 } from "../okrs/okrs.progress.js";
import type { RequirementView } from "./requirements.repo.js";

/** A requirement view whose timestamps may already be ISO text (a read that formats them in SQL). */
export type RequirementApiInput = Omit<RequirementView, "insertedAt" | "updatedAt"> & {
  insertedAt: Date | string;
  updatedAt: Date | string;
};

export function requirementToApi(r: RequirementApiInput) {
  return {
    id: r.id,
    requirement_id: r.requirementId,
    title: r.title,
    description: r.description,
    priority: r.priority,
    horizon: r.horizon,
    status: r.status,
    objective_id: r.objectiveKey,
    kr_id: r.krKey,
    task_count: r.taskCount,
    completed_task_count: r.completedTaskCount,
    completion: round1(requirementCompletion(r)),
    inserted_at: r.insertedAt,
    updated_at: r.updatedAt,
  };
}
