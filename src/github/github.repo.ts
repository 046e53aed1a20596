import { and, asc, eq, gt, inArray, isNotNull, isNull, lt, or, sql } from "drizzle-orm";
import type { Executor } from "../db/client.js";
import { execRows } from "../db/client.js";
import {
  agents,
  githubIssues,
  githubRepoState,
  githubSyncRuns,
  githubWebhookDeliveries,
  missions,
  tasks,
  type GithubRepoResult,
} from "../db/schema/index.js";
import type { Page } from "../core/pagination.js";
import type { IssueRef } from "./github.refs.js";
import {
  ACTIVE_RUN_STATUSES,
  REPO_RESULT,
  RUN,
  TRIGGER,
  type CommentStatus,
  type IssueState,
  type RunTrigger,
  type WebhookResultKind,
} from "./github.state.js";
import { TASK } from "../tasks/tasks.state.js";

export type IssueRow = typeof githubIssues.$inferSelect;
export type IssueValues = Pick<
  typeof githubIssues.$inferInsert,
  "repo" | "number" | "title" | "state" | "labels" | "assignees" | "htmlUrl" | "body" | "githubUpdatedAt"
>;
export type RunRow = typeof githubSyncRuns.$inferSelect;

/** An issue with the key of its linked task, as responses name it. */
export interface IssueView extends IssueRow {
  taskKey: string | null;
}

function selectViews(exec: Executor) {
  return exec
    .select({ issue: githubIssues, taskKey: tasks.taskId })
    .from(githubIssues)
    .leftJoin(tasks, eq(tasks.id, githubIssues.taskId));
}

const toView = (r: { issue: IssueRow; taskKey: string | null }): IssueView => ({ ...r.issue, taskKey: r.taskKey });

function refWhere(ref: IssueRef) {
  return "id" in ref
    ? eq(githubIssues.id, ref.id)
    : and(eq(githubIssues.repo, ref.repo), eq(githubIssues.number, ref.number));
}

/**
 * With `lock`: the row is locked first and the view read in a second statement, whose snapshot sees what
 * the previous lock holder committed (one statement that waited for the lock would pair the new issue row
 * with the linked task's key from its old snapshot).
 */
export async function findIssue(exec: Executor, ref: IssueRef, opts: { lock?: boolean } = {}) {
  let where = refWhere(ref);
  if (opts.lock) {
    const locked = await exec.select({ id: githubIssues.id }).from(githubIssues).where(where).limit(1).for("update");
    if (!locked[0]) return undefined;
    where = eq(githubIssues.id, locked[0].id);
  }
  const rows = await selectViews(exec).where(where).limit(1);
  return rows[0] ? toView(rows[0]) : undefined;
}

export interface IssueFilter {
  repo?: string;
  state?: IssueState;
  label?: string;
  linked?: boolean;
}

export async function listIssues(exec: Executor, f: IssueFilter, page: Page) {
  const rows = await selectViews(exec)
    .where(
      and(
        f.repo !== undefined ? eq(githubIssues.repo, f.repo.toLowerCase()) : undefined,
        f.state !== undefined ? eq(githubIssues.state, f.state) : undefined,
        // GitHub label names are unique regardless of case, so the filter ignores case too.
        f.label !== undefined
          ? sql`EXISTS (SELECT 1 FROM jsonb_array_elements_text(${githubIssues.labels}) AS l(name) WHERE lower(l.name) = lower(${f.label}))`
          : undefined,
        f.linked === true
          ? isNotNull(githubIssues.taskId)
          : f.linked === false
            ? isNull(githubIssues.taskId)
            : undefined,
        page.after === null ? undefined : gt(githubIssues.id, page.after),
      ),
    )
    .orderBy(asc(githubIssues.id))
    .limit(page.limit + 1);
  return rows.map(toView);
}

/** The stored rows among `numbers`, locked in number order (the order every writer locks them in). */
export async function lockIssues(exec: Executor, repo: string, numbers: number[]) {
  if (numbers.length === 0) return [];
  return exec
    .select()
    .from(githubIssues)
    .where(and(eq(githubIssues.repo, repo), inArray(githubIssues.number, numbers)))
    .orderBy(asc(githubIssues.number))
    .for("update");
}

/**
 * Inserts new issues and updates stored ones whose GitHub `updated_at` is newer; returns the rows written
 * (an issue that did not change is not among them).
 */
export async function upsertIssues(exec: Executor, values: IssueValues[]) {
  if (values.length === 0) return [];
  const ex = (c: string) => sql.raw(`excluded.${c}`);
  return exec
    .insert(githubIssues)
    .values(values)
    .onConflictDoUpdate({
      target: [githubIssues.repo, githubIssues.number],
      set: {
        title: ex("title"),
        state: ex("state"),
        labels: ex("labels"),
        assignees: ex("assignees"),
        htmlUrl: ex("html_url"),
        body: ex("body"),
        githubUpdatedAt: ex("github_updated_at"),
        updatedAt: sql`now()`,
      },
      setWhere: sql`excluded.github_updated_at > ${githubIssues.githubUpdatedAt}`,
    })
    .returning();
}

export async function deleteIssue(exec: Executor, id: number) {
  await exec.delete(githubIssues).where(eq(githubIssues.id, id));
}

export async function linkIssue(exec: Executor, id: number, taskId: number) {
  await exec
    .update(githubIssues)
    .set({ taskId, linkedAt: sql`now()`, updatedAt: sql`now()` })
    .where(eq(githubIssues.id, id));
}

// --- repository sync state ---------------------------------------------------------------------------

export async function getRepoState(exec: Executor, repo: string) {
  const rows = await exec.select().from(githubRepoState).where(eq(githubRepoState.repo, repo)).limit(1);
  return rows[0];
}

export async function saveRepoState(exec: Executor, repo: string, since: Date | null, etag: string | null) {
  await exec
    .insert(githubRepoState)
    .values({ repo, since, etag, lastSyncedAt: new Date() })
    .onConflictDoUpdate({
      target: githubRepoState.repo,
      set: { since, etag, lastSyncedAt: sql`now()`, updatedAt: sql`now()` },
    });
}

// --- sync runs ---------------------------------------------------------------------------------------

/** The active statuses as SQL literals: ON CONFLICT must name the partial index's predicate as it is written. */
const ACTIVE_LIST = sql.raw(ACTIVE_RUN_STATUSES.map((s) => `'${s}'`).join(", "));
const ACTIVE = sql`${githubSyncRuns.status} IN (${ACTIVE_LIST})`;

/** A repository's part of a run that has not started. */
export function pendingResult(repo: string): GithubRepoResult {
  return { repo, status: REPO_RESULT.pending, issues_synced: 0, pull_requests_skipped: 0, pages: 0, error: null };
}

/** A new queued run, or undefined when one is already queued or running (the partial unique index decides). */
export async function insertRun(exec: Executor, values: { repos: string[]; trigger: RunTrigger; requestedBy: string }) {
  const results = values.repos.map(pendingResult);
  const rows = await exec
    .insert(githubSyncRuns)
    .values({ ...values, results, status: RUN.queued })
    // The only conflict possible is with the one-active-run index.
    .onConflictDoNothing()
    .returning();
  return rows[0];
}

/**
 * A scheduled run, unless any run was created in the last `intervalS` seconds or one is active. One
 * statement, so two processes ticking at once create at most one run.
 */
export async function insertScheduledRun(exec: Executor, repos: string[], intervalS: number, requestedBy: string) {
  const results = repos.map(pendingResult);
  const rows = await execRows<{ id: number }>(
    exec,
    sql`INSERT INTO github_sync_runs (status, repos, results, trigger, requested_by)
        SELECT ${RUN.queued}::text, ${JSON.stringify(repos)}::jsonb, ${JSON.stringify(results)}::jsonb,
               ${TRIGGER.schedule}::text, ${requestedBy}::text
        WHERE NOT EXISTS (
          SELECT 1 FROM github_sync_runs WHERE inserted_at > now() - make_interval(secs => ${intervalS})
        )
        ON CONFLICT ((true)) WHERE status IN (${ACTIVE_LIST}) DO NOTHING
        RETURNING id`,
  );
  return rows[0] ? findRun(exec, Number(rows[0].id)) : undefined;
}

export async function findActiveRun(exec: Executor) {
  const rows = await exec.select().from(githubSyncRuns).where(ACTIVE).limit(1);
  return rows[0];
}

export async function findRun(exec: Executor, id: number) {
  const rows = await exec.select().from(githubSyncRuns).where(eq(githubSyncRuns.id, id)).limit(1);
  return rows[0];
}

/**
 * Takes the oldest run that is due: queued (and past its resume time), or running with a heartbeat older
 * than `staleS` (its process died). SKIP LOCKED: two processes never take the same run.
 */
export async function claimRun(exec: Executor, owner: string, staleS: number) {
  const rows = await execRows<{ id: number }>(
    exec,
    sql`UPDATE github_sync_runs SET status = ${RUN.running}, owner = ${owner}, heartbeat_at = now(),
          started_at = coalesce(started_at, now()), resume_at = NULL, updated_at = now()
        WHERE id = (
          SELECT id FROM github_sync_runs
          WHERE (status = ${RUN.queued} AND (resume_at IS NULL OR resume_at <= now()))
             OR (status = ${RUN.running} AND heartbeat_at < now() - make_interval(secs => ${staleS}))
          ORDER BY id LIMIT 1
          FOR UPDATE SKIP LOCKED
        )
        RETURNING id`,
  );
  return rows[0] ? findRun(exec, Number(rows[0].id)) : undefined;
}

/** Only while this process still owns the run: a run taken over by another process is left alone. */
export async function updateOwnedRun(
  exec: Executor,
  id: number,
  owner: string,
  set: Partial<typeof githubSyncRuns.$inferInsert>,
) {
  const rows = await exec
    .update(githubSyncRuns)
    .set({ ...set, updatedAt: sql`now()` })
    .where(and(eq(githubSyncRuns.id, id), eq(githubSyncRuns.owner, owner), eq(githubSyncRuns.status, RUN.running)))
    .returning();
  return rows[0];
}

export async function heartbeat(exec: Executor, id: number, owner: string) {
  await exec
    .update(githubSyncRuns)
    .set({ heartbeatAt: sql`now()` })
    .where(and(eq(githubSyncRuns.id, id), eq(githubSyncRuns.owner, owner), eq(githubSyncRuns.status, RUN.running)));
}

/** The next resume time of a queued run, for this process's timer. */
export async function nextResumeAt(exec: Executor) {
  const rows = await exec
    .select({ resumeAt: githubSyncRuns.resumeAt })
    .from(githubSyncRuns)
    .where(and(eq(githubSyncRuns.status, RUN.queued), isNotNull(githubSyncRuns.resumeAt)))
    .orderBy(asc(githubSyncRuns.resumeAt))
    .limit(1);
  return rows[0]?.resumeAt ?? null;
}

// --- webhook deliveries ------------------------------------------------------------------------------

/** True when this delivery is new (and is now recorded, in the caller's transaction). */
export async function recordDelivery(
  exec: Executor,
  d: { deliveryId: string; event: string; action: string | null; result: WebhookResultKind },
) {
  const rows = await exec
    .insert(githubWebhookDeliveries)
    .values(d)
    .onConflictDoNothing({ target: githubWebhookDeliveries.deliveryId })
    .returning({ id: githubWebhookDeliveries.deliveryId });
  return rows.length === 1;
}

export async function purgeDeliveries(exec: Executor, olderThanS: number) {
  await exec
    .delete(githubWebhookDeliveries)
    .where(lt(githubWebhookDeliveries.receivedAt, sql`now() - make_interval(secs => ${olderThanS})`));
}

// --- linked tasks ------------------------------------------------------------------------------------

/** A task's keys, as trace entries name it. */
export async function taskKeys(exec: Executor, taskIds: number[]) {
  if (taskIds.length === 0) return [];
  return exec
    .select({
      id: tasks.id,
      taskKey: tasks.taskId,
      missionKey: missions.missionId,
      agentKey: agents.agentId,
      outputs: tasks.outputs,
    })
    .from(tasks)
    .innerJoin(missions, eq(missions.id, tasks.missionId))
    .leftJoin(agents, eq(agents.id, tasks.agentId))
    .where(inArray(tasks.id, taskIds));
}

/**
 * Tasks whose `outputs.pr_url` may name this pull request (the caller checks each with parsePullUrl: the
 * pattern only narrows the scan).
 */
export async function tasksNamingPull(exec: Executor, repo: string, number: number) {
  const like = `%/${repo.replace(/[\\%_]/g, (c) => `\\${c}`)}/pull/${number}%`;
  return exec
    .select({
      id: tasks.id,
      taskKey: tasks.taskId,
      missionKey: missions.missionId,
      agentKey: agents.agentId,
      outputs: tasks.outputs,
    })
    .from(tasks)
    .innerJoin(missions, eq(missions.id, tasks.missionId))
    .leftJoin(agents, eq(agents.id, tasks.agentId))
    .where(sql`${tasks.outputs}->>'pr_url' ILIKE ${like}`)
    .orderBy(asc(tasks.id));
}

// --- completion comments -----------------------------------------------------------------------------

/** Claims are retried after this long times the attempts made (a failed post, or a claimer that died). */
export const COMMENT_RETRY_S = 60;
export const COMMENT_MAX_ATTEMPTS = 5;

const commentDue = and(
  isNull(githubIssues.commentStatus),
  isNotNull(githubIssues.taskId),
  lt(githubIssues.commentAttempts, COMMENT_MAX_ATTEMPTS),
  or(
    isNull(githubIssues.commentClaimedAt),
    sql`${githubIssues.commentClaimedAt} < now() - make_interval(secs => ${COMMENT_RETRY_S} * (${githubIssues.commentAttempts} + 1))`,
  ),
  sql`EXISTS (SELECT 1 FROM ${tasks} WHERE ${tasks.id} = ${githubIssues.taskId} AND ${tasks.status} = ${TASK.completed})`,
);

/** Linked issues whose task has completed and that still need their comment, claimed for this worker. */
export async function claimDueComments(exec: Executor, limit: number) {
  const due = exec
    .select({ id: githubIssues.id })
    .from(githubIssues)
    .where(commentDue)
    .orderBy(asc(githubIssues.id))
    .limit(limit);
  return exec
    .update(githubIssues)
    .set({ commentClaimedAt: sql`now()` })
    .where(and(inArray(githubIssues.id, due), commentDue))
    .returning();
}

export async function finishComment(exec: Executor, id: number, status: CommentStatus | null) {
  await exec
    .update(githubIssues)
    .set({
      commentStatus: status,
      commentAttempts: sql`${githubIssues.commentAttempts} + 1`,
      commentClaimedAt: sql`now()`,
    })
    .where(eq(githubIssues.id, id));
}
