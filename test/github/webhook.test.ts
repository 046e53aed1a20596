import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, type TestContext } from "../harness.js";
import { startFakeGithub, type FakeGithub } from "../fixtures/fake-github/server.js";
import { createMission, deliver, githubContext, REPO, SECRET, sign, traceOf } from "./helpers.js";

let fake: FakeGithub;
let t: TestContext;

beforeAll(async () => {
  fake = await startFakeGithub();
  fake.repo(REPO);
  t = await githubContext(fake);
});
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

const repository = { full_name: "octo/hello", name: "hello", owner: { login: "octo" } };

function issue(number: number, fields: Record<string, unknown> = {}) {
  return {
    id: 5000 + number,
    number,
    title: `Webhook issue ${number}`,
    body: "from a webhook",
    state: "open",
    labels: [{ name: "bug" }],
    assignees: [{ login: "dana" }],
    html_url: `https://github.com/octo/hello/issues/${number}`,
    updated_at: "2026-03-01T10:00:00Z",
    ...fields,
  };
}

async function stored(number: number) {
  const r = await t.json("GET", `/api/github/issues/octo%2Fhello%23${number}`);
  return r.status === 200 ? r.body.data : null;
}

describe("signature", () => {
  test("a valid signature: applied at once, 200", async () => {
    const r = await deliver(
      t,
      "issues",
      { action: "opened", issue: issue(101), repository, sender: { login: "dana" } },
      { delivery: "d-101" },
    );
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      data: { delivery: "d-101", event: "issues", action: "opened", result: "applied", detail: "created" },
    });
    expect(await stored(101)).toMatchObject({
      title: "Webhook issue 101",
      state: "open",
      labels: ["bug"],
      assignees: ["dana"],
      github_updated_at: "2026-03-01T10:00:00.000Z",
    });
    const entries = await traceOf(t, { event: "github.issue_received" });
    expect(entries.at(-1)).toMatchObject({
      actor: "github:dana",
      mission_id: null,
      data: { delivery: "d-101", action: "opened", issue: `${REPO}#101`, change: "created" },
    });
  });

  const payload = JSON.stringify({ action: "opened", issue: issue(102), repository });
  const badSignatures: Array<[string, string | null]> = [
    ["missing", null],
    ["empty", ""],
    ["wrong secret", sign(payload, "not-the-secret")],
    ["sha1 form", `sha1=${createHmac("sha1", SECRET).update(payload).digest("hex")}`],
    ["no prefix", createHmac("sha256", SECRET).update(payload).digest("hex")],
    ["truncated", sign(payload).slice(0, -2)],
    ["not hex", `sha256=${"z".repeat(64)}`],
    ["signature of another body", sign(payload.replace("102", "103"))],
  ];
  test.each(badSignatures)("%s signature → 401, nothing applied", async (_name, signature) => {
    const r = await deliver(t, "issues", payload, { signature });
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ errors: { detail: "Unauthorized" } });
    expect(await stored(102)).toBeNull();
  });

  test("the HMAC is over the exact bytes: whitespace and key order as sent are what is signed", async () => {
    const text = `{ "repository": ${JSON.stringify(repository)},\n  "issue": ${JSON.stringify(issue(104))}, "action": "opened" }\n`;
    const ok = await deliver(t, "issues", text);
    expect(ok.status).toBe(200);
    // The same JSON re-serialized is not what was signed.
    const reserialized = JSON.stringify(JSON.parse(text));
    const bad = await deliver(t, "issues", reserialized, { signature: sign(text) });
    expect(bad.status).toBe(401);
  });

  test("a valid signature with a bearer token of nobody: still only the signature counts", async () => {
    const text = JSON.stringify({ action: "opened", issue: issue(105), repository });
    const r = await t.json("POST", "/api/github/webhook", {
      token: "mc_not_a_token",
      payload: text,
      headers: { "x-github-event": "issues", "x-github-delivery": "d-105", "x-hub-signature-256": sign(text) },
    });
    expect(r.status).toBe(200);
  });

  test("without GITHUB_WEBHOOK_SECRET nothing verifies → 401", async () => {
    const t2 = await createTestContext({
      GITHUB_TOKEN: fake.token,
      GITHUB_REPOS: REPO,
      GITHUB_API_URL: fake.url,
      GITHUB_SYNC_INTERVAL_S: "0",
    });
    try {
      const r = await deliver(t2, "ping", { zen: "Keep it logically awesome." });
      expect(r.status).toBe(401);
      expect(r.body).toEqual({ errors: { detail: "Unauthorized" } });
    } finally {
      await t2.close();
    }
  });
});

describe("deliveries", () => {
  test("ping → 200 pong", async () => {
    const r = await deliver(t, "ping", { zen: "Design for failure.", hook_id: 1 }, { delivery: "ping-1" });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ data: { delivery: "ping-1", event: "ping", action: null, result: "pong", detail: null } });
  });

  test("a replayed delivery (same X-GitHub-Delivery) → 200 duplicate, applied once", async () => {
    const body = {
      action: "edited",
      issue: issue(101, { title: "first edit", updated_at: "2026-03-01T11:00:00Z" }),
      repository,
    };
    const a = await deliver(t, "issues", body, { delivery: "d-replay" });
    expect(a.body.data).toMatchObject({ result: "applied", detail: "updated" });
    const entries = (await traceOf(t, { event: "github.issue_received" })).length;
    // Replayed, even with a payload that would otherwise change the issue: the delivery id decides.
    const again = { ...body, issue: { ...body.issue, title: "second edit", updated_at: "2026-03-01T12:00:00Z" } };
    const b = await deliver(t, "issues", again, { delivery: "d-replay" });
    expect(b.status).toBe(200);
    expect(b.body.data).toEqual({
      delivery: "d-replay",
      event: "issues",
      action: "edited",
      result: "duplicate",
      detail: null,
    });
    expect((await stored(101)).title).toBe("first edit");
    expect((await traceOf(t, { event: "github.issue_received" })).length).toBe(entries);
  });

  test("concurrent copies of one delivery: one applied, the rest duplicate", async () => {
    const body = { action: "opened", issue: issue(110), repository };
    const rs = await Promise.all([1, 2, 3, 4].map(() => deliver(t, "issues", body, { delivery: "d-concurrent" })));
    expect(rs.map((r) => r.body.data.result).sort()).toEqual(["applied", "duplicate", "duplicate", "duplicate"]);
  });

  test("an older copy than the stored one is not applied (a late webhook never undoes newer data)", async () => {
    const r = await deliver(t, "issues", {
      action: "edited",
      issue: issue(101, { title: "stale", updated_at: "2026-02-01T00:00:00Z" }),
      repository,
    });
    expect(r.body.data).toMatchObject({ result: "applied", detail: "unchanged (the stored copy is as new)" });
    expect((await stored(101)).title).toBe("first edit");
  });

  test("labels, assignees and state changes", async () => {
    await deliver(t, "issues", {
      action: "closed",
      issue: issue(101, {
        title: "first edit",
        state: "closed",
        labels: [{ name: "wontfix" }],
        assignees: [],
        updated_at: "2026-03-02T00:00:00Z",
      }),
      repository,
    });
    expect(await stored(101)).toMatchObject({ state: "closed", labels: ["wontfix"], assignees: [] });
  });

  test("deleted: the issue is removed; a linked one is noted on its task", async () => {
    await deliver(t, "issues", { action: "opened", issue: issue(120), repository });
    const mission = await createMission(t);
    const task = (
      await t.json("POST", "/api/github/issues/octo%2Fhello%23120/task", { body: { mission_id: mission.mission_id } })
    ).body.data;
    const r = await deliver(t, "issues", {
      action: "deleted",
      issue: issue(120),
      repository,
      sender: { login: "erin" },
    });
    expect(r.body.data).toMatchObject({ result: "applied", detail: "deleted" });
    expect(await stored(120)).toBeNull();
    expect((await traceOf(t, { task_id: task.task_id })).at(-1)).toMatchObject({
      event: "github.issue_deleted",
      actor: "github:erin",
      data: { issue: `${REPO}#120`, action: "deleted" },
    });
  });

  test.each([
    ["another event", "push", { ref: "refs/heads/main", repository }, "push events are not used"],
    [
      "another repository",
      "issues",
      { action: "opened", issue: issue(130), repository: { full_name: "someone/else" } },
      "someone/else is not in GITHUB_REPOS",
    ],
    [
      "an issues event about a pull request",
      "issues",
      { action: "opened", issue: issue(131, { pull_request: { url: "x" } }), repository },
      "pull requests are not stored as issues",
    ],
    [
      "a pull request no task names",
      "pull_request",
      { action: "closed", number: 77, pull_request: { number: 77, state: "closed", merged: true }, repository },
      "no task names this pull request",
    ],
    [
      "an untracked pull request action",
      "pull_request",
      { action: "labeled", number: 77, pull_request: { number: 77 }, repository },
      "pull_request labeled is not tracked",
    ],
  ] as Array<[string, string, unknown, string]>)("%s → 200 ignored", async (_name, event, body, detail) => {
    const r = await deliver(t, event, body);
    expect(r.status).toBe(200);
    expect(r.body.data).toMatchObject({ event, result: "ignored", detail });
    expect(await stored(130)).toBeNull();
    expect(await stored(131)).toBeNull();
  });

  test("pull_request events are noted on the tasks whose pr_url names the pull request", async () => {
    const mission = await createMission(t);
    const mk = async (pr_url: string) => {
      const r = await t.json("POST", `/api/missions/${mission.mission_id}/tasks`, {
        body: { objective: "o", outputs: { pr_url } },
      });
      expect(r.status).toBe(201);
      return r.body.data.task_id as string;
    };
    const a = await mk("https://github.com/Octo/Hello/pull/42");
    const b = await mk("https://ghe.example.com/octo/hello/pull/42/files");
    const other = await mk("https://github.com/octo/hello/pull/420");
    const r = await deliver(t, "pull_request", {
      action: "synchronize",
      number: 42,
      pull_request: {
        number: 42,
        state: "open",
        merged: false,
        head: { sha: "abc123" },
        html_url: "https://github.com/octo/hello/pull/42",
      },
      repository,
      sender: { login: "frank" },
    });
    expect(r.body.data).toMatchObject({ result: "applied", detail: "noted on 2 tasks" });
    for (const task of [a, b]) {
      expect((await traceOf(t, { task_id: task })).at(-1)).toMatchObject({
        event: "github.pull_request",
        actor: "github:frank",
        data: { action: "synchronize", pull_request: `${REPO}#42`, state: "open", merged: false, head_sha: "abc123" },
      });
    }
    expect((await traceOf(t, { task_id: other })).map((e) => e.event)).toEqual(["task.created"]);
  });
});

describe("bad requests (after a valid signature)", () => {
  test("missing X-GitHub-Event / X-GitHub-Delivery → 422", async () => {
    const text = JSON.stringify({ zen: "x" });
    const noEvent = await t.json("POST", "/api/github/webhook", {
      token: null,
      payload: text,
      headers: { "x-github-delivery": "d", "x-hub-signature-256": sign(text) },
    });
    expect(noEvent.status).toBe(422);
    expect(noEvent.body).toEqual({ errors: { "x-github-event": ["is required"] } });
    const noDelivery = await t.json("POST", "/api/github/webhook", {
      token: null,
      payload: text,
      headers: { "x-github-event": "ping", "x-hub-signature-256": sign(text) },
    });
    expect(noDelivery.status).toBe(422);
    expect(noDelivery.body).toEqual({ errors: { "x-github-delivery": ["is required"] } });
  });

  test("malformed JSON → 400; nested too deep → 400; not an object → 422", async () => {
    const bad = await deliver(t, "ping", "{not json");
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ errors: { detail: "Malformed JSON in request body" } });
    let deep: unknown = 1;
    for (let i = 0; i < 70; i++) deep = { a: deep };
    const d = await deliver(t, "ping", { deep });
    expect(d.status).toBe(400);
    expect(d.body).toEqual({ errors: { detail: "JSON nested deeper than 64 levels" } });
    const arr = await deliver(t, "ping", [1, 2]);
    expect(arr.status).toBe(422);
    expect(arr.body).toEqual({ errors: { body: ["must be object"] } });
  });

  test("an issues event without a usable issue → 422", async () => {
    const r = await deliver(t, "issues", { action: "opened", issue: { number: "x" }, repository });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors: { issue: ["is missing or lacks number, title, state, html_url or updated_at"] } });
    const noRepo = await deliver(t, "issues", { action: "opened", issue: issue(140) });
    expect(noRepo.status).toBe(422);
    expect(noRepo.body).toEqual({ errors: { "repository.full_name": ["is required"] } });
  });

  test("wrong content type → 415; body over GitHub's 25 MB → 413", async () => {
    const form = "payload=%7B%7D";
    const r = await deliver(t, "ping", form, { contentType: "application/x-www-form-urlencoded" });
    expect(r.status).toBe(415);
    expect(r.body).toEqual({ errors: { detail: "Content-Type must be application/json" } });
    const big = JSON.stringify({ zen: "x".repeat(25 * 1024 * 1024 + 10) });
    const b = await deliver(t, "ping", big, { signature: "sha256=0" });
    expect(b.status).toBe(413);
    expect(b.body).toEqual({ errors: { detail: "Request body is larger than the server accepts" } });
  });

  test("a payload bigger than the app's 1 MiB limit is accepted from GitHub", async () => {
    const r = await deliver(t, "issues", {
      action: "opened",
      issue: issue(150, { body: "y".repeat(2 * 1024 * 1024) }),
      repository,
    });
    expect(r.status).toBe(200);
    expect((await stored(150)).body).toHaveLength(2 * 1024 * 1024);
  });

  test("the route is in the OpenAPI description without bearer security", async () => {
    const doc = (await t.json("GET", "/openapi.json", { token: null })).body;
    const op = doc.paths["/api/github/webhook"].post;
    expect(op.security).toEqual([]);
    expect(doc.paths["/api/github/issues/{id}"].get).toBeDefined();
    expect(doc.paths["/api/github/sync"].post.responses["202"]).toBeDefined();
  });
});
