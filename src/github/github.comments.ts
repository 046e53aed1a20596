// Completion comments (GITHUB_COMMENT_ON_COMPLETE): when a task linked to an issue completes, by approve or
// by a report, a comment on the issue says so.
//
// Invariants:
// - What is due is read from the tables (linked issue, task `completed`, no comment yet), never from
//   in-memory events, so a completion is commented on whichever way it happened and even if this process
//   was down at the time. Trace notifications only wake the worker early; a poll covers the rest.
// - A worker claims an issue (a conditional update of `comment_claimed_at`) before posting, and marks it
//   `posted` after, with a `github.issue_commented` entry on the task's trace. A failed post is retried
//   after COMMENT_RETRY_S × attempts; after COMMENT_MAX_ATTEMPTS it is marked `failed` and traced. A worker
//   that dies between posting and marking leaves a claim that is retried later: at least once, not exactly.
import type { FastifyBaseLogger } from "fastify";
import type { GithubConfig } from "../config.js";
import type { Database } from "../db/client.js";
import type { Notifier } from "../db/notify.js";
import { TRACE_CHANNEL } from "../trace/trace.append.js";
import { singleFlight } from "../core/single-flight.js";
import { toGithubError, type GithubClient } from "./github.client.js";
import { noteOnTasks } from "./github.issues.js";
import { settleWithin } from "./github.sync.js";
import { issueKey } from "./github.refs.js";
import * as repo from "./github.repo.js";
import { COMMENT } from "./github.state.js";

const ACTOR = "system:github";
const POLL_MS = 15_000;
const DEBOUNCE_MS = 100;
const BATCH = 20;

export interface CommentWorkerDeps {
  database: Database;
  config: GithubConfig;
  client: GithubClient;
  notifier?: Notifier;
  log: FastifyBaseLogger;
}

export function commentBody(taskKey: string, missionKey: string, prUrl: unknown): string {
  const lines = [`Mission Control task \`${taskKey}\` (mission \`${missionKey}\`) was completed.`];
  if (typeof prUrl === "string" && /^https?:\/\//.test(prUrl)) lines.push("", `Pull request: ${prUrl}`);
  return lines.join("\n");
}

export function createCommentWorker({ database, config, client, notifier, log }: CommentWorkerDeps) {
  const { db } = database;
  let stopped = true;
  let poll: NodeJS.Timeout | null = null;
  let debounce: NodeJS.Timeout | null = null;
  let unlisten: (() => void) | null = null;
  let abort = new AbortController();

  const enabled = () => config.commentOnComplete && config.repos.length > 0 && config.token !== null;

  function wake() {
    if (stopped || debounce) return;
    debounce = setTimeout(() => {
      debounce = null;
      run();
    }, DEBOUNCE_MS);
    debounce.unref();
  }

  // One pass at a time; a wake-up during a pass runs one more after it. No pass starts once stopped.
  const flight = singleFlight(pass, (err) => {
    if (!stopped) log.error({ err }, "GitHub completion comments pass failed");
  });

  function run() {
    if (stopped) return;
    void flight.trigger();
  }

  async function pass() {
    for (;;) {
      if (stopped) return;
      const claimed = await repo.claimDueComments(db, BATCH);
      if (claimed.length === 0) return;
      for (const issue of claimed) {
        if (stopped) return;
        await post(issue);
      }
    }
  }

  async function post(issue: repo.IssueRow) {
    const [task] = await repo.taskKeys(db, [issue.taskId!]);
    if (!task) return;
    const [owner, name] = issue.repo.split("/") as [string, string];
    const key = issueKey(issue.repo, issue.number);
    try {
      const r = await client.createComment(
        owner,
        name,
        issue.number,
        commentBody(task.taskKey, task.missionKey, task.outputs.pr_url),
        {
          signal: abort.signal,
        },
      );
      await db.transaction(async (tx) => {
        await repo.finishComment(tx, issue.id, COMMENT.posted);
        await noteOnTasks(
          tx,
          [
            {
              taskId: task.id,
              entry: { event: "github.issue_commented", data: { issue: key, comment_url: r.html_url } },
            },
          ],
          ACTOR,
        );
      });
    } catch (err) {
      const ge = toGithubError(err);
      if (ge.kind === "aborted") return; // shutting down: the claim goes stale and is retried
      const final = issue.commentAttempts + 1 >= repo.COMMENT_MAX_ATTEMPTS;
      log.warn({ issue: key, error: ge.describe(), final }, "could not comment on a linked GitHub issue");
      await db.transaction(async (tx) => {
        await repo.finishComment(tx, issue.id, final ? COMMENT.failed : null);
        if (final) {
          await noteOnTasks(
            tx,
            [
              {
                taskId: task.id,
                entry: { event: "github.comment_failed", data: { issue: key, reason: ge.describe() } },
              },
            ],
            ACTOR,
          );
        }
      });
    }
  }

  return {
    enabled,
    async start() {
      if (!enabled() || !stopped) return;
      stopped = false;
      abort = new AbortController();
      if (notifier) unlisten = await notifier.listen(TRACE_CHANNEL, wake);
      poll = setInterval(run, POLL_MS);
      poll.unref();
      run();
    },
    async stop() {
      stopped = true;
      unlisten?.();
      unlisten = null;
      if (poll) clearInterval(poll);
      if (debounce) clearTimeout(debounce);
      poll = debounce = null;
      abort.abort();
      await settleWithin(flight.busy ? flight.idle() : null, 5000);
    },
    /** Runs a pass now (tests; the service after linking). */
    run,
    idle: () => flight.idle(),
  };
}
