import { sql } from "drizzle-orm";
import { index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { id, insertedAt, updatedAt } from "./columns.js";
import { tasks } from "./tasks.js";
import type {
  CommentStatus,
  IssueState,
  RepoResultStatus,
  RunStatus,
  RunTrigger,
  WebhookResultKind,
} from "../../github/github.state.js";

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

/** Issues of the configured repositories (pull requests are never stored), kept current by sync and webhooks. */
export const githubIssues = pgTable(
  "github_issues",
  {
    id: id(),
    /** `owner/name`, lower-cased: GitHub names are case-insensitive, so one spelling keeps one row. */
    repo: text("repo").notNull(),
    number: integer("number").notNull(),
    title: text("title").notNull(),
    state: text("state").$type<IssueState>().notNull(),
    labels: jsonb("labels").$type<string[]>().notNull().default([]),
    assignees: jsonb("assignees").$type<string[]>().notNull().default([]),
    htmlUrl: text("html_url").notNull(),
    body: text("body"),
    /** GitHub's `updated_at`: an update older than the stored one (a late webhook) is not applied. */
    githubUpdatedAt: ts("github_updated_at").notNull(),
    /** The task created from this issue (POST /api/github/issues/:id/task); one issue per task. */
    taskId: integer("task_id").references(() => tasks.id),
    linkedAt: ts("linked_at"),
    /** Completion comment (GITHUB_COMMENT_ON_COMPLETE): null until posted (`posted`) or given up (`failed`). */
    commentStatus: text("comment_status").$type<CommentStatus>(),
    commentAttempts: integer("comment_attempts").notNull().default(0),
    /** A worker posting the comment holds this; a stale claim (its process died) may be taken over. */
    commentClaimedAt: ts("comment_claimed_at"),
    insertedAt: insertedAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex("github_issues_repo_number_idx").on(t.repo, t.number),
    uniqueIndex("github_issues_task_idx").on(t.taskId),
    index("github_issues_state_idx").on(t.state, t.id),
  ],
);

/**
 * Per repository: where the incremental sync resumes. `since` is the high-water mark (the greatest
 * `updated_at` seen by the last complete pass) and `etag` the first page's ETag for that `since`.
 */
export const githubRepoState = pgTable("github_repo_state", {
  repo: text("repo").primaryKey(),
  since: ts("since"),
  etag: text("etag"),
  lastSyncedAt: ts("last_synced_at"),
  updatedAt: updatedAt(),
});

export interface GithubRepoResult {
  repo: string;
  status: RepoResultStatus;
  issues_synced: number;
  pull_requests_skipped: number;
  pages: number;
  error: string | null;
}

/** Sync runs. The partial unique index is what keeps a second run from starting while one is queued or running. */
export const githubSyncRuns = pgTable(
  "github_sync_runs",
  {
    id: id(),
    status: text("status").$type<RunStatus>().notNull().default("queued"),
    repos: jsonb("repos").$type<string[]>().notNull(),
    results: jsonb("results").$type<GithubRepoResult[]>().notNull().default([]),
    trigger: text("trigger").$type<RunTrigger>().notNull(),
    requestedBy: text("requested_by").notNull(),
    issuesSynced: integer("issues_synced").notNull().default(0),
    error: text("error"),
    /** Rate limited: nobody claims the (queued) run before this. */
    resumeAt: ts("resume_at"),
    /** The process running it, and when it last said so; a run whose heartbeat stopped is taken over. */
    owner: text("owner"),
    heartbeatAt: ts("heartbeat_at"),
    startedAt: ts("started_at"),
    finishedAt: ts("finished_at"),
    insertedAt: insertedAt(),
    updatedAt: updatedAt(),
  },
  () => [
    uniqueIndex("github_sync_runs_one_active_idx")
      .on(sql`(true)`)
      .where(sql`status IN ('queued', 'running')`),
  ],
);

/** Webhook deliveries already applied, by X-GitHub-Delivery: a redelivery is answered without applying it again. */
export const githubWebhookDeliveries = pgTable(
  "github_webhook_deliveries",
  {
    deliveryId: text("delivery_id").primaryKey(),
    event: text("event").notNull(),
    action: text("action"),
    result: text("result").$type<WebhookResultKind>().notNull(),
    receivedAt: ts("received_at").notNull().defaultNow(),
  },
  (t) => [index("github_webhook_deliveries_received_idx").on(t.receivedAt)],
);
