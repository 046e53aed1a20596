// What a task's outputs say about conflicts, and which tasks are in play: pure and dependency-free, so the
// console (web/) shares these rules with the server instead of copying them. The radar itself is conflicts.ts.
import { TASK, type TaskStatus } from "./tasks.state.js";

/** Tasks whose branch is still in play: being worked on, waiting for review or for another run. */
export const OPEN_FOR_CONFLICTS: readonly TaskStatus[] = [
  TASK.in_progress,
  TASK.pending_review,
  TASK.blocked,
  TASK.rejected,
];

/** Most changed files kept per task. */
export const MAX_TRACKED_FILES = 1_000;

export interface Conflict {
  task_id: string;
  files: string[];
  /** Set when the overlap is with the base branch (the approved task's work on it), not an open task. */
  base_branch?: string;
}

const isStrList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === "string");

export function changedFiles(outputs: Record<string, unknown>): string[] {
  return isStrList(outputs.changed_files) ? outputs.changed_files : [];
}

export function conflictsOf(outputs: Record<string, unknown>): Conflict[] {
  const c = outputs.conflicts;
  if (!Array.isArray(c)) return [];
  return c.flatMap((x) =>
    x && typeof x === "object" && typeof (x as Conflict).task_id === "string" && isStrList((x as Conflict).files)
      ? [x as Conflict]
      : [],
  );
}

/** What a dispatch's policy sees of its task's conflicts: `task.conflicts.{task_ids, files, count}`. */
export function conflictSummary(outputs: Record<string, unknown>) {
  const list = conflictsOf(outputs);
  const files = [...new Set(list.flatMap((c) => c.files))].sort();
  return { task_ids: list.map((c) => c.task_id), files, count: list.length };
}

export function isOpenForConflicts(status: TaskStatus): boolean {
  return OPEN_FOR_CONFLICTS.includes(status);
}
