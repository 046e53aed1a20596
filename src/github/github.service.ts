// The GitHub integration: sync runs, synced issues, issue → task, webhooks, approve-to-merge and completion
// comments. This file assembles the parts and holds the rules of the API operations; the stateful parts
// (sync scheduler, comment worker) state their invariants in their own files.
import type { FastifyBaseLogger } from "fastify";
import type { GithubConfig } from "../config.js";
import type { Database } from "../db/client.js";
import { isUniqueViolation } from "../db/lookup.js";
import type { Notifier } from "../db/notify.js";
import { findMission } from "../missions/missions.lookup.js";
import type { Principal } from "../core/principal.js";
import { Invalid, NotFound } from "../core/errors.js";
import { generateKey, parseRef } from "../core/ids.js";
import { pageOf, toPage } from "../core/pagination.js";
import { createTaskInTx, taskToApi } from "../tasks/tasks.service.js";
import { appendTrace } from "../trace/trace.append.js";
import { createGithubClient, type GithubClient } from "./github.client.js";
import { createCommentWorker } from "./github.comments.js";
import { issueToApi } from "./github.issues.js";
import { createMergeStep } from "./github.merge.js";
import { issueKey, parseIssueRef } from "./github.refs.js";
import * as repo from "./github.repo.js";
import type { IssueListQuery, IssueTaskCreate } from "./github.schemas.js";
import { createSyncRunner } from "./github.sync.js";
import { createWebhookHandler, verifySignature } from "./github.webhook.js";

/** A task's objective holds at most this much (the tasks schema's limit). */
const OBJECTIVE_MAX = 10_000;

export interface GithubDeps {
  database: Database;
  config: GithubConfig;
  log: FastifyBaseLogger;
  /** Wakes the completion-comment worker when trace entries commit. */
  notifier?: Notifier;
  /** Scheduler tick (tests). */
  tickMs?: number;
  /** Another client (tests); by default one over GITHUB_API_URL with GITHUB_TOKEN. */
  client?: GithubClient;
}

export type GithubService = ReturnType<typeof createGithubService>;

export function runToApi(r: repo.RunRow) {
  return {
    id: r.id,
    status: r.status,
    repos: r.repos,
    issues_synced: r.issuesSynced,
    error: r.error,
    started_at: r.startedAt,
    finished_at: r.finishedAt,
    resume_at: r.resumeAt,
    trigger: r.trigger,
    requested_by: r.requestedBy,
    results: r.results,
    inserted_at: r.insertedAt,
  };
}

/** The objective of a task made from an issue: its title, a blank line, its body; cut to what a task holds. */
export function objectiveOf(title: string, body: string | null): string {
  const text = body && body.trim() !== "" ? `${title}\n\n${body.trim()}` : title;
  return text.length > OBJECTIVE_MAX ? `${text.slice(0, OBJECTIVE_MAX - 1)}…` : text;
}

export function createGithubService(deps: GithubDeps) {
  const { database, config, log } = deps;
  const { db } = database;
  const client = deps.client ?? createGithubClient({ token: config.token, apiUrl: config.apiUrl, log });
  const sync = createSyncRunner({ database, config, client, log, tickMs: deps.tickMs });
  const comments = createCommentWorker({ database, config, client, notifier: deps.notifier, log });
  const handleWebhook = createWebhookHandler({ database, config });
  let warnedNoSecret = false;

  async function loadIssue(idRaw: string, opts: { lock?: boolean; exec?: Parameters<typeof repo.findIssue>[0] } = {}) {
    const ref = parseIssueRef(idRaw);
    const issue = ref === null ? undefined : await repo.findIssue(opts.exec ?? db, ref, opts);
    if (!issue) throw new NotFound();
    return issue;
  }

  async function startSync(by: Principal) {
    if (!sync.configured()) {
      throw Invalid.field(
        "github",
        "sync is not configured: set GITHUB_REPOS (owner/name, comma-separated) and GITHUB_TOKEN",
      );
    }
    const { run, created } = await sync.request(by.actor);
    return { run: runToApi(run), created };
  }

  async function getRun(idRaw: string) {
    const ref = parseRef(idRaw);
    const run = typeof ref === "number" ? await repo.findRun(db, ref) : undefined;
    if (!run) throw new NotFound();
    return runToApi(run);
  }

  async function listIssues(q: IssueListQuery) {
    const page = pageOf(q);
    const rows = await repo.listIssues(db, { repo: q.repo, state: q.state, label: q.label, linked: q.linked }, page);
    return toPage(rows, page, issueToApi);
  }

  async function getIssue(idRaw: string) {
    return issueToApi(await loadIssue(idRaw));
  }

  /**
   * A task in the given mission made from the issue, linked to it (the issue's `task_id`; the task's
   * outputs name the issue). One transaction: the task, the link and both trace entries, or nothing.
   */
  async function createTask(idRaw: string, input: IssueTaskCreate, by: Principal) {
    const taskKey = input.task_id ?? generateKey("task");
    try {
      const view = await db.transaction(async (tx) => {
        const issue = await loadIssue(idRaw, { lock: true, exec: tx });
        if (issue.taskId !== null) throw Invalid.field("issue", `is already linked to task ${issue.taskKey}`);
        const missionRef = parseRef(input.mission_id);
        const mission = missionRef === null ? undefined : await findMission(tx, missionRef);
        if (!mission) throw Invalid.field("mission_id", "does not exist");
        const key = issueKey(issue.repo, issue.number);
        const t = await createTaskInTx(tx, by.actor, {
          taskId: taskKey,
          mission,
          objective: objectiveOf(issue.title, issue.body),
          agent: null,
          sprint: null,
          requirements: [],
          priority: input.priority ?? null,
          outputs: { github_issue: key, github_issue_url: issue.htmlUrl },
          requiredCapabilities: [],
        });
        await repo.linkIssue(tx, issue.id, t.id);
        await appendTrace(tx, {
          event: "github.issue_linked",
          actor: by.actor,
          missionId: t.missionKey,
          taskId: t.taskId,
          data: { issue: key, html_url: issue.htmlUrl, issue_state: issue.state },
        });
        return t;
      });
      return taskToApi(view, []);
    } catch (err) {
      if (isUniqueViolation(err)) throw Invalid.field("task_id", "has already been taken");
      throw err;
    }
  }

  /** Whether a webhook delivery's signature is good. The secret itself is never logged. */
  function verifyWebhook(raw: Buffer, header: unknown): boolean {
    if (config.webhookSecret === null && !warnedNoSecret) {
      warnedNoSecret = true;
      log.warn("GitHub webhook delivery refused: GITHUB_WEBHOOK_SECRET is not set");
    }
    return verifySignature(config.webhookSecret, raw, header);
  }

  return {
    startSync,
    getRun,
    listIssues,
    getIssue,
    createTask,
    verifyWebhook,
    handleWebhook,
    /** The tasks service's pre-completion step: merges the task's pull request. */
    mergeStep: createMergeStep({ database, config, client, log }),
    async start() {
      sync.start();
      await comments.start();
    },
    async stop() {
      await sync.stop();
      await comments.stop();
    },
    sync,
    comments,
  };
}
