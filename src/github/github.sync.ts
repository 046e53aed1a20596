// Sync runs and their scheduler.
//
// Invariants:
// - At most one run is queued or running at a time, across processes: the partial unique index
//   github_sync_runs_one_active_idx. Asking for a run while one is active returns the active one; so no two
//   runs ever sync the same repository at once.
// - A run is executed only by the process that claimed it (a conditional UPDATE to `running` naming this
//   process as owner). The owner heartbeats; a running run whose heartbeat is older than STALE_S (its process
//   died) is claimed again by any process and resumes: repositories it already finished are not fetched again.
//   Every write of a run's progress is conditional on still owning it.
// - A repository's high-water mark (`since`) and ETag advance only in the transaction that writes its last
//   page, so an interrupted pass fetches again from the old mark (upserts are idempotent) and never skips.
// - Rate limited for longer than the client waits out: the run goes back to `queued` with `resume_at`; nobody
//   claims it before then, and this process sets a timer for that moment.
// - stop(): no new claims; the run in progress is aborted and put back to `queued`, so it resumes at the
//   next start or in another process.
import { randomUUID } from "node:crypto";
import type { FastifyBaseLogger } from "fastify";
import type { GithubConfig } from "../config.js";
import type { Database } from "../db/client.js";
import type { GithubRepoResult } from "../db/schema/index.js";
import { singleFlight } from "../core/single-flight.js";
import { appendTrace } from "../trace/trace.append.js";
import { GithubError, toGithubError, type GithubClient } from "./github.client.js";
import { applyIssues, isPullRequest, issueValues } from "./github.issues.js";
import * as repo from "./github.repo.js";
import { isPendingRepo, REPO_RESULT, RUN, TRIGGER } from "./github.state.js";

const HEARTBEAT_MS = 10_000;
const STALE_S = 60;
const PURGE_EVERY_MS = 3600_000;
/** Deliveries are remembered this long; GitHub redelivers (by hand) only recent ones. */
const DELIVERY_TTL_S = 30 * 24 * 3600;
const SCHEDULER_ACTOR = "system:github-scheduler";
const STOP_GRACE_MS = 5000;

/** Waits for `p` (never rejects) or `ms`, whichever comes first. */
export async function settleWithin(p: Promise<unknown> | null, ms: number): Promise<void> {
  if (!p) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    p.then(
      () => undefined,
      () => undefined,
    ),
    new Promise<void>((r) => {
      timer = setTimeout(r, ms);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
}

export interface SyncRunnerDeps {
  database: Database;
  config: GithubConfig;
  client: GithubClient;
  log: FastifyBaseLogger;
  /** How often the scheduler looks for due work (default: the sync interval, at most 10 s, at least 1 s). */
  tickMs?: number;
}

export function createSyncRunner({ database, config, client, log, tickMs }: SyncRunnerDeps) {
  const { db } = database;
  const owner = `github-sync-${randomUUID()}`;
  const tick = tickMs ?? Math.min(10_000, Math.max(1000, config.syncIntervalS * 1000 || 10_000));
  let timer: NodeJS.Timeout | null = null;
  let resumeTimer: NodeJS.Timeout | null = null;
  let stopped = true;
  let abort = new AbortController();
  let lastPurge = 0;

  const configured = () => config.repos.length > 0 && config.token !== null;

  // The work loop: one pass at a time; a kick during a pass runs one more after it. No pass starts once stopped.
  // A failed pass (the database, or a bug) is logged, and the next tick tries again.
  const flight = singleFlight(pass, (err) => {
    if (!stopped) log.error({ err }, "GitHub sync scheduler pass failed");
  });

  /** Runs the work loop now (or right after the pass in progress). */
  function kick() {
    if (stopped) return;
    void flight.trigger();
  }

  async function pass() {
    if (stopped) return;
    if (config.syncIntervalS > 0) {
      const run = await db.transaction(async (tx) => {
        const r = await repo.insertScheduledRun(tx, config.repos, config.syncIntervalS, SCHEDULER_ACTOR);
        if (r) await traceQueued(tx, r);
        return r;
      });
      if (run) log.info({ runId: run.id }, "scheduled GitHub sync queued");
    }
    for (;;) {
      if (stopped) return;
      const run = await repo.claimRun(db, owner, STALE_S);
      if (!run) break;
      await execute(run);
    }
    await armResumeTimer();
    if (Date.now() - lastPurge > PURGE_EVERY_MS) {
      lastPurge = Date.now();
      await repo.purgeDeliveries(db, DELIVERY_TTL_S);
    }
  }

  async function armResumeTimer() {
    const at = await repo.nextResumeAt(db);
    if (resumeTimer) clearTimeout(resumeTimer);
    resumeTimer = null;
    if (at === null || stopped) return;
    // At most an hour ahead (timers overflow past 24 days); an early wake-up just finds nothing due yet.
    resumeTimer = setTimeout(kick, Math.min(3600_000, Math.max(0, at.getTime() - Date.now()) + 50));
    resumeTimer.unref();
  }

  async function traceQueued(tx: Parameters<typeof appendTrace>[0], run: repo.RunRow) {
    await appendTrace(tx, {
      event: "github.sync_queued",
      actor: run.requestedBy,
      data: { run_id: run.id, repos: run.repos, trigger: run.trigger },
    });
  }

  /** Queues a run requested through the API, or returns the active one. */
  async function request(actor: string): Promise<{ run: repo.RunRow; created: boolean }> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const created = await db.transaction(async (tx) => {
        const r = await repo.insertRun(tx, { repos: config.repos, trigger: TRIGGER.manual, requestedBy: actor });
        if (r) await traceQueued(tx, r);
        return r;
      });
      if (created) {
        kick();
        return { run: created, created: true };
      }
      const active = await repo.findActiveRun(db);
      // Finished between the two statements: try again.
      if (active) return { run: active, created: false };
    }
    throw new Error("could not queue or find a GitHub sync run");
  }

  async function execute(run: repo.RunRow) {
    const results: GithubRepoResult[] = run.repos.map(
      (r) => run.results.find((x) => x.repo === r) ?? repo.pendingResult(r),
    );
    let total = run.issuesSynced;
    const beat = setInterval(() => {
      repo.heartbeat(db, run.id, owner).catch(() => {});
    }, HEARTBEAT_MS);
    beat.unref();
    const actor = run.requestedBy;
    try {
      for (const result of results) {
        if (!isPendingRepo(result.status)) continue;
        try {
          total = await syncRepo(run, result, results, total, actor);
        } catch (err) {
          const ge = toGithubError(err);
          if (ge.kind === "aborted" || stopped) throw ge;
          if (ge.kind === "rate_limited") {
            await pause(run, results, total, ge);
            return;
          }
          result.status = REPO_RESULT.failed;
          result.error = ge.describe();
          log.warn({ runId: run.id, repo: result.repo, error: result.error }, "GitHub sync of a repository failed");
          await repo.updateOwnedRun(db, run.id, owner, { results });
        }
      }
      await finish(run, results, total);
    } catch (err) {
      if (stopped || (err instanceof GithubError && err.kind === "aborted")) {
        // Shutting down: back to the queue, to resume at the next start or in another process.
        await repo.updateOwnedRun(db, run.id, owner, { status: RUN.queued, owner: null, results }).catch(() => {});
        return;
      }
      // A bug or the database: the run fails with a generic message (details in the log only).
      log.error({ err, runId: run.id }, "GitHub sync run failed");
      await finish(run, results, total, "internal error while syncing; see the server log").catch(() => {});
    } finally {
      clearInterval(beat);
    }
  }

  async function pause(run: repo.RunRow, results: GithubRepoResult[], total: number, ge: GithubError) {
    const resumeAt = ge.resumeAt ?? new Date(Date.now() + 60_000);
    const error = `${ge.describe()}; the run resumes then`;
    await db.transaction(async (tx) => {
      const moved = await repo.updateOwnedRun(tx, run.id, owner, {
        status: RUN.queued,
        owner: null,
        resumeAt,
        results,
        issuesSynced: total,
        error,
      });
      if (!moved) return;
      await appendTrace(tx, {
        event: "github.sync_paused",
        actor: run.requestedBy,
        data: { run_id: run.id, resume_at: resumeAt.toISOString(), reason: ge.describe() },
      });
    });
    log.warn({ runId: run.id, resumeAt }, "GitHub sync rate limited; run paused");
  }

  async function finish(run: repo.RunRow, results: GithubRepoResult[], total: number, internal?: string) {
    const failed = results.filter((r) => r.status === REPO_RESULT.failed);
    const status = internal !== undefined || failed.length > 0 ? RUN.failed : RUN.succeeded;
    const error = internal ?? (failed.length > 0 ? failed.map((r) => `${r.repo}: ${r.error}`).join("; ") : null);
    await db.transaction(async (tx) => {
      const done = await repo.updateOwnedRun(tx, run.id, owner, {
        status,
        owner: null,
        results,
        issuesSynced: total,
        error,
        resumeAt: null,
        finishedAt: new Date(),
      });
      if (!done) return;
      await appendTrace(tx, {
        event: "github.sync_finished",
        actor: run.requestedBy,
        data: { run_id: run.id, status, issues_synced: total, error },
      });
    });
  }

  /** One repository's incremental pass. Returns the run's new total of issues synced. */
  async function syncRepo(
    run: repo.RunRow,
    result: GithubRepoResult,
    results: GithubRepoResult[],
    total: number,
    actor: string,
  ) {
    const [owner_, name] = result.repo.split("/") as [string, string];
    const state = await repo.getRepoState(db, result.repo);
    const since = state?.since ?? null;
    const call = { signal: abort.signal };
    let page = await client.listIssues(owner_, name, { since, etag: state?.etag ?? null }, call);
    if (page.notModified) {
      result.status = REPO_RESULT.notModified;
      result.pages = 1;
      await repo.updateOwnedRun(db, run.id, owner, { results });
      return total;
    }
    const etag = page.etag;
    let mark = since;
    for (;;) {
      if (stopped) throw new GithubError("aborted", null, "aborted");
      const values: repo.IssueValues[] = [];
      for (const item of page.items) {
        const at = new Date(String((item as { updated_at?: unknown }).updated_at));
        // Pull requests count for the mark too: they were seen, and `since` is inclusive.
        if (!Number.isNaN(at.getTime()) && (mark === null || at > mark)) mark = at;
        if (isPullRequest(item)) {
          result.pull_requests_skipped++;
          continue;
        }
        const v = issueValues(result.repo, item);
        if (!v)
          throw new GithubError("upstream", 200, "GitHub sent an issue without number, title, state or updated_at");
        values.push(v);
      }
      result.pages++;
      const last = page.next === null;
      const next = page.next;
      total = await db.transaction(async (tx) => {
        const { created, updated } = await applyIssues(tx, result.repo, values, {
          actor,
          via: "sync",
          data: { run_id: run.id },
        });
        const changed = created.length + updated.length;
        result.issues_synced += changed;
        if (last) {
          result.status = REPO_RESULT.synced;
          await repo.saveRepoState(tx, result.repo, mark, etag);
        }
        const owned = await repo.updateOwnedRun(tx, run.id, owner, { results, issuesSynced: total + changed });
        // Taken over by another process (this one stalled past STALE_S): its writes stop here.
        if (!owned) throw new GithubError("aborted", null, "run taken over by another process");
        if (changed > 0) {
          await appendTrace(tx, {
            event: "github.issues_synced",
            actor,
            data: { run_id: run.id, repo: result.repo, created, updated },
          });
        }
        return total + changed;
      });
      if (next === null) return total;
      page = await client.nextPage(next, call);
      // No ETag is sent for later pages, so GitHub has no reason to answer 304.
      if (page.notModified)
        throw new GithubError("upstream", 304, "GitHub answered 304 to a page requested without an ETag");
    }
  }

  return {
    configured,
    request,
    /** Starts the scheduler: due runs are claimed, and scheduled runs queued, every tick. */
    start() {
      if (!configured() || !stopped) return;
      stopped = false;
      abort = new AbortController();
      timer = setInterval(kick, tick);
      timer.unref();
      kick();
    },
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      if (resumeTimer) clearTimeout(resumeTimer);
      timer = resumeTimer = null;
      abort.abort();
      // A request sitting out a rate limit is not interrupted by the abort: shutdown waits for it only so long.
      // A run left behind keeps its heartbeat and is taken over once that is stale.
      await settleWithin(flight.busy ? flight.idle() : null, STOP_GRACE_MS);
    },
    /** For tests and the API: run the loop now. */
    kick,
    /** Resolves when the work loop is idle. */
    idle: () => flight.idle(),
  };
}
