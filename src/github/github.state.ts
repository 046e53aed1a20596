// GitHub statuses: the values of every status column of the github_* tables. Pure; the named objects (RUN, …)
// are what other files write, so no status is spelled outside this file.
//
// A sync run is `queued` until a process claims it (`running`); it ends `succeeded` or `failed`, or goes back
// to `queued` (rate limited, or its process stopping) to be claimed again. A run whose process died stays
// `running` until another process takes it over. At most one run is active (queued or running) at a time.

import { assertNever } from "../core/assert-never.js";

/** An issue as GitHub reports it (pull requests are never stored). */
export const ISSUE_STATES = ["open", "closed"] as const;
export type IssueState = (typeof ISSUE_STATES)[number];

export function isIssueState(s: unknown): s is IssueState {
  return typeof s === "string" && (ISSUE_STATES as readonly string[]).includes(s);
}

/** The entry a linked issue's task gets when the issue moves to this state. */
export function issueStateEvent(to: IssueState): "github.issue_closed" | "github.issue_reopened" {
  switch (to) {
    case "closed":
      return "github.issue_closed";
    case "open":
      return "github.issue_reopened";
    default:
      return assertNever(to);
  }
}

export const RUN_STATUSES = ["queued", "running", "succeeded", "failed"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const RUN = {
  queued: "queued",
  running: "running",
  succeeded: "succeeded",
  failed: "failed",
} as const satisfies Record<string, RunStatus>;

/** The statuses of the one run that may be active (github_sync_runs_one_active_idx). */
export const ACTIVE_RUN_STATUSES = ["queued", "running"] as const satisfies readonly RunStatus[];

/** Who asked for a run: POST /api/github/sync, or the scheduler (GITHUB_SYNC_INTERVAL_S). */
export const RUN_TRIGGERS = ["manual", "schedule"] as const;
export type RunTrigger = (typeof RUN_TRIGGERS)[number];
export const TRIGGER = { manual: "manual", schedule: "schedule" } as const satisfies Record<string, RunTrigger>;

/** One repository's part of a run: `pending` until done; `not_modified` when GitHub answered 304. */
export const REPO_RESULT_STATUSES = ["pending", "synced", "not_modified", "failed"] as const;
export type RepoResultStatus = (typeof REPO_RESULT_STATUSES)[number];
export const REPO_RESULT = {
  pending: "pending",
  synced: "synced",
  notModified: "not_modified",
  failed: "failed",
} as const satisfies Record<string, RepoResultStatus>;

/** A repository a run has yet to sync. */
export function isPendingRepo(s: RepoResultStatus): boolean {
  return s === REPO_RESULT.pending;
}

/** A linked issue's completion comment: null while due, then `posted`, or `failed` after the last attempt. */
export const COMMENT_STATUSES = ["posted", "failed"] as const;
export type CommentStatus = (typeof COMMENT_STATUSES)[number];
export const COMMENT = { posted: "posted", failed: "failed" } as const satisfies Record<string, CommentStatus>;

/** What a webhook delivery did. */
export const WEBHOOK_RESULTS = ["applied", "duplicate", "ignored", "pong"] as const;
export type WebhookResultKind = (typeof WEBHOOK_RESULTS)[number];
export const WEBHOOK = {
  applied: "applied",
  duplicate: "duplicate",
  ignored: "ignored",
  pong: "pong",
} as const satisfies Record<string, WebhookResultKind>;
