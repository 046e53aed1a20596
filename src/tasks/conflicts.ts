// The conflict radar: agents working in parallel worktrees of one repository collide at merge time; this
// says so while they work. Invariants:
// - A task's changed files are `outputs.changed_files` (paths relative to its repository, `outputs.repo`):
//   the worktree's diff against its base at the end of each run, plus the files its agent's Write/Edit tool
//   calls named as they happened (`recordTouchedFiles`).
// - Two open tasks (OPEN_FOR_CONFLICTS) of one repository that changed a file in common each list the other
//   in `outputs.conflicts: [{task_id, files}]` (sorted by task id); a task that is no longer open is in no
//   one's list, and no task is in its own.
// - A conflict that appears (or whose files change) writes a `task.conflict_detected` entry for each of the
//   two tasks; one that goes away writes `task.conflict_cleared`. Both are trace entries, so on the stream.
// - Tasks are locked in id order in one transaction, so two checks of overlapping tasks never deadlock.
import { and, asc, inArray, ne, or, eq, sql } from "drizzle-orm";
import type { Database } from "../db/client.js";
import { tasks } from "../db/schema/index.js";
import { appendTrace } from "../trace/trace.service.js";
import { findTaskView, type TaskView } from "./tasks.repo.js";
import { transitionTask } from "./tasks.service.js";
import type { TaskStatus } from "./tasks.state.js";

/** Tasks whose branch is still in play: being worked on, waiting for review or for another run. */
export const OPEN_FOR_CONFLICTS: readonly TaskStatus[] = ["in_progress", "pending_review", "blocked", "rejected"];

/** Most changed files kept per task, and most tasks of one repository compared. */
export const MAX_TRACKED_FILES = 1_000;
const MAX_PEERS = 200;

export interface Conflict {
  task_id: string;
  files: string[];
}

const isStrList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === "string");

export function changedFiles(outputs: Record<string, unknown>): string[] {
  return isStrList(outputs.changed_files) ? outputs.changed_files : [];
}

export function conflictsOf(outputs: Record<string, unknown>): Conflict[] {
  const c = outputs.conflicts;
  if (!Array.isArray(c)) return [];
  return c.flatMap((x) =>
    x && typeof x === "object" && typeof (x as Conflict).task_id === "string" && isStrList((x as Conflict).files) ? [x as Conflict] : [],
  );
}

/** What a dispatch's policy sees of its task's conflicts: `task.conflicts.{task_ids, files, count}`. */
export function conflictSummary(outputs: Record<string, unknown>) {
  const list = conflictsOf(outputs);
  const files = [...new Set(list.flatMap((c) => c.files))].sort();
  return { task_ids: list.map((c) => c.task_id), files, count: list.length };
}

function isOpen(t: TaskView): boolean {
  return OPEN_FOR_CONFLICTS.includes(t.status as TaskStatus);
}

const sameFiles = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Paths a tool call wrote, made relative to the worktree (`cwd`): absolute paths outside it and anything that
 * climbs out of it are dropped (an agent's text is not trusted to name other repositories' files).
 */
export function relativePaths(cwd: string, paths: string[]): string[] {
  const root = cwd.replace(/\/+$/, "");
  const out: string[] = [];
  for (const p of paths) {
    let rel = p.startsWith("/") ? (p.startsWith(`${root}/`) ? p.slice(root.length + 1) : null) : p;
    if (rel === null) continue;
    rel = rel.replace(/^(\.\/)+/, "");
    if (rel === "" || rel.length > 4096 || rel.split("/").includes("..") || rel.includes("\0")) continue;
    out.push(rel);
  }
  return out;
}

export function createConflictRadar(database: Database, actor: string) {
  /** Merges `files` into the task's changed files (and its repository, when it has none yet), then re-checks. */
  async function recordTouchedFiles(taskId: number, repo: string, files: string[]): Promise<void> {
    if (files.length === 0) return;
    await database.db.transaction(async (tx) => {
      const t = await findTaskView(tx, taskId, { lock: true });
      if (!t) return;
      const known = changedFiles(t.outputs);
      const merged = [...new Set([...known, ...files])].sort().slice(0, MAX_TRACKED_FILES);
      if (sameFiles(merged, known) && t.outputs.repo === repo) return;
      const outputs = { changed_files: merged, ...(typeof t.outputs.repo === "string" ? {} : { repo }) };
      await transitionTask(tx, t, t.status as TaskStatus, actor, { via: "conflict_radar", outputs });
      await appendTrace(tx, {
        event: "task.reported",
        actor,
        missionId: t.missionKey,
        taskId: t.taskId,
        agentId: t.agentKey,
        data: { outputs, logs_added: 0, via: "conflict_radar" },
      });
    });
    await check(taskId);
  }

  /**
   * Compares the task with the other open tasks of its repository and updates both sides' `conflicts`. A task
   * that is not open (completed, failed) leaves everyone's lists.
   */
  async function check(taskId: number): Promise<void> {
    await database.db.transaction(async (tx) => {
      const first = await findTaskView(tx, taskId);
      const repo = first && typeof first.outputs.repo === "string" ? first.outputs.repo : null;
      if (!first || repo === null) return;
      // Everyone who could be concerned: open tasks of the repository, those listing this task, and it.
      const ids = await tx
        .select({ id: tasks.id })
        .from(tasks)
        .where(
          or(
            eq(tasks.id, taskId),
            and(
              ne(tasks.id, taskId),
              or(
                and(inArray(tasks.status, [...OPEN_FOR_CONFLICTS]), sql`${tasks.outputs}->>'repo' = ${repo}`),
                sql`${tasks.outputs}->'conflicts' @> ${JSON.stringify([{ task_id: first.taskId }])}::jsonb`,
              ),
            ),
          ),
        )
        .orderBy(asc(tasks.id))
        .limit(MAX_PEERS + 1);
      // Locked in id order: two checks never wait on each other in a cycle.
      const views: TaskView[] = [];
      for (const { id } of ids) {
        const v = await findTaskView(tx, id, { lock: true });
        if (v) views.push(v);
      }
      const me = views.find((v) => v.id === taskId);
      if (!me) return;
      const mine = new Set(changedFiles(me.outputs));
      const meOpen = isOpen(me) && me.outputs.repo === repo;

      const wanted = new Map<number, Conflict[]>();
      const listOf = (v: TaskView) => wanted.get(v.id) ?? conflictsOf(v.outputs);
      const events: Array<{ v: TaskView; event: "task.conflict_detected" | "task.conflict_cleared"; data: Record<string, unknown> }> = [];
      const mineNext: Conflict[] = [];
      for (const other of views) {
        if (other.id === me.id) continue;
        const common =
          meOpen && isOpen(other) && other.outputs.repo === repo ? changedFiles(other.outputs).filter((f) => mine.has(f)).sort() : [];
        const theirs = listOf(other);
        const before = theirs.find((c) => c.task_id === me.taskId);
        if (common.length > 0) {
          mineNext.push({ task_id: other.taskId, files: common });
          wanted.set(other.id, [...theirs.filter((c) => c.task_id !== me.taskId), { task_id: me.taskId, files: common }].sort((a, b) => a.task_id.localeCompare(b.task_id)));
          if (!before || !sameFiles(before.files, common)) {
            events.push({ v: me, event: "task.conflict_detected", data: { with_task_id: other.taskId, files: common } });
            events.push({ v: other, event: "task.conflict_detected", data: { with_task_id: me.taskId, files: common } });
          }
        } else if (before) {
          wanted.set(other.id, theirs.filter((c) => c.task_id !== me.taskId));
          events.push({ v: other, event: "task.conflict_cleared", data: { with_task_id: me.taskId } });
          if (conflictsOf(me.outputs).some((c) => c.task_id === other.taskId)) {
            events.push({ v: me, event: "task.conflict_cleared", data: { with_task_id: other.taskId } });
          }
        }
      }
      // Entries for tasks no longer around (or past the peer bound) drop out of this task's list.
      mineNext.sort((a, b) => a.task_id.localeCompare(b.task_id));
      wanted.set(me.id, mineNext);

      for (const v of views) {
        const next = wanted.get(v.id);
        if (!next) continue;
        const prev = conflictsOf(v.outputs);
        const same = prev.length === next.length && prev.every((c, i) => c.task_id === next[i]!.task_id && sameFiles(c.files, next[i]!.files));
        if (same && (v.outputs.conflicts !== undefined || next.length === 0)) continue;
        await transitionTask(tx, v, v.status as TaskStatus, actor, { via: "conflict_radar", outputs: { conflicts: next } });
      }
      for (const e of events) {
        await appendTrace(tx, { event: e.event, actor, missionId: e.v.missionKey, taskId: e.v.taskId, agentId: e.v.agentKey, data: { ...e.data, repo } });
      }
    });
  }

  return { check, recordTouchedFiles };
}

export type ConflictRadar = ReturnType<typeof createConflictRadar>;
