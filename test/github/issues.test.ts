import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { TestContext } from "../harness.js";
import { startFakeGithub, type FakeGithub } from "../fixtures/fake-github/server.js";
import { createMission, deliver, githubContext, OTHER, REPO, syncNow, traceOf } from "./helpers.js";

let fake: FakeGithub;
let t: TestContext;
let mission: { id: number; mission_id: string };

beforeAll(async () => {
  fake = await startFakeGithub();
  fake.addIssue(REPO, {
    title: "Login fails",
    body: "On Safari only.",
    labels: ["bug", "Needs-Triage"],
    assignees: ["alice", "bob"],
  }); // #1
  fake.addIssue(REPO, { title: "Dark mode", body: null, labels: ["feature"], state: "closed" }); // #2
  fake.addIssue(REPO, { title: "Export CSV", body: "   " }); // #3
  fake.addIssue(OTHER, { title: "Other", labels: ["bug"] }); // #1
  fake.addIssue(REPO, { title: "Long one", body: "x".repeat(20_000) }); // #4
  t = await githubContext(fake);
  expect((await syncNow(t)).status).toBe("succeeded");
  mission = await createMission(t);
});
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

async function list(query: Record<string, string> = {}) {
  const r = await t.json("GET", "/api/github/issues", { query });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
}
const keys = (body: { data: Array<{ repo: string; number: number }> }) => body.data.map((i) => `${i.repo}#${i.number}`);

describe("list", () => {
  test("all issues, oldest first, in the contract's shape", async () => {
    const b = await list();
    expect(keys(b)).toEqual([`${REPO}#1`, `${REPO}#2`, `${REPO}#3`, `${REPO}#4`, `${OTHER}#1`]);
    expect(b.meta).toEqual({ next_cursor: null });
    expect(Object.keys(b.data[0]).sort()).toEqual(
      [
        "id",
        "repo",
        "number",
        "title",
        "state",
        "labels",
        "assignees",
        "html_url",
        "body",
        "github_updated_at",
        "task_id",
        "inserted_at",
        "updated_at",
      ].sort(),
    );
  });

  test.each([
    [{ repo: REPO }, [`${REPO}#1`, `${REPO}#2`, `${REPO}#3`, `${REPO}#4`]],
    [{ repo: "OCTO/World" }, [`${OTHER}#1`]],
    [{ repo: "octo/nothing" }, []],
    [{ state: "closed" }, [`${REPO}#2`]],
    [{ state: "open", repo: REPO }, [`${REPO}#1`, `${REPO}#3`, `${REPO}#4`]],
    [{ label: "bug" }, [`${REPO}#1`, `${OTHER}#1`]],
    [{ label: "needs-triage" }, [`${REPO}#1`]],
    [{ label: "bug", repo: OTHER }, [`${OTHER}#1`]],
    [{ label: "nope" }, []],
    [{ linked: "false", state: "closed" }, [`${REPO}#2`]],
  ] as Array<[Record<string, string>, string[]]>)("filter %j", async (query, expected) => {
    expect(keys(await list(query))).toEqual(expected);
  });

  test("pagination walks every issue once", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const b = await list({ limit: "2", ...(cursor ? { cursor } : {}) });
      expect(b.data.length).toBeLessThanOrEqual(2);
      seen.push(...keys(b));
      cursor = b.meta.next_cursor;
    } while (cursor);
    expect(seen).toEqual(keys(await list()));
  });

  test.each([
    [{ state: "merged" }, { state: ["must be one of: open, closed"] }],
    [{ repo: "not a repo" }, { repo: ["has an invalid format"] }],
    [{ repo: "octo/hello/x" }, { repo: ["has an invalid format"] }],
    [{ linked: "maybe" }, { linked: ["must be boolean"] }],
    [{ label: "" }, { label: ["must NOT have fewer than 1 characters"] }],
    [{ limit: "0" }, { limit: ["must be >= 1"] }],
    [{ cursor: "garbage" }, { cursor: ["is not a valid cursor"] }],
  ] as Array<[Record<string, string>, Record<string, string[]>]>)("bad query %j → 422", async (query, errors) => {
    const r = await t.json("GET", "/api/github/issues", { query });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
  });
});

describe("get", () => {
  test("by integer id, by owner/name#number (slash encoded or not) — the same issue", async () => {
    const first = (await list()).data[0];
    const byId = await t.json("GET", `/api/github/issues/${first.id}`);
    expect(byId.status).toBe(200);
    expect(byId.body.data).toMatchObject({
      repo: REPO,
      number: 1,
      title: "Login fails",
      body: "On Safari only.",
      state: "open",
      labels: ["bug", "Needs-Triage"],
      assignees: ["alice", "bob"],
      task_id: null,
    });
    for (const url of [
      "/api/github/issues/octo%2Fhello%231",
      "/api/github/issues/octo/hello%231",
      "/api/github/issues/OCTO%2FHello%231",
    ]) {
      const r = await t.json("GET", url);
      expect(r.status, url).toBe(200);
      expect(r.body).toEqual(byId.body);
    }
  });

  test.each([
    "999999",
    "0",
    "octo%2Fhello%2399",
    "octo%2Fhello",
    "octo%2Fhello%23",
    "octo%2Fhello%23abc",
    "octo%2Fnowhere%231",
    "hello%231",
    "99999999999999999999",
  ])("unknown %s → 404", async (id) => {
    const r = await t.json("GET", `/api/github/issues/${id}`);
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ errors: { detail: "Not Found" } });
  });
  test("unknown owner/name%23n with a literal slash → 404", async () => {
    const r = await t.json("GET", "/api/github/issues/octo/nowhere%231");
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ errors: { detail: "Not Found" } });
  });
});

describe("create a task from an issue", () => {
  test("201: a pending task in the mission, objective from title and body, linked both ways, traced", async () => {
    const r = await t.json("POST", "/api/github/issues/octo%2Fhello%231/task", {
      body: { mission_id: mission.mission_id, priority: 2 },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const task = r.body.data;
    expect(r.headers.location).toBe(`/api/tasks/${task.task_id}`);
    expect(task).toMatchObject({
      mission_id: mission.mission_id,
      objective: "Login fails\n\nOn Safari only.",
      status: "pending",
      agent_id: null,
      priority: 2,
      outputs: { github_issue: `${REPO}#1`, github_issue_url: `${fake.url}/octo/hello/issues/1` },
      logs: [],
    });
    expect(task.task_id).toMatch(/^task-[a-z2-7]{10}$/);
    // The task reads back through the tasks API like any other.
    const read = await t.json("GET", `/api/tasks/${task.task_id}`);
    expect(read.status).toBe(200);
    expect(read.body.data.objective).toBe(task.objective);
    // The issue names its task.
    const issue = await t.json("GET", "/api/github/issues/octo%2Fhello%231");
    expect(issue.body.data.task_id).toBe(task.task_id);
    expect(keys(await list({ linked: "true" }))).toEqual([`${REPO}#1`]);
    // Two entries on the mission's chain, the first the same as a task create writes.
    const trace = await traceOf(t, { task_id: task.task_id });
    expect(trace.map((e) => e.event)).toEqual(["task.created", "github.issue_linked"]);
    expect(trace[0]!.data).toEqual({
      objective: task.objective,
      status: "pending",
      agent_id: null,
      sprint_id: null,
      priority: 2,
      requirement_ids: [],
      required_capabilities: [],
      outputs: task.outputs,
    });
    expect(trace[1]).toMatchObject({
      actor: "admin:test-admin",
      mission_id: mission.mission_id,
      data: { issue: `${REPO}#1`, html_url: `${fake.url}/octo/hello/issues/1`, issue_state: "open" },
    });
    // Replay folds the task like one made through the tasks API.
    const replay = await t.json("POST", `/api/missions/${mission.mission_id}/replay`, { body: {} });
    expect(replay.status).toBe(200);
    expect(replay.body.data).toMatchObject({ chain_valid: true, consistent: true });
    expect(replay.body.data.tasks).toContainEqual({ task_id: task.task_id, status: "pending", agent_id: null });
  });

  test("by integer id and mission integer id, with a chosen key; a blank body gives the title alone", async () => {
    const issue = (await list({ repo: REPO })).data.find((i: any) => i.number === 3);
    const r = await t.json("POST", `/api/github/issues/${issue.id}/task`, {
      body: { mission_id: mission.id, task_id: "csv-export" },
    });
    expect(r.status).toBe(201);
    expect(r.body.data).toMatchObject({ task_id: "csv-export", objective: "Export CSV", priority: null });
  });

  test("by owner/name%23n with a literal slash; a long body is cut to what a task holds", async () => {
    const r = await t.json("POST", "/api/github/issues/octo/hello%234/task", {
      body: { mission_id: mission.mission_id },
    });
    expect(r.status).toBe(201);
    expect(r.body.data.objective).toHaveLength(10_000);
    expect(r.body.data.objective.startsWith("Long one\n\nxxx")).toBe(true);
    expect(r.body.data.objective.endsWith("…")).toBe(true);
  });

  test("an issue already linked → 422 naming the task, and nothing created", async () => {
    const before = (await t.json("GET", "/api/tasks", { query: { limit: "500" } })).body.data.length;
    const r = await t.json("POST", "/api/github/issues/octo%2Fhello%234/task", {
      body: { mission_id: mission.mission_id },
    });
    expect(r.status).toBe(422);
    const linked = (await t.json("GET", "/api/github/issues/octo%2Fhello%234")).body.data.task_id;
    expect(r.body).toEqual({ errors: { issue: [`is already linked to task ${linked}`] } });
    expect((await t.json("GET", "/api/tasks", { query: { limit: "500" } })).body.data.length).toBe(before);
  });

  test("two concurrent links of one issue: exactly one task", async () => {
    const rs = await Promise.all(
      [1, 2, 3].map(() =>
        t.json("POST", `/api/github/issues/octo%2Fworld%231/task`, { body: { mission_id: mission.mission_id } }),
      ),
    );
    expect(rs.map((r) => r.status).sort()).toEqual([201, 422, 422]);
    // The losers waited for the winner's lock, and name the task it made (read after the lock, not before).
    const made = rs.find((r) => r.status === 201)!.body.data.task_id;
    for (const r of rs.filter((x) => x.status === 422)) {
      expect(r.body).toEqual({ errors: { issue: [`is already linked to task ${made}`] } });
    }
  });

  const bad: Array<[string, unknown, Record<string, string[]>]> = [
    ["missing mission", {}, { mission_id: ["is required"] }],
    ["unknown mission", { mission_id: "no-such-mission" }, { mission_id: ["does not exist"] }],
    ["unknown mission id", { mission_id: 999999 }, { mission_id: ["does not exist"] }],
    ["bad mission ref", { mission_id: "a b" }, { mission_id: ["has an invalid type or value"] }],
    ["unknown field", { mission_id: "x", objective: "y" }, { objective: ["is not a known field"] }],
    ["bad key", { mission_id: "x", task_id: "123" }, { task_id: ["has an invalid format"] }],
    ["priority not integer", { mission_id: "x", priority: 1.5 }, { priority: ["has an invalid type or value"] }],
  ];
  test.each(bad)("%s → 422", async (_name, body, errors) => {
    const r = await t.json("POST", "/api/github/issues/octo%2Fhello%232/task", { body });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
    expect((await t.json("GET", "/api/github/issues/octo%2Fhello%232")).body.data.task_id).toBeNull();
  });

  test("a task key already taken → 422; the issue stays unlinked", async () => {
    const r = await t.json("POST", "/api/github/issues/octo%2Fhello%232/task", {
      body: { mission_id: mission.mission_id, task_id: "csv-export" },
    });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors: { task_id: ["has already been taken"] } });
    expect((await t.json("GET", "/api/github/issues/octo%2Fhello%232")).body.data.task_id).toBeNull();
  });

  test("unknown issue → 404", async () => {
    const r = await t.json("POST", "/api/github/issues/octo%2Fhello%2399/task", {
      body: { mission_id: mission.mission_id },
    });
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ errors: { detail: "Not Found" } });
  });

  test("malformed JSON → 400; wrong content type → 415", async () => {
    const a = await t.json("POST", "/api/github/issues/1/task", { payload: "{" });
    expect(a.status).toBe(400);
    expect(a.body).toEqual({ errors: { detail: "Malformed JSON in request body" } });
    const b = await t.json("POST", "/api/github/issues/1/task", {
      payload: "x",
      headers: { "content-type": "text/plain" },
    });
    expect(b.status).toBe(415);
    expect(b.body).toEqual({ errors: { detail: "Content-Type must be application/json" } });
  });
});

describe("a linked issue closed on GitHub is noted in its task's trace", () => {
  test("through a sync, and reopening too", async () => {
    const task = (await t.json("GET", "/api/github/issues/octo%2Fhello%231")).body.data.task_id;
    fake.updateIssue(REPO, 1, { state: "closed" });
    expect((await syncNow(t)).status).toBe("succeeded");
    let trace = await traceOf(t, { task_id: task });
    expect(trace.at(-1)).toMatchObject({
      event: "github.issue_closed",
      actor: "admin:test-admin",
      mission_id: mission.mission_id,
      data: { issue: `${REPO}#1`, from: "open", to: "closed", via: "sync" },
    });
    fake.updateIssue(REPO, 1, { state: "open" });
    await syncNow(t);
    trace = await traceOf(t, { task_id: task });
    expect(trace.at(-1)).toMatchObject({
      event: "github.issue_reopened",
      data: { from: "closed", to: "open", via: "sync" },
    });
    // An edit that does not change the state is not noted.
    fake.updateIssue(REPO, 1, { title: "Login fails (all browsers)" });
    await syncNow(t);
    expect((await traceOf(t, { task_id: task })).length).toBe(trace.length);
  });

  test("through a webhook, at once", async () => {
    const task = (await t.json("GET", "/api/github/issues/octo%2Fhello%234")).body.data.task_id;
    const issue = { ...fake.issueJson(REPO, 4), state: "closed", updated_at: "2030-01-01T00:00:00Z" };
    const r = await deliver(t, "issues", {
      action: "closed",
      issue,
      repository: { full_name: "Octo/Hello" },
      sender: { login: "carol" },
    });
    expect(r.status).toBe(200);
    const trace = await traceOf(t, { task_id: task });
    expect(trace.at(-1)).toMatchObject({
      event: "github.issue_closed",
      actor: "github:carol",
      data: { issue: `${REPO}#4`, from: "open", to: "closed", via: "webhook", delivery: expect.any(String) },
    });
  });
});

describe("auth", () => {
  test("no token → 401; agent token → 403", async () => {
    const agent = await t.agentToken("gh-agent");
    for (const [method, url, body] of [
      ["GET", "/api/github/issues", undefined],
      ["GET", "/api/github/issues/1", undefined],
      ["GET", "/api/github/issues/octo/hello%231", undefined],
      ["POST", "/api/github/issues/1/task", { mission_id: mission.mission_id }],
      ["POST", "/api/github/issues/octo/hello%232/task", { mission_id: mission.mission_id }],
    ] as const) {
      const none = await t.json(method, url, { token: null, body });
      expect(none.status, url).toBe(401);
      expect(none.body).toEqual({ errors: { detail: "Unauthorized" } });
      const ag = await t.json(method, url, { token: agent, body });
      expect(ag.status, url).toBe(403);
      expect(ag.body).toEqual({ errors: { detail: "Forbidden" } });
    }
    expect((await t.json("GET", "/api/github/issues/octo%2Fhello%232")).body.data.task_id).toBeNull();
  });

  test("members may list, read and create", async () => {
    expect((await t.json("GET", "/api/github/issues", { token: t.member })).status).toBe(200);
    expect((await t.json("GET", "/api/github/issues/octo%2Fhello%232", { token: t.member })).status).toBe(200);
    const r = await t.json("POST", "/api/github/issues/octo%2Fhello%232/task", {
      token: t.member,
      body: { mission_id: mission.mission_id },
    });
    expect(r.status).toBe(201);
    const trace = await traceOf(t, { task_id: r.body.data.task_id });
    expect(trace[0]!.actor).toBe("member:test-member");
  });
});
