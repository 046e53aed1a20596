import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, waitFor, type TestContext } from "../harness.js";
import { startFakeGithub, type FakeGithub } from "../fixtures/fake-github/server.js";
import { createMission, githubContext, OTHER, REPO, syncNow, traceOf } from "./helpers.js";

let fake: FakeGithub;
let t: TestContext;
let missionKey: string;

beforeAll(async () => {
  fake = await startFakeGithub();
  fake.repo(REPO);
  t = await githubContext(fake);
  missionKey = (await createMission(t)).mission_id;
});
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

const prUrl = (n: number, repo = REPO, host = `${fake.url}`) => `${host}/${repo}/pull/${n}`;

/** A task in pending_review with these outputs. */
async function reviewTask(ctx: TestContext, outputs: Record<string, unknown>, mission = missionKey) {
  const c = await ctx.json("POST", `/api/missions/${mission}/tasks`, { body: { objective: "ship it" } });
  expect(c.status).toBe(201);
  const id = c.body.data.task_id as string;
  for (const status of ["in_progress", "pending_review"]) {
    const r = await ctx.json("POST", `/api/tasks/${id}/report`, {
      body: { status, ...(status === "pending_review" ? { outputs } : {}) },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
  }
  return id;
}

const merges = (n: number) => fake.repo(REPO).merges.filter((m) => m.number === n);
const statusOf = async (ctx: TestContext, id: string) => (await ctx.json("GET", `/api/tasks/${id}`)).body.data.status;
const events = async (ctx: TestContext, id: string) => (await traceOf(ctx, { task_id: id })).map((e) => e.event);

describe("approve merges the pull request", () => {
  test("merged with merge_method and sha = outputs.head_sha, then completed; attempt and result traced", async () => {
    const pr = fake.addPull(REPO);
    const id = await reviewTask(t, { pr_url: prUrl(pr.number), head_sha: pr.head_sha });
    const r = await t.json("POST", `/api/tasks/${id}/approve`, { body: { comment: "LGTM" } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.data.status).toBe("completed");
    expect(merges(pr.number).map((m) => m.body)).toEqual([{ merge_method: "squash", sha: pr.head_sha }]);
    expect(pr.merged).toBe(true);
    const trace = await traceOf(t, { task_id: id });
    expect(trace.slice(-3).map((e) => [e.event, e.actor])).toEqual([
      ["github.merge_attempted", "admin:test-admin"],
      ["github.pr_merged", "admin:test-admin"],
      ["task.status_changed", "admin:test-admin"],
    ]);
    expect(trace.at(-2)!.data).toEqual({
      pr_url: prUrl(pr.number),
      pull_request: `${REPO}#${pr.number}`,
      merge_method: "squash",
      sha: pr.head_sha,
      merge_commit_sha: pr.merge_commit_sha,
      already_merged: false,
    });
    expect(trace.at(-1)!.data).toEqual({ from: "pending_review", to: "completed", comment: "LGTM", via: "approve" });
  });

  test("without head_sha no sha is sent; any host works when owner/name is configured", async () => {
    const pr = fake.addPull(REPO);
    const id = await reviewTask(t, { pr_url: prUrl(pr.number, "Octo/Hello", "https://github.example.com") });
    const r = await t.json("POST", `/api/tasks/${id}/approve`, { body: {} });
    expect(r.status).toBe(200);
    expect(merges(pr.number).map((m) => m.body)).toEqual([{ merge_method: "squash" }]);
  });

  test("an already merged pull request counts as merged", async () => {
    const pr = fake.addPull(REPO, { merged: true, state: "closed", merge_commit_sha: "f".repeat(40) });
    const id = await reviewTask(t, { pr_url: prUrl(pr.number), head_sha: pr.head_sha });
    const r = await t.json("POST", `/api/tasks/${id}/approve`, { body: {} });
    expect(r.status).toBe(200);
    expect(r.body.data.status).toBe("completed");
    const trace = await traceOf(t, { task_id: id });
    expect(trace.at(-2)).toMatchObject({
      event: "github.pr_merged",
      data: { already_merged: true, merge_commit_sha: "f".repeat(40) },
    });
  });

  test.each([
    ["not mergeable (405)", { mergeable: false }, false, 405, "Pull Request is not mergeable"],
    ["head moved (409)", {}, true, 409, "Head branch was modified. Review and try the merge again."],
  ] as const)(
    "%s → 422 with GitHub's reason; the task stays in pending_review; the failure is traced",
    async (_n, fields, staleSha, status, reason) => {
      const pr = fake.addPull(REPO, fields);
      const id = await reviewTask(t, { pr_url: prUrl(pr.number), head_sha: staleSha ? "0".repeat(40) : pr.head_sha });
      const r = await t.json("POST", `/api/tasks/${id}/approve`, { body: { comment: "LGTM" } });
      expect(r.status).toBe(422);
      expect(r.body).toEqual({
        errors: { merge: [`GitHub refused to merge ${REPO}#${pr.number} (${status}): ${reason}`] },
      });
      expect(await statusOf(t, id)).toBe("pending_review");
      expect(pr.merged).toBe(false);
      // Tried once (a refusal is an answer, not a glitch), and checked whether it was merged after all.
      expect(merges(pr.number)).toHaveLength(1);
      expect(
        fake.requests.filter((q) => q.method === "GET" && q.path === `/repos/${REPO}/pulls/${pr.number}`),
      ).toHaveLength(1);
      const trace = await traceOf(t, { task_id: id });
      expect(trace.slice(-2).map((e) => e.event)).toEqual(["github.merge_attempted", "github.merge_failed"]);
      expect(trace.at(-1)!.data).toMatchObject({
        kind: "refused",
        status,
        reason,
        pull_request: `${REPO}#${pr.number}`,
      });
      expect(trace.some((e) => e.event === "task.status_changed" && e.data.to === "completed")).toBe(false);
    },
  );

  test("a pull request GitHub does not know → 422", async () => {
    const id = await reviewTask(t, { pr_url: prUrl(9999) });
    const r = await t.json("POST", `/api/tasks/${id}/approve`, { body: {} });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors: { merge: [`GitHub refused to merge ${REPO}#9999 (404): Not Found`] } });
    expect(await statusOf(t, id)).toBe("pending_review");
  });

  test("GitHub down → 502, the task stays in pending_review; once GitHub is back the approve merges", async () => {
    const pr = fake.addPull(REPO);
    const id = await reviewTask(t, { pr_url: prUrl(pr.number), head_sha: pr.head_sha });
    await fake.down();
    let r;
    try {
      r = await t.json("POST", `/api/tasks/${id}/approve`, { body: {} });
    } finally {
      await fake.restart();
    }
    expect(r.status).toBe(502);
    expect(r.body).toEqual({
      errors: {
        detail: `GitHub could not be reached; ${REPO}#${pr.number} was not merged and the task stays in pending_review`,
      },
    });
    expect(await statusOf(t, id)).toBe("pending_review");
    const trace = await traceOf(t, { task_id: id });
    expect(trace.at(-1)).toMatchObject({ event: "github.merge_failed", data: { kind: "unreachable", status: null } });

    const again = await t.json("POST", `/api/tasks/${id}/approve`, { body: {} });
    expect(again.status).toBe(200);
    expect(again.body.data.status).toBe("completed");
    expect(pr.merged).toBe(true);
  });

  test("GitHub failing (5xx after the retry) → 502 with its status", async () => {
    const pr = fake.addPull(REPO);
    const id = await reviewTask(t, { pr_url: prUrl(pr.number) });
    fake.script({ method: "PUT", path: /\/merge$/, status: 503, body: { message: "Service Unavailable" }, times: 2 });
    const r = await t.json("POST", `/api/tasks/${id}/approve`, { body: {} });
    expect(r.status).toBe(502);
    expect(r.body).toEqual({
      errors: {
        detail: `GitHub answered 503: Service Unavailable; ${REPO}#${pr.number} was not merged and the task stays in pending_review`,
      },
    });
    expect(await statusOf(t, id)).toBe("pending_review");
  });

  test("rate limited beyond a short wait → 502 with Retry-After; nothing merged", async () => {
    const pr = fake.addPull(REPO);
    const id = await reviewTask(t, { pr_url: prUrl(pr.number) });
    fake.script({
      method: "PUT",
      path: /\/merge$/,
      status: 403,
      headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) + 1800) },
      body: { message: "API rate limit exceeded for user ID 1." },
    });
    const r = await t.json("POST", `/api/tasks/${id}/approve`, { body: {} });
    expect(r.status).toBe(502);
    expect(r.body).toEqual({
      errors: { detail: `GitHub rate limit exceeded; ${REPO}#${pr.number} was not merged, retry the approve later` },
    });
    const retryAfter = Number(r.headers["retry-after"]);
    expect(retryAfter).toBeGreaterThan(1700);
    expect(retryAfter).toBeLessThanOrEqual(1802);
    expect(pr.merged).toBe(false);
    expect(await statusOf(t, id)).toBe("pending_review");
  });

  test("concurrent approves of one task: merged once, completed once", async () => {
    const pr = fake.addPull(REPO);
    const id = await reviewTask(t, { pr_url: prUrl(pr.number), head_sha: pr.head_sha });
    const rs = await Promise.all([1, 2, 3].map(() => t.json("POST", `/api/tasks/${id}/approve`, { body: {} })));
    expect(rs.map((r) => r.status).sort()).toEqual([200, 422, 422]);
    expect(merges(pr.number)).toHaveLength(1);
    expect((await events(t, id)).filter((e) => e === "github.pr_merged")).toHaveLength(1);
  });

  test.each([
    ["a repository not in GITHUB_REPOS", () => prUrl(1, "someone/else")],
    ["an issue URL", () => `${fake.url}/${REPO}/issues/1`],
    ["not a URL", () => "see the PR"],
    ["not a string", () => 42],
  ])("pr_url of %s: nothing to merge, the approve completes the task", async (_n, url) => {
    const before = fake.requests.length;
    const id = await reviewTask(t, { pr_url: url() });
    const r = await t.json("POST", `/api/tasks/${id}/approve`, { body: {} });
    expect(r.status).toBe(200);
    expect(r.body.data.status).toBe("completed");
    expect(fake.requests.length).toBe(before);
    expect((await events(t, id)).some((e) => e.startsWith("github."))).toBe(false);
  });

  test("reject never merges", async () => {
    const pr = fake.addPull(REPO);
    const id = await reviewTask(t, { pr_url: prUrl(pr.number) });
    const r = await t.json("POST", `/api/tasks/${id}/reject`, { body: { comment: "no" } });
    expect(r.status).toBe(200);
    expect(merges(pr.number)).toHaveLength(0);
  });

  test("a token GitHub rejects → 502 that does not contain the token", async () => {
    const wrong = "ghp_rejected_token_never_shown_7";
    const t2 = await createTestContext({
      GITHUB_TOKEN: wrong,
      GITHUB_REPOS: REPO,
      GITHUB_API_URL: fake.url,
      GITHUB_SYNC_INTERVAL_S: "0",
    });
    try {
      const pr = fake.addPull(REPO);
      const id = await reviewTask(t2, { pr_url: prUrl(pr.number) }, (await createMission(t2)).mission_id);
      const r = await t2.json("POST", `/api/tasks/${id}/approve`, { body: {} });
      expect(r.status).toBe(502);
      expect(r.body).toEqual({
        errors: {
          detail: `GitHub rejected GITHUB_TOKEN (401: Bad credentials); ${REPO}#${pr.number} was not merged and the task stays in pending_review`,
        },
      });
      expect(JSON.stringify([r.body, await traceOf(t2, {})])).not.toContain(wrong);
      expect(pr.merged).toBe(false);
    } finally {
      await t2.close();
    }
  });
});

describe("completion comments and merge method (GITHUB_COMMENT_ON_COMPLETE, GITHUB_MERGE_METHOD)", () => {
  let t2: TestContext;
  let mission: string;
  beforeAll(async () => {
    fake.addIssue(OTHER, { title: "Add search" }); // OTHER#1
    fake.addIssue(OTHER, { title: "Add filters" }); // OTHER#2
    fake.addIssue(OTHER, { title: "Never done" }); // OTHER#3
    t2 = await githubContext(fake, { GITHUB_COMMENT_ON_COMPLETE: "true", GITHUB_MERGE_METHOD: "rebase" });
    expect((await syncNow(t2)).status).toBe("succeeded");
    mission = (await createMission(t2)).mission_id;
  });
  afterAll(async () => {
    await t2?.close();
  });

  const linkTask = async (n: number) => {
    const r = await t2.json("POST", `/api/github/issues/octo%2Fworld%23${n}/task`, { body: { mission_id: mission } });
    expect(r.status).toBe(201);
    return r.body.data.task_id as string;
  };
  const commentsOn = (n: number) => fake.repo(OTHER).comments.filter((c) => c.number === n);

  test("a linked task completed by approve comments on its issue once; the merge used GITHUB_MERGE_METHOD", async () => {
    const id = await linkTask(1);
    const pr = fake.addPull(REPO);
    for (const status of ["in_progress", "pending_review"]) {
      await t2.json("POST", `/api/tasks/${id}/report`, { body: { status, outputs: { pr_url: prUrl(pr.number) } } });
    }
    const r = await t2.json("POST", `/api/tasks/${id}/approve`, { body: {} });
    expect(r.status).toBe(200);
    expect(merges(pr.number).map((m) => m.body)).toEqual([{ merge_method: "rebase" }]);
    await waitFor(() => commentsOn(1).length === 1, 15_000, "comment");
    expect(commentsOn(1)[0]!.body).toBe(
      `Mission Control task \`${id}\` (mission \`${mission}\`) was completed.\n\nPull request: ${prUrl(pr.number)}`,
    );
    const entry = await waitFor(
      async () => (await traceOf(t2, { task_id: id })).find((e) => e.event === "github.issue_commented"),
      5000,
      "entry",
    );
    expect(entry).toMatchObject({ actor: "system:github", data: { issue: `${OTHER}#1` } });
    expect(entry.data.comment_url).toMatch(/#issuecomment-\d+$/);
    // Nothing more later: the comment is marked posted.
    await new Promise((res) => setTimeout(res, 500));
    expect(commentsOn(1)).toHaveLength(1);
  });

  test("a linked task completed by its agent's report comments too; an unfinished one does not", async () => {
    const id = await linkTask(2);
    const open = await linkTask(3);
    await t2.json("POST", `/api/tasks/${id}/report`, { body: { status: "in_progress" } });
    await t2.json("POST", `/api/tasks/${open}/report`, { body: { status: "in_progress" } });
    const r = await t2.json("POST", `/api/tasks/${id}/report`, { body: { status: "completed" } });
    expect(r.status).toBe(200);
    await waitFor(() => commentsOn(2).length === 1, 15_000, "comment");
    expect(commentsOn(2)[0]!.body).toBe(`Mission Control task \`${id}\` (mission \`${mission}\`) was completed.`);
    expect(commentsOn(3)).toHaveLength(0);
  });

  test("without GITHUB_COMMENT_ON_COMPLETE nothing is commented", async () => {
    fake.addIssue(REPO, { title: "no comment please" });
    await syncNow(t);
    const number = [...fake.repo(REPO).items.values()].find((i) => i.title === "no comment please")!.number;
    const r = await t.json("POST", `/api/github/issues/octo%2Fhello%23${number}/task`, {
      body: { mission_id: missionKey },
    });
    const id = r.body.data.task_id;
    await t.json("POST", `/api/tasks/${id}/report`, { body: { status: "in_progress" } });
    await t.json("POST", `/api/tasks/${id}/report`, { body: { status: "completed" } });
    await new Promise((res) => setTimeout(res, 1000));
    expect(fake.repo(REPO).comments.filter((c) => c.number === number)).toHaveLength(0);
  });
});
