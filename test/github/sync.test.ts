import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, waitFor, type TestContext } from "../harness.js";
import { startFakeGithub, type FakeGithub } from "../fixtures/fake-github/server.js";
import { githubContext, getRun, OTHER, REPO, syncNow, traceOf, waitRun } from "./helpers.js";

let fake: FakeGithub;
let t: TestContext;

beforeAll(async () => {
  fake = await startFakeGithub();
  fake.repo(REPO);
  fake.repo(OTHER);
  t = await githubContext(fake);
});
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

async function issues(query: Record<string, string> = {}) {
  const r = await t.json("GET", "/api/github/issues", { query: { limit: "500", ...query } });
  expect(r.status).toBe(200);
  return r.body.data as Array<Record<string, any>>;
}

describe("sync runs", () => {
  test("first sync: 202 with the run, then every issue stored, pull requests skipped", async () => {
    fake.addIssue(REPO, { title: "Login fails", body: "Steps…", labels: ["bug", "P1"], assignees: ["alice"] });
    fake.addIssue(REPO, { title: "Dark mode", state: "closed" });
    fake.addPull(REPO, { title: "Fix login" });
    fake.addIssue(OTHER, { title: "Other repo issue" });

    const before = fake.requests.length;
    const r = await t.json("POST", "/api/github/sync");
    expect(r.status).toBe(202);
    expect(r.headers.location).toBe(`/api/github/sync/${r.body.data.id}`);
    expect(r.body.data).toMatchObject({
      repos: [REPO, OTHER],
      trigger: "manual",
      requested_by: "admin:test-admin",
      error: null,
      finished_at: null,
    });
    expect(["queued", "running", "succeeded"]).toContain(r.body.data.status);

    const run = await waitRun(t, r.body.data.id);
    expect(run.status).toBe("succeeded");
    expect(run.issues_synced).toBe(3);
    expect(run.error).toBeNull();
    expect(run.started_at).not.toBeNull();
    expect(run.finished_at).not.toBeNull();
    expect(run.results).toEqual([
      { repo: REPO, status: "synced", issues_synced: 2, pull_requests_skipped: 1, pages: 1, error: null },
      { repo: OTHER, status: "synced", issues_synced: 1, pull_requests_skipped: 0, pages: 1, error: null },
    ]);

    // The request GitHub saw: every state, most recently updated first, 100 a page, no since, no ETag, the token.
    const calls = fake.requests.slice(before).filter((c) => c.path === `/repos/${REPO}/issues`);
    expect(calls).toHaveLength(1);
    const q = Object.fromEntries(calls[0]!.query);
    expect(q).toEqual({ state: "all", sort: "updated", direction: "desc", per_page: "100" });
    expect(calls[0]!.headers["if-none-match"]).toBeUndefined();
    expect(calls[0]!.headers.authorization).toBe(`token ${fake.token}`);

    const stored = await issues({ repo: REPO });
    expect(stored.map((i) => i.number)).toEqual([1, 2]);
    expect(stored[0]).toMatchObject({
      repo: REPO,
      number: 1,
      title: "Login fails",
      body: "Steps…",
      state: "open",
      labels: ["bug", "P1"],
      assignees: ["alice"],
      html_url: `${fake.url}/octo/hello/issues/1`,
      task_id: null,
    });
    expect(stored[0]!.github_updated_at).toMatch(/^2026-01-01T00:0\d:00\.000Z$/);
    expect(stored[1]).toMatchObject({ number: 2, state: "closed", labels: [], assignees: [] });

    const entries = await traceOf(t, { event: "github.issues_synced" });
    expect(entries.map((e) => e.data)).toEqual([
      { run_id: run.id, repo: REPO, created: [1, 2], updated: [] },
      { run_id: run.id, repo: OTHER, created: [1], updated: [] },
    ]);
    const finished = await traceOf(t, { event: "github.sync_finished" });
    expect(finished.at(-1)).toMatchObject({
      actor: "admin:test-admin",
      data: { run_id: run.id, status: "succeeded", issues_synced: 3, error: null },
    });
  });

  test("incremental resync: since = the high-water mark, and only the edited issue is written", async () => {
    const mark = (await issues({ repo: REPO })).map((i) => i.github_updated_at).concat();
    fake.updateIssue(REPO, 1, { title: "Login fails on Safari", labels: ["bug"] });
    const before = fake.requests.length;
    const run = await syncNow(t);
    expect(run.status).toBe("succeeded");
    expect(run.results[0]).toMatchObject({ repo: REPO, status: "synced", issues_synced: 1 });

    const call = fake.requests.slice(before).find((c) => c.path === `/repos/${REPO}/issues`)!;
    // The previous pass's greatest updated_at, the pull request's included (it was seen too).
    const pr = fake.repo(REPO).items.get(3)!;
    expect(call.query.get("since")).toBe(new Date(pr.updated_at).toISOString());
    expect(mark.length).toBe(2);
    expect(call.headers["if-none-match"]).toMatch(/^W\/"/);

    const [one] = await issues({ repo: REPO, label: "bug" });
    expect(one).toMatchObject({ number: 1, title: "Login fails on Safari", labels: ["bug"] });
    const entries = await traceOf(t, { event: "github.issues_synced" });
    expect(entries.at(-1)!.data).toEqual({ run_id: run.id, repo: REPO, created: [], updated: [1] });
  });

  test("an unchanged repository costs a 304 once its mark has settled: nothing written, no rate limit spent", async () => {
    await syncNow(t); // settles the ETag for the current mark
    const before = fake.requests.length;
    const remaining = fake.rateLimit.remaining;
    const run = await syncNow(t);
    expect(run.status).toBe("succeeded");
    expect(run.issues_synced).toBe(0);
    expect(run.results.map((r) => [r.repo, r.status, r.pages])).toEqual([
      [REPO, "not_modified", 1],
      [OTHER, "not_modified", 1],
    ]);
    const calls = fake.requests.slice(before);
    expect(calls.map((c) => c.status)).toEqual([304, 304]);
    expect(calls.every((c) => typeof c.headers["if-none-match"] === "string")).toBe(true);
    expect(fake.rateLimit.remaining).toBe(remaining);
  });

  test("a change after a 304 is picked up again", async () => {
    fake.addIssue(REPO, { title: "New one" });
    const run = await syncNow(t);
    expect(run.results[0]).toMatchObject({ status: "synced", issues_synced: 1 });
    expect((await issues({ repo: REPO })).map((i) => i.title)).toContain("New one");
  });

  test("a repository with more than 100 changed issues is fetched page by page through Link", async () => {
    for (let i = 0; i < 205; i++) fake.addIssue(OTHER, { title: `bulk ${i}` });
    const before = fake.requests.length;
    const run = await syncNow(t);
    expect(run.status).toBe("succeeded");
    expect(run.results[1]).toMatchObject({ repo: OTHER, status: "synced", issues_synced: 205, pages: 3 });
    const calls = fake.requests.slice(before).filter((c) => c.path === `/repos/${OTHER}/issues`);
    expect(calls.map((c) => c.query.get("page"))).toEqual([null, "2", "3"]);
    expect(calls.every((c) => c.query.get("per_page") === "100")).toBe(true);
    expect((await issues({ repo: OTHER })).length).toBe(206);
  });

  test("a second POST while a run is queued or running answers 202 with that run", async () => {
    // Slow GitHub down so the first run is still running when the others arrive.
    fake.script({ method: "GET", path: /\/issues$/, status: 500, body: { message: "Server Error" }, times: 1 });
    const posts = await Promise.all([1, 2, 3].map(() => t.json("POST", "/api/github/sync")));
    expect(posts.map((p) => p.status)).toEqual([202, 202, 202]);
    const ids = new Set(posts.map((p) => p.body.data.id));
    expect(ids.size).toBe(1);
    const run = await waitRun(t, posts[0]!.body.data.id);
    expect(run.status).toBe("succeeded"); // the 500 was retried
  });

  test("GET of an unknown run → 404", async () => {
    for (const id of ["999999", "abc", "0", "1.5"]) {
      const r = await t.json("GET", `/api/github/sync/${id}`);
      expect(r.status, id).toBe(404);
      expect(r.body).toEqual({ errors: { detail: "Not Found" } });
    }
  });
});

describe("rate limits", () => {
  test("a 429 with retry-after is waited out and the request retried", async () => {
    fake.updateIssue(REPO, 2, { title: "Dark mode v2" });
    fake.script({
      method: "GET",
      path: new RegExp(`^/repos/${REPO}/issues$`),
      status: 429,
      headers: { "retry-after": "1" },
      body: { message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again." },
    });
    const before = fake.requests.length;
    const started = Date.now();
    const run = await syncNow(t);
    expect(run.status).toBe("succeeded");
    expect(run.results[0]).toMatchObject({ status: "synced", issues_synced: 1 });
    const calls = fake.requests.slice(before).filter((c) => c.path === `/repos/${REPO}/issues`);
    expect(calls.map((c) => c.status)).toEqual([429, 200]);
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(900);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  test("the primary limit (403, x-ratelimit-remaining: 0) is waited out until the reset when it is near", async () => {
    fake.updateIssue(REPO, 1, { state: "closed" });
    fake.script({
      method: "GET",
      path: new RegExp(`^/repos/${REPO}/issues$`),
      status: 403,
      headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) + 1) },
      body: { message: "API rate limit exceeded for user ID 1." },
    });
    const before = fake.requests.length;
    const run = await syncNow(t);
    expect(run.status).toBe("succeeded");
    const calls = fake.requests.slice(before).filter((c) => c.path === `/repos/${REPO}/issues`);
    expect(calls.map((c) => c.status)).toEqual([403, 200]);
    expect((await issues({ repo: REPO, state: "closed" })).map((i) => i.number)).toEqual([1, 2]);
  });

  test("a limit that lasts longer than the run waits: the run goes back to queued with resume_at, then resumes", async () => {
    fake.updateIssue(OTHER, 1, { title: "Other repo issue, edited" });
    fake.addIssue(REPO, { title: "before the limit" });
    // REPO is fetched, then OTHER hits an hour-long limit.
    fake.script({
      method: "GET",
      path: new RegExp(`^/repos/${OTHER}/issues$`),
      status: 429,
      headers: { "retry-after": "3600" },
      body: { message: "You have exceeded a secondary rate limit." },
    });
    const r = await t.json("POST", "/api/github/sync");
    const paused = await waitRun(t, r.body.data.id, (x) => x.status === "queued" && x.resume_at !== null);
    expect(paused.error).toMatch(/^GitHub rate limit exceeded until \d{4}-.*Z; the run resumes then$/);
    const resumeIn = Date.parse(paused.resume_at!) - Date.now();
    expect(resumeIn).toBeGreaterThan(3500_000);
    expect(resumeIn).toBeLessThanOrEqual(3600_000);
    expect(paused.results.map((x) => x.status)).toEqual(["synced", "pending"]);
    const entries = await traceOf(t, { event: "github.sync_paused" });
    expect(entries.at(-1)!.data).toMatchObject({ run_id: paused.id, resume_at: paused.resume_at });

    // While it waits, it is the active run: a POST returns it rather than starting another.
    const again = await t.json("POST", "/api/github/sync");
    expect(again.status).toBe(202);
    expect(again.body.data.id).toBe(paused.id);

    // Time passes (the resume time is moved to now): the scheduler takes it up and only OTHER is fetched.
    const before = fake.requests.length;
    await t.database.query("UPDATE github_sync_runs SET resume_at = now() WHERE id = $1", [paused.id]);
    // The next scheduler tick (within 10 s) claims it; a POST would only return it.
    const done = await waitFor(
      async () => {
        const x = await getRun(t, paused.id);
        return x.status === "succeeded" || x.status === "failed" ? x : null;
      },
      20_000,
      "resumed run",
    );
    expect(done.status).toBe("succeeded");
    expect(done.resume_at).toBeNull();
    expect(done.error).toBeNull();
    expect(done.results.map((x) => [x.repo, x.status])).toEqual([
      [REPO, "synced"],
      [OTHER, "synced"],
    ]);
    const calls = fake.requests.slice(before);
    expect(calls.some((c) => c.path === `/repos/${REPO}/issues`)).toBe(false);
    expect(calls.filter((c) => c.path === `/repos/${OTHER}/issues`).length).toBe(1);
  });
});

describe("failures", () => {
  test("a repository GitHub does not know fails the run with GitHub's reason; the others still sync", async () => {
    const f2 = await startFakeGithub();
    f2.addIssue(REPO, { title: "only one" });
    const t2 = await githubContext(f2, { GITHUB_REPOS: `${REPO},octo/missing` });
    try {
      const run = await syncNow(t2);
      expect(run.status).toBe("failed");
      expect(run.error).toBe("octo/missing: GitHub answered 404: Not Found");
      expect(run.results.map((x) => [x.repo, x.status, x.issues_synced])).toEqual([
        [REPO, "synced", 1],
        ["octo/missing", "failed", 0],
      ]);
      expect(run.issues_synced).toBe(1);
    } finally {
      await t2.close();
      await f2.close();
    }
  });

  test("a token GitHub rejects fails the run with a message that does not contain the token", async () => {
    const f2 = await startFakeGithub();
    f2.repo(REPO);
    const wrong = "ghp_wrong_token_do_not_leak_42";
    const t2 = await createTestContext({
      GITHUB_TOKEN: wrong,
      GITHUB_REPOS: REPO,
      GITHUB_API_URL: f2.url,
      GITHUB_SYNC_INTERVAL_S: "0",
    });
    try {
      const run = await syncNow(t2);
      expect(run.status).toBe("failed");
      expect(run.error).toBe(`${REPO}: GitHub rejected GITHUB_TOKEN (401: Bad credentials)`);
      const all = JSON.stringify([run, await traceOf(t2, {})]);
      expect(all).not.toContain(wrong);
      expect(f2.requests[0]!.status).toBe(401);
    } finally {
      await t2.close();
      await f2.close();
    }
  });

  test("GitHub unreachable: the run fails, saying so", async () => {
    const f2 = await startFakeGithub();
    f2.repo(REPO);
    const t2 = await githubContext(f2, { GITHUB_REPOS: REPO });
    await f2.down();
    try {
      const r = await t2.json("POST", "/api/github/sync");
      // Retries with backoff (1 s, 4 s, 9 s) come first.
      const run = await waitFor(
        async () => {
          const x = await getRun(t2, r.body.data.id);
          return x.status === "failed" ? x : null;
        },
        30_000,
        "failed run",
      );
      expect(run.error).toMatch(/^octo\/hello: GitHub could not be reached \(.+\)$/);
    } finally {
      await t2.close();
      await f2.close();
    }
  }, 40_000);
});

describe("not configured", () => {
  test("POST /api/github/sync → 422 with a clear message; nothing queued", async () => {
    const t2 = await createTestContext();
    try {
      const r = await t2.json("POST", "/api/github/sync");
      expect(r.status).toBe(422);
      expect(r.body).toEqual({
        errors: { github: ["sync is not configured: set GITHUB_REPOS (owner/name, comma-separated) and GITHUB_TOKEN"] },
      });
      const rows = await t2.database.query<{ n: number }>("SELECT count(*)::int AS n FROM github_sync_runs");
      expect(rows[0]!.n).toBe(0);
    } finally {
      await t2.close();
    }
  });
});

describe("auth", () => {
  test("no token → 401; agent token → 403; members may sync and read", async () => {
    const agent = await t.agentToken("gh-agent");
    const run = (await t.json("GET", "/api/github/issues")).body.data;
    expect(run).toBeDefined();
    for (const [method, url] of [
      ["POST", "/api/github/sync"],
      ["GET", "/api/github/sync/1"],
    ] as const) {
      const none = await t.json(method, url, { token: null });
      expect(none.status).toBe(401);
      expect(none.body).toEqual({ errors: { detail: "Unauthorized" } });
      expect(none.headers["www-authenticate"]).toBe("Bearer");
      const ag = await t.json(method, url, { token: agent });
      expect(ag.status).toBe(403);
      expect(ag.body).toEqual({ errors: { detail: "Forbidden" } });
    }
    const m = await t.json("GET", "/api/github/sync/1", { token: t.member });
    expect(m.status).toBe(200);
  });
});

describe("scheduled runs", () => {
  test("GITHUB_SYNC_INTERVAL_S queues runs by itself; 0 turns that off", async () => {
    const f2 = await startFakeGithub();
    f2.addIssue(REPO, { title: "scheduled" });
    const t2 = await githubContext(f2, { GITHUB_REPOS: REPO, GITHUB_SYNC_INTERVAL_S: "1" });
    try {
      const runs = await waitFor(
        async () => {
          const rows = await t2.database.query<{ id: number; status: string; trigger: string; requested_by: string }>(
            "SELECT id, status, trigger, requested_by FROM github_sync_runs ORDER BY id",
          );
          return rows.filter((x) => x.status === "succeeded").length >= 2 ? rows : null;
        },
        20_000,
        "two scheduled runs",
      );
      expect(runs.every((x) => x.trigger === "schedule" && x.requested_by === "system:github-scheduler")).toBe(true);
      expect((await t2.json("GET", "/api/github/issues")).body.data.map((i: any) => i.title)).toEqual(["scheduled"]);
    } finally {
      await t2.close();
      await f2.close();
    }
    // This file's own app runs with 0: every run in it was asked for.
    const rows = await t.database.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM github_sync_runs WHERE trigger = 'schedule'",
    );
    expect(rows[0]!.n).toBe(0);
  });
});
