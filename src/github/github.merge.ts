// Approve-to-merge: the tasks service's `beforeComplete` step. Approving a task whose `outputs.pr_url` is a
// pull request of a configured repository merges it first; when GitHub refuses, the step throws and the
// task stays in `pending_review`.
//
// Tracing: the step runs before (and outside) the approve's transaction, and writes its own entries in
// their own transactions: `github.merge_attempted` before calling GitHub, then `github.pr_merged` or
// `github.merge_failed`. So a refused or failed merge is on the record even though the approve that asked
// for it changes nothing (its own `task.status_changed` entry is never written).
import type { FastifyBaseLogger } from "fastify";
import type { GithubConfig } from "../config.js";
import type { Database } from "../db/client.js";
import { Invalid, Upstream } from "../core/errors.js";
import type { BeforeComplete } from "../tasks/tasks.service.js";
import { appendTrace } from "../trace/trace.append.js";
import type { TraceEvent } from "../trace/trace.events.js";
import { type GithubClient, type GithubError, toGithubError } from "./github.client.js";
import { issueKey, parsePullUrl } from "./github.refs.js";
import { assertNever } from "../core/assert-never.js";

/** 502 for a rate limit that outlasts what an approve waits: with the time GitHub gave. */
export class GithubRateLimited extends Upstream {
  constructor(
    detail: string,
    readonly retryAfterS: number,
  ) {
    super(detail);
  }
  override headers() {
    return { "retry-after": String(this.retryAfterS) };
  }
}

export interface MergeStepDeps {
  database: Database;
  config: GithubConfig;
  client: GithubClient;
  log: FastifyBaseLogger;
}

export function createMergeStep({ database, config, client, log }: MergeStepDeps): BeforeComplete {
  const { db } = database;

  return async (task, { principal }) => {
    const pull = parsePullUrl(task.outputs.pr_url);
    // Not a pull request of a repository this server manages: nothing to merge, the approve goes on.
    if (!pull || !config.repos.includes(pull.repo)) return;
    const headSha = task.outputs.head_sha;
    const sha = typeof headSha === "string" && headSha.trim() !== "" ? headSha.trim() : undefined;
    const key = issueKey(pull.repo, pull.number);
    const base = { pr_url: pull.url, pull_request: key, merge_method: config.mergeMethod, sha: sha ?? null };
    const trace = (entry: TraceEvent) =>
      db.transaction((tx) =>
        appendTrace(tx, {
          ...entry,
          actor: principal.actor,
          missionId: task.mission_id,
          taskId: task.task_id,
          agentId: task.agent_id,
        }),
      );

    await trace({ event: "github.merge_attempted", data: base });
    // A user is waiting: one retry of a failed attempt, and only short rate-limit waits.
    const call = { interactive: true };
    let failure: GithubError;
    try {
      const r = await client.mergePull(
        pull.owner,
        pull.name,
        pull.number,
        { merge_method: config.mergeMethod, ...(sha ? { sha } : {}) },
        call,
      );
      await trace({ event: "github.pr_merged", data: { ...base, merge_commit_sha: r.sha, already_merged: false } });
      return;
    } catch (err) {
      failure = toGithubError(err);
    }

    // 405 is also GitHub's answer for a pull request that is already merged (say, by an earlier approve whose
    // completion then lost a race): that counts as merged.
    if (failure.kind === "refused" && (failure.status === 405 || failure.status === 409)) {
      const pr = await client.getPull(pull.owner, pull.name, pull.number, call).catch(() => null);
      if (pr?.merged) {
        await trace({
          event: "github.pr_merged",
          data: { ...base, merge_commit_sha: pr.merge_commit_sha, already_merged: true },
        });
        return;
      }
    }

    await trace({
      event: "github.merge_failed",
      data: { ...base, kind: failure.kind, status: failure.status, reason: failure.reason },
    });
    log.warn(
      { task: task.task_id, pullRequest: key, kind: failure.kind, status: failure.status },
      "pull request merge failed",
    );
    switch (failure.kind) {
      case "refused":
        throw Invalid.field("merge", `GitHub refused to merge ${key} (${failure.status}): ${failure.reason}`);
      case "rate_limited": {
        const s = Math.max(1, Math.ceil(((failure.resumeAt?.getTime() ?? Date.now() + 60_000) - Date.now()) / 1000));
        throw new GithubRateLimited(`GitHub rate limit exceeded; ${key} was not merged, retry the approve later`, s);
      }
      case "unreachable":
      case "aborted":
        throw new Upstream(`GitHub could not be reached; ${key} was not merged and the task stays in pending_review`);
      case "unauthorized":
      case "upstream":
        throw new Upstream(`${failure.describe()}; ${key} was not merged and the task stays in pending_review`);
      default:
        return assertNever(failure.kind);
    }
  };
}
