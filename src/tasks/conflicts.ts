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
// - A task that leaves the open set by any move (a run failing, its mission ending, a PATCH or report to
//   failed/completed/pending, an approval) leaves every list in that move's transaction (`leaveConflicts`,
//   called by `transitionTask`): its own list is emptied, the tasks it listed drop it, each side gets a
//   `task.conflict_cleared` entry. Peers are locked with SKIP LOCKED, so the move never waits for a row while
//   holding its own (a radar check locks in id order and would wait for it: a deadlock on PostgreSQL); a peer
//   that was busy is left to the check that holds it, which reads the moved task after it commits and drops
//   it then (`check` prunes entries naming a task it finds no longer open).
// - Approving a task takes it out of every list; each open task of its repository that changed a file it
//   changed is then checked against its base branch as it is now: if the base changed, since that task's branch left it, files that task changed
//   too (the approved work merged, say), it keeps an entry `{task_id: <approved>, files, base_branch}` until a
//   later check finds the overlap gone (git runs outside any transaction).
import path from "node:path";
import { and, asc, inArray, ne, or, eq, sql } from "drizzle-orm";
import type { Database, Executor } from "../db/client.js";
import { tasks } from "../db/schema/index.js";
import { git } from "../runtime/adapters/worktree.js";
import { appendTrace } from "../trace/trace.append.js";
import { findTaskView, type TaskView } from "./tasks.repo.js";
import { reportedEntry, transitionTask } from "./tasks.service.js";
import {
  changedFiles,
  conflictsOf,
  isOpenForConflicts,
  MAX_TRACKED_FILES,
  OPEN_FOR_CONFLICTS,
  type Conflict,
} from "./conflicts.shape.js";

/** Most tasks of one repository compared. */
const MAX_PEERS = 200;

function isOpen(t: TaskView): boolean {
  return isOpenForConflicts(t.status);
}

/**
 * Inside the transaction of a move that takes `task` out of the open set, after the move (whose outputs set
 * the task's own `conflicts` to []): the tasks it listed drop it, and both sides get `task.conflict_cleared`.
 * `had` is the task's list before the move.
 */
export async function leaveConflicts(tx: Executor, task: TaskView, had: Conflict[], actor: string): Promise<void> {
  const peerKeys = [...new Set(had.filter((c) => c.base_branch === undefined).map((c) => c.task_id))];
  const repo = task.outputs.repo;
  const events: Array<{ v: Pick<TaskView, "missionKey" | "taskId" | "agentKey">; data: Record<string, unknown> }> =
    had.map((c) => ({
      v: task,
      data: { with_task_id: c.task_id, ...(c.base_branch !== undefined ? { base_branch: c.base_branch } : {}) },
    }));
  if (peerKeys.length > 0) {
    // SKIP LOCKED: never wait for a peer while holding this task's row (see the invariants above).
    const locked = await tx
      .select({ id: tasks.id })
      .from(tasks)
      .where(and(inArray(tasks.taskId, peerKeys), ne(tasks.id, task.id)))
      .orderBy(asc(tasks.id))
      .for("update", { skipLocked: true });
    for (const { id } of locked) {
      const v = await findTaskView(tx, id);
      if (!v) continue;
      const prev = conflictsOf(v.outputs);
      const next = prev.filter((c) => !(c.task_id === task.taskId && c.base_branch === undefined));
      if (next.length === prev.length) continue;
      await transitionTask(tx, v, v.status, actor, { via: "conflict_radar", outputs: { conflicts: next } });
      events.push({ v, data: { with_task_id: task.taskId } });
    }
  }
  // Appends last: each holds its mission's chain until commit.
  for (const e of events) {
    await appendTrace(tx, {
      event: "task.conflict_cleared",
      actor,
      missionId: e.v.missionKey,
      taskId: e.v.taskId,
      agentId: e.v.agentKey,
      data: { ...e.data, repo },
    });
  }
}

const sameFiles = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
const sameList = (a: Conflict[], b: Conflict[]) =>
  a.length === b.length &&
  a.every(
    (c, i) => c.task_id === b[i]!.task_id && c.base_branch === b[i]!.base_branch && sameFiles(c.files, b[i]!.files),
  );
const byTask = (a: Conflict, b: Conflict) =>
  a.task_id.localeCompare(b.task_id) || (a.base_branch ?? "").localeCompare(b.base_branch ?? "");

/** A branch name that git cannot read as an option or a range (outputs can be written by agents). */
const REF = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$/;

/**
 * The files the task changed that its base branch also changed since the task's branch left it; null when
 * the task has no usable repository, branch and base, or git cannot tell.
 */
async function baseOverlap(t: TaskView): Promise<{ base: string; files: string[] } | null> {
  const { repo, branch, base_branch: base } = t.outputs;
  if (typeof repo !== "string" || typeof branch !== "string" || typeof base !== "string") return null;
  if (!path.isAbsolute(repo) || !REF.test(branch) || !REF.test(base) || branch.includes("..") || base.includes(".."))
    return null;
  const r = await git(["diff", "--name-only", "-z", "--no-renames", "--end-of-options", `${branch}...${base}`], repo);
  if (r.code !== 0) return null;
  const onBase = new Set(r.stdout.split("\0").filter(Boolean));
  return {
    base,
    files: changedFiles(t.outputs)
      .filter((f) => onBase.has(f))
      .sort(),
  };
}

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
      await transitionTask(tx, t, t.status, actor, { via: "conflict_radar", outputs });
      await appendTrace(tx, reportedEntry(t, actor, { outputs, logsAdded: 0, via: "conflict_radar" }));
    });
    await check(taskId);
  }

  /**
   * Compares the task with the other open tasks of its repository and updates both sides' `conflicts`. A task
   * that is not open (completed, failed) leaves everyone's lists.
   */
  async function check(taskId: number): Promise<void> {
    // The task's overlaps with its base (from an approval) are re-measured first, outside the transaction.
    const current = await findTaskView(database.db, taskId);
    const baseKept: Conflict[] = [];
    const withBase = current ? conflictsOf(current.outputs).filter((c) => c.base_branch !== undefined) : [];
    if (current && withBase.length > 0 && isOpen(current)) {
      const o = await baseOverlap(current);
      if (o && o.files.length > 0)
        for (const c of withBase) if (c.base_branch === o.base) baseKept.push({ ...c, files: o.files });
    }
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
      const events: Array<{
        v: TaskView;
        event: "task.conflict_detected" | "task.conflict_cleared";
        data: Record<string, unknown>;
      }> = [];
      const mineNext: Conflict[] = [];
      for (const other of views) {
        if (other.id === me.id) continue;
        const common =
          meOpen && isOpen(other) && other.outputs.repo === repo
            ? changedFiles(other.outputs)
                .filter((f) => mine.has(f))
                .sort()
            : [];
        const theirs = listOf(other);
        const before = theirs.find((c) => c.task_id === me.taskId && c.base_branch === undefined);
        if (common.length > 0) {
          mineNext.push({ task_id: other.taskId, files: common });
          wanted.set(
            other.id,
            [...theirs.filter((c) => c !== before), { task_id: me.taskId, files: common }].sort(byTask),
          );
          if (!before || !sameFiles(before.files, common)) {
            events.push({
              v: me,
              event: "task.conflict_detected",
              data: { with_task_id: other.taskId, files: common },
            });
            events.push({
              v: other,
              event: "task.conflict_detected",
              data: { with_task_id: me.taskId, files: common },
            });
          }
        } else if (before) {
          wanted.set(
            other.id,
            theirs.filter((c) => c !== before),
          );
          events.push({ v: other, event: "task.conflict_cleared", data: { with_task_id: me.taskId } });
          if (conflictsOf(me.outputs).some((c) => c.task_id === other.taskId && c.base_branch === undefined)) {
            events.push({ v: me, event: "task.conflict_cleared", data: { with_task_id: other.taskId } });
          }
        }
      }
      // Entries for tasks no longer around (or past the peer bound) drop out of this task's list; overlaps
      // with the base stay while they last (measured above), and only while the task is open.
      for (const c of withBase) {
        if (!baseKept.some((k) => k.task_id === c.task_id && k.base_branch === c.base_branch)) {
          events.push({
            v: me,
            event: "task.conflict_cleared",
            data: { with_task_id: c.task_id, base_branch: c.base_branch },
          });
        }
      }
      if (meOpen) mineNext.push(...baseKept);
      mineNext.sort(byTask);
      wanted.set(me.id, mineNext);
      // An entry of this task's that went without a pair above (its peer gone, or left out of the peers) is
      // cleared all the same, so every entry that leaves a list says so.
      for (const c of conflictsOf(me.outputs)) {
        if (c.base_branch !== undefined || mineNext.some((k) => k.task_id === c.task_id)) continue;
        const said = events.some(
          (e) => e.v.id === me.id && e.event === "task.conflict_cleared" && e.data.with_task_id === c.task_id,
        );
        if (!said) events.push({ v: me, event: "task.conflict_cleared", data: { with_task_id: c.task_id } });
      }
      // Entries naming a task found here that is no longer open: a move that could not lock their holder
      // (leaveConflicts skips busy rows) leaves them to this check.
      const closed = new Set(views.filter((v) => v.id !== me.id && !isOpen(v)).map((v) => v.taskId));
      for (const v of views) {
        if (v.id === me.id || closed.has(v.taskId)) continue;
        const list = listOf(v);
        const kept = list.filter((c) => c.base_branch !== undefined || !closed.has(c.task_id));
        if (kept.length === list.length) continue;
        wanted.set(v.id, kept);
        for (const c of list)
          if (!kept.includes(c)) events.push({ v, event: "task.conflict_cleared", data: { with_task_id: c.task_id } });
      }

      for (const v of views) {
        const next = wanted.get(v.id);
        if (!next) continue;
        if (sameList(conflictsOf(v.outputs), next) && (v.outputs.conflicts !== undefined || next.length === 0))
          continue;
        await transitionTask(tx, v, v.status, actor, {
          via: "conflict_radar",
          outputs: { conflicts: next },
        });
      }
      for (const e of events) {
        await appendTrace(tx, {
          event: e.event,
          actor,
          missionId: e.v.missionKey,
          taskId: e.v.taskId,
          agentId: e.v.agentKey,
          data: { ...e.data, repo },
        });
      }
    });
  }

  /**
   * After an approval: the approved task leaves every list, then each open task that changed a file it changed
   * is checked against its base branch as it is now (the approved work may be on it).
   */
  async function afterApproval(approvedId: number): Promise<void> {
    const approved = await findTaskView(database.db, approvedId);
    if (!approved) return;
    await check(approvedId);
    // The approval's move already emptied the approved task's list (leaveConflicts), so the tasks to re-check
    // are found again: open tasks of its repository that changed a file it changed.
    const repo = approved.outputs.repo;
    const mine = new Set(changedFiles(approved.outputs));
    if (typeof repo !== "string" || mine.size === 0) return;
    const peers = await database.db
      .select({ id: tasks.id })
      .from(tasks)
      .where(
        and(
          ne(tasks.id, approvedId),
          inArray(tasks.status, [...OPEN_FOR_CONFLICTS]),
          sql`${tasks.outputs}->>'repo' = ${repo}`,
        ),
      )
      .orderBy(asc(tasks.id))
      .limit(MAX_PEERS);
    for (const { id } of peers) {
      const t = await findTaskView(database.db, id);
      if (!t || !isOpen(t) || !changedFiles(t.outputs).some((f) => mine.has(f))) continue;
      const o = await baseOverlap(t);
      if (!o || o.files.length === 0) continue;
      await database.db.transaction(async (tx) => {
        const v = await findTaskView(tx, t.id, { lock: true });
        if (!v || !isOpen(v)) return;
        const entry: Conflict = { task_id: approved.taskId, files: o.files, base_branch: o.base };
        const prev = conflictsOf(v.outputs);
        const next = [
          ...prev.filter((c) => !(c.task_id === entry.task_id && c.base_branch === entry.base_branch)),
          entry,
        ].sort(byTask);
        if (sameList(prev, next)) return;
        await transitionTask(tx, v, v.status, actor, {
          via: "conflict_radar",
          outputs: { conflicts: next },
        });
        await appendTrace(tx, {
          event: "task.conflict_detected",
          actor,
          missionId: v.missionKey,
          taskId: v.taskId,
          agentId: v.agentKey,
          data: { with_task_id: approved.taskId, base_branch: o.base, files: o.files, repo: v.outputs.repo },
        });
      });
    }
  }

  return { check, recordTouchedFiles, afterApproval };
}

export type ConflictRadar = ReturnType<typeof createConflictRadar>;
