// The MCP server over Streamable HTTP, through the SDK's own client: tools per profile, every tool's happy
// path, the API's refusals as tool errors, policies, the trace's `via`, heartbeats and the HTTP edges.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { createTestContext, waitFor, type TestContext } from "../harness.js";
import { createMission, createTask, putAgentOnMission, uniq } from "../tasks/helpers.js";
import { call, httpClient } from "./helpers.js";

const AGENT_TOOLS = [
  "get_context",
  "list_my_tasks",
  "get_task",
  "start_task",
  "report_progress",
  "submit_for_review",
  "search_knowledge",
  "check_policy",
  "list_decisions",
];
const MEMBER_TOOLS = [
  "list_missions",
  "list_tasks",
  "create_task",
  "assign_task",
  "execute_task",
  "list_agents",
  "approve_task",
  "reject_task",
];

let t: TestContext;
let agentKey: string;
let agentToken: string;
let agent: Client;
let member: Client;
let admin: Client;
let missionKey: string;

beforeAll(async () => {
  t = await createTestContext({}, { listen: true });
  agentKey = uniq("mcp-agent");
  agentToken = await t.agentToken(agentKey);
  missionKey = (await createMission(t)).mission_id;
  await putAgentOnMission(t, missionKey, agentKey);
  agent = await httpClient(t.url!, agentToken);
  member = await httpClient(t.url!, t.member);
  admin = await httpClient(t.url!, t.admin);
});

afterAll(async () => {
  await Promise.all([agent?.close(), member?.close(), admin?.close()]);
  await t?.close();
});

async function traceOf(taskKey: string) {
  const r = await t.json("GET", "/api/trace", { query: { task_id: taskKey, limit: "500" } });
  expect(r.status).toBe(200);
  return r.body.data as Array<{ event: string; actor: string; data: Record<string, unknown> }>;
}

describe("profiles", () => {
  test("an agent token sees the agent tools, a member and an admin all of them", async () => {
    expect((await agent.listTools()).tools.map((x) => x.name).sort()).toEqual([...AGENT_TOOLS].sort());
    for (const c of [member, admin]) {
      expect((await c.listTools()).tools.map((x) => x.name).sort()).toEqual([...AGENT_TOOLS, ...MEMBER_TOOLS].sort());
    }
  });

  test("the agent tools cost well under 4k tokens (tools/list JSON under 8 KiB, about 2k tokens)", async () => {
    const json = JSON.stringify(await agent.listTools());
    expect(json.length).toBeLessThan(8 * 1024);
  });

  test("enums in tool schemas are the API's", async () => {
    const tools = (await agent.listTools()).tools;
    const report = tools.find((x) => x.name === "report_progress")!;
    expect((report.inputSchema.properties as { status: { enum: unknown } }).status.enum).toEqual([
      "pending",
      "in_progress",
      "blocked",
      "pending_review",
      "rejected",
      "completed",
      "failed",
    ]);
  });

  test.each(MEMBER_TOOLS)("an agent token calling %s is refused as the route refuses it (403)", async (name) => {
    const r = await call(agent, name, {});
    expect(r.isError).toBe(true);
    expect(JSON.parse(r.text)).toEqual({ status: 403, errors: { detail: "Forbidden" } });
  });
});

describe("agent tools", () => {
  test("the work loop: get_context, start_task, report_progress, submit_for_review; traced with via mcp", async () => {
    const task = await createTask(t, missionKey, { agent_id: agentKey, objective: "Write the parser" });

    const mine = await call(agent, "list_my_tasks", {});
    expect(mine.isError).toBe(false);
    expect(mine.data.items.map((x: any) => x.task_id)).toContain(task.task_id);
    expect(mine.data.next_cursor).toBeNull();
    expect(JSON.parse(mine.text)).toEqual(mine.data);

    const ctx = await call(agent, "get_context", { task: task.task_id });
    expect(ctx.isError, ctx.text).toBe(false);
    expect(ctx.data.task.objective).toBe("Write the parser");
    expect(ctx.data.mission).toMatchObject({ mission_id: missionKey, goal: "g" });
    expect(ctx.data.allowed_moves).toEqual(["in_progress", "blocked", "failed"]);
    expect(ctx.data.review_comments).toEqual([]);

    const started = await call(agent, "start_task", { task: task.task_id });
    expect(started.isError, started.text).toBe(false);
    expect(started.data.status).toBe("in_progress");

    // Without a task, get_context takes the agent's in_progress task.
    const current = await call(agent, "get_context", {});
    expect(current.isError, current.text).toBe(false);
    expect(current.data.task.task_id).toBe(task.task_id);

    const reported = await call(agent, "report_progress", {
      task: task.id,
      message: "parsed half",
      outputs: { lines: 10 },
    });
    expect(reported.isError, reported.text).toBe(false);
    expect(reported.data.outputs).toEqual({ lines: 10 });
    expect(reported.data.logs.at(-1).message).toBe("parsed half");

    const got = await call(agent, "get_task", { task: task.task_id });
    expect(got.data.status).toBe("in_progress");

    const submitted = await call(agent, "submit_for_review", {
      task: task.task_id,
      summary: "Parser done",
      pr_url: "https://example.com/pr/1",
      evidence: { tests: "12 passed" },
    });
    expect(submitted.isError, submitted.text).toBe(false);
    expect(submitted.data.status).toBe("pending_review");
    expect(submitted.data.outputs).toEqual({
      lines: 10,
      summary: "Parser done",
      pr_url: "https://example.com/pr/1",
      evidence: { tests: "12 passed" },
    });

    const entries = await traceOf(task.task_id);
    const byAgent = entries.filter((e) => e.actor === `agent:${agentKey}` || e.actor.includes(agentKey));
    expect(byAgent.length).toBeGreaterThan(0);
    for (const e of byAgent) expect(e.data.channel, JSON.stringify(e)).toBe("mcp");
    const moves = byAgent.filter((e) => e.event === "task.status_changed");
    // The state machine's own `via` (report) is kept; the channel is recorded beside it.
    expect(moves.map((e) => [e.data.to, e.data.via])).toEqual([
      ["in_progress", "report"],
      ["pending_review", "report"],
    ]);
    const others = byAgent.filter((e) => e.event !== "task.status_changed");
    for (const e of others) expect(e.data.via).toBe("mcp");
  });

  test("list_decisions and get_context show reviewers' comments", async () => {
    const task = await createTask(t, missionKey, { agent_id: agentKey });
    await call(agent, "start_task", { task: task.task_id });
    await call(agent, "submit_for_review", { task: task.task_id, summary: "first try" });
    const rejected = await call(member, "reject_task", { task: task.task_id, comment: "needs tests" });
    expect(rejected.isError, rejected.text).toBe(false);
    expect(rejected.data.status).toBe("rejected");

    const decisions = await call(agent, "list_decisions", { task: task.task_id });
    expect(decisions.isError, decisions.text).toBe(false);
    expect(decisions.data.items).toEqual([
      {
        task_id: task.task_id,
        decision: "rejected",
        comment: "needs tests",
        by: expect.any(String),
        at: expect.any(String),
      },
    ]);
    const ctx = await call(agent, "get_context", { task: task.task_id });
    expect(ctx.data.review_comments[0]).toMatchObject({ decision: "rejected", comment: "needs tests" });
    expect(ctx.data.allowed_moves).toEqual(["pending", "in_progress"]);

    await call(agent, "start_task", { task: task.task_id });
    await call(agent, "submit_for_review", { task: task.task_id, summary: "with tests" });
    const approved = await call(admin, "approve_task", { task: task.task_id, comment: "great" });
    expect(approved.isError, approved.text).toBe(false);
    expect(approved.data.status).toBe("completed");
    const all = await call(agent, "list_decisions", {});
    expect(all.data.items.slice(0, 2).map((d: any) => [d.decision, d.comment])).toEqual([
      ["approved", "great"],
      ["rejected", "needs tests"],
    ]);
    // The reviewer's entry is marked too, and keeps the approve route's via (knowledge capture reads it).
    const approve = (await traceOf(task.task_id)).find(
      (e) => e.event === "task.status_changed" && e.data.to === "completed",
    )!;
    expect(approve.data).toMatchObject({ via: "approve", channel: "mcp", comment: "great" });
  });

  test("search_knowledge finds a document", async () => {
    const doc = await t.json("POST", "/api/knowledge/documents", {
      body: { title: "Deploy runbook", content: "How to deploy the parser" },
    });
    expect(doc.status).toBe(201);
    const r = await call(agent, "search_knowledge", { query: "deploy", limit: 3 });
    expect(r.isError, r.text).toBe(false);
    expect(r.data.items[0]).toMatchObject({ title: "Deploy runbook" });
    expect(r.data.next_cursor).toBeNull();
  });

  test("check_policy evaluates as the agent, and a block is reported", async () => {
    const p = await t.json("POST", "/api/policies", {
      body: {
        policy_id: uniq("no-force"),
        scope: "global",
        conditions: { action_type: "git_push", force: true },
        actions: [{ block: "no force pushes" }],
      },
    });
    expect(p.status, JSON.stringify(p.body)).toBe(201);
    const r = await call(agent, "check_policy", { action: { action_type: "git_push", force: true } });
    expect(r.isError, r.text).toBe(false);
    expect(r.data).toMatchObject({ decision: "block", messages: ["no force pushes"] });
    const ok = await call(agent, "check_policy", { action: { action_type: "git_push", force: false } });
    expect(ok.data.decision).toBe("allow");
  });

  test("a report whose actions a policy blocks is a tool error with the policy's message", async () => {
    await t.json("POST", "/api/policies", {
      body: {
        policy_id: uniq("no-rm"),
        scope: "global",
        conditions: { action_type: "shell", command: { $regex: "rm -rf /" } },
        actions: [{ block: "never rm -rf /" }],
      },
    });
    const task = await createTask(t, missionKey, { agent_id: agentKey });
    await call(agent, "start_task", { task: task.task_id });
    const r = await call(agent, "report_progress", {
      task: task.task_id,
      outputs: { actions: [{ action_type: "shell", command: "rm -rf /" }] },
    });
    const direct = await t.json("POST", `/api/tasks/${task.task_id}/report`, {
      token: agentToken,
      body: { outputs: { actions: [{ action_type: "shell", command: "rm -rf /" }] } },
    });
    // Same answer as the route, whatever the route decides about reported actions.
    if (direct.status === 200) expect(r.isError).toBe(false);
    else expect(JSON.parse(r.text)).toMatchObject({ status: direct.status, errors: direct.body.errors });
  });
});

describe("member tools", () => {
  test("list_missions, create_task, assign_task, list_tasks, list_agents, execute_task", async () => {
    const missions = await call(member, "list_missions", { status: "planning" });
    expect(missions.isError, missions.text).toBe(false);
    expect(missions.data.items.map((m: any) => m.mission_id)).toContain(missionKey);

    const created = await call(member, "create_task", {
      mission: missionKey,
      objective: "Ship it",
      task_id: uniq("ship"),
    });
    expect(created.isError, created.text).toBe(false);
    expect(created.data).toMatchObject({
      objective: "Ship it",
      status: "pending",
      agent_id: null,
      mission_id: missionKey,
    });

    const assigned = await call(member, "assign_task", { task: created.data.task_id, agent: agentKey });
    expect(assigned.isError, assigned.text).toBe(false);
    expect(assigned.data.agent_id).toBe(agentKey);

    const listed = await call(member, "list_tasks", { mission: missionKey, agent: agentKey, status: "pending" });
    expect(listed.data.items.map((x: any) => x.task_id)).toContain(created.data.task_id);
    const all = await call(member, "list_tasks", { limit: 1 });
    expect(all.data.items).toHaveLength(1);
    expect(typeof all.data.next_cursor).toBe("string");

    const agents = await call(member, "list_agents", {});
    expect(agents.data.items.map((a: any) => a.agent_id)).toContain(agentKey);

    // execute needs an active mission: the API's 422, as a tool error.
    const refused = await call(member, "execute_task", { task: created.data.task_id });
    expect(refused.isError).toBe(true);
    expect(JSON.parse(refused.text)).toEqual({
      status: 422,
      errors: { mission_id: ["mission is planning, not active"] },
    });
    const direct = await t.json("POST", `/api/tasks/${created.data.task_id}/execute`, { body: {} });
    expect(direct.body).toEqual({ errors: { mission_id: ["mission is planning, not active"] } });

    expect((await t.json("POST", `/api/missions/${missionKey}/start`)).status).toBe(200);
    const executed = await call(member, "execute_task", { task: created.data.task_id });
    expect(executed.isError, executed.text).toBe(false);
    expect(executed.data).toMatchObject({ task_id: created.data.task_id, agent_id: agentKey });
    expect(typeof executed.data.id).toBe("number");
    expect((await t.json("POST", `/api/missions/${missionKey}/pause`)).status).toBe(200);
  });
});

describe("the channel marks only the caller's own entries", () => {
  test("execute_task's dispatch is marked; the run it starts (the runtime's entries) is not", async () => {
    const mission = (await createMission(t)).mission_id;
    const runner = uniq("mcp-runner");
    const a = await t.json("POST", "/api/agents", {
      body: { agent_id: runner, adapter_module: "command", config: { command: ["sh", "-c", "echo ran"] } },
    });
    expect(a.status, JSON.stringify(a.body)).toBe(201);
    expect((await t.json("POST", `/api/missions/${mission}/agents`, { body: { agent_id: runner } })).status).toBe(201);
    expect((await t.json("POST", `/api/missions/${mission}/start`)).status).toBe(200);
    const task = await createTask(t, mission, { agent_id: runner });
    const r = await call(member, "execute_task", { task: task.task_id });
    expect(r.isError, r.text).toBe(false);
    await waitFor(
      async () => (await t.json("GET", `/api/tasks/${task.task_id}`)).body.data.status === "pending_review",
      60_000,
      "the run",
    );
    const entries = await traceOf(task.task_id);
    const dispatched = entries.find((e) => e.event === "task.dispatched")!;
    expect(dispatched.data.channel).toBe("mcp");
    const byRuntime = entries.filter((e) => e.actor === "runtime");
    expect(byRuntime.length).toBeGreaterThan(0);
    for (const e of byRuntime) expect(e.data.channel, JSON.stringify(e)).toBeUndefined();
    await t.json("POST", `/api/missions/${mission}/pause`);
  });
});

describe("refusals: the API's answers as tool errors", () => {
  test("permission rules of agent tokens", async () => {
    const other = uniq("other-agent");
    await t.agentToken(other);
    const theirs = await createTask(t, missionKey, { agent_id: other });
    const elsewhere = (await createMission(t)).mission_id;
    const strangers = await createTask(t, elsewhere, { agent_id: other });
    const forbidden = { status: 403, errors: { detail: "Forbidden" } };
    // Reading a task of another agent in another mission.
    expect(JSON.parse((await call(agent, "get_task", { task: strangers.task_id })).text)).toEqual(forbidden);
    // Reporting on another agent's task (even in its own mission).
    expect(JSON.parse((await call(agent, "report_progress", { task: theirs.task_id, message: "x" })).text)).toEqual(
      forbidden,
    );
    expect(JSON.parse((await call(agent, "start_task", { task: theirs.task_id })).text)).toEqual(forbidden);
    expect(JSON.parse((await call(agent, "submit_for_review", { task: theirs.task_id, summary: "x" })).text)).toEqual(
      forbidden,
    );
    // Decisions on a task it may not read.
    expect(JSON.parse((await call(agent, "list_decisions", { task: strangers.task_id })).text)).toEqual(forbidden);
    // Evaluating policies as another agent is refused by the route; the tool always asks as the caller.
    const direct = await t.json("POST", "/api/policies/evaluate", {
      token: agentToken,
      body: { action: {}, agent_id: other },
    });
    expect(direct.status).toBe(403);
    // A member has no agent: the agent-only conveniences say so.
    expect(JSON.parse((await call(member, "list_my_tasks", {})).text)).toEqual({
      status: 422,
      errors: { token: ["list_my_tasks needs an agent token"] },
    });
  });

  test.each([
    ["get_task", { task: "nope-404" }, { status: 404, errors: { detail: "Not Found" } }],
    ["get_task", {}, { status: 422, errors: { task: ["is required"] } }],
    ["get_task", { task: "bad key!" }, { status: 422, errors: { task: ["has an invalid type or value"] } }],
    ["get_task", { task: "x", extra: 1 }, { status: 422, errors: { extra: ["is not a known field"] } }],
    [
      "report_progress",
      { task: "x", status: "done" },
      {
        status: 422,
        errors: {
          status: ["must be one of: pending, in_progress, blocked, pending_review, rejected, completed, failed"],
        },
      },
    ],
    ["report_progress", { task: "x", logs: [{}] }, { status: 422, errors: { "logs.0.message": ["is required"] } }],
    ["submit_for_review", { task: "x" }, { status: 422, errors: { summary: ["is required"] } }],
    ["search_knowledge", { query: "" }, { status: 422, errors: { query: ["must NOT have fewer than 1 characters"] } }],
    ["search_knowledge", { query: "a", limit: 0 }, { status: 422, errors: { limit: ["must be >= 1"] } }],
    ["check_policy", { action: "push" }, { status: 422, errors: { action: ["must be object"] } }],
    ["no_such_tool", {}, { status: 422, errors: { name: ["no tool named no_such_tool"] } }],
  ])("agent %s %j → %j", async (name, args, expected) => {
    const r = await call(agent, name, args);
    expect(r.isError).toBe(true);
    expect(JSON.parse(r.text)).toEqual(expected);
  });

  test.each([
    ["reject_task", { task: "x" }, { status: 422, errors: { comment: ["is required"] } }],
    ["create_task", { mission: "nope-404", objective: "o" }, { status: 404, errors: { detail: "Not Found" } }],
    ["create_task", { mission: "m" }, { status: 422, errors: { objective: ["is required"] } }],
    [
      "list_tasks",
      { status: "open" },
      {
        status: 422,
        errors: {
          status: ["must be one of: pending, in_progress, blocked, pending_review, rejected, completed, failed"],
        },
      },
    ],
    [
      "list_missions",
      { cursor: "forged" },
      { status: 422, errors: { cursor: ["is not a cursor this server issued"] } },
    ],
    ["assign_task", { task: "x" }, { status: 422, errors: { agent: ["is required"] } }],
  ])("member %s %j → %j", async (name, args, expected) => {
    const r = await call(member, name, args);
    expect(r.isError).toBe(true);
    const body = JSON.parse(r.text);
    expect(body.status).toBe(expected.status);
    if (name === "list_missions") expect(Object.keys(body.errors)).toEqual(["cursor"]);
    else expect(body).toEqual(expected);
  });

  test("state machine: approving a task not in review is the route's 422, and changes nothing", async () => {
    const task = await createTask(t, missionKey, { agent_id: agentKey });
    const r = await call(member, "approve_task", { task: task.task_id });
    expect(JSON.parse(r.text)).toEqual({ status: 422, errors: { status: ["cannot approve a task that is pending"] } });
    const direct = await t.json("POST", `/api/tasks/${task.task_id}/approve`, { body: {} });
    expect(direct.body).toEqual({ errors: { status: ["cannot approve a task that is pending"] } });
    const illegal = await call(agent, "submit_for_review", { task: task.task_id, summary: "skip ahead" });
    expect(JSON.parse(illegal.text)).toEqual({
      status: 422,
      errors: { status: ["cannot move from pending to pending_review"] },
    });
    expect((await t.json("GET", `/api/tasks/${task.task_id}`)).body.data).toMatchObject({
      status: "pending",
      outputs: {},
    });
  });
});

describe("HTTP edges", () => {
  test("no token, an unknown token: 401 with WWW-Authenticate, in the contract's shape", async () => {
    for (const headers of [{}, { authorization: "Bearer mc_nope" }] as Array<Record<string, string>>) {
      const r = await fetch(`${t.url}/mcp`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
      });
      expect(r.status).toBe(401);
      expect(r.headers.get("www-authenticate")).toBe("Bearer");
      expect(await r.json()).toEqual({ errors: { detail: "Unauthorized" } });
    }
  });

  test("GET and DELETE /mcp are 405; /mcp is not in the OpenAPI document", async () => {
    for (const method of ["GET", "DELETE"]) {
      const r = await fetch(`${t.url}/mcp`, { method, headers: { authorization: `Bearer ${t.admin}` } });
      expect(r.status).toBe(405);
      expect(r.headers.get("allow")).toBe("POST");
      expect(((await r.json()) as { errors: { detail: string } }).errors.detail).toMatch(/Method Not Allowed/);
    }
    const doc = await t.json("GET", "/openapi.json");
    expect(Object.keys(doc.body.paths).filter((p) => p.startsWith("/mcp"))).toEqual([]);
  });

  test("malformed JSON is the API's 400", async () => {
    const r = await fetch(`${t.url}/mcp`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${t.admin}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: "{nope",
    });
    expect(r.status).toBe(400);
    expect(await r.json()).toEqual({ errors: { detail: "Malformed JSON in request body" } });
  });

  test("a call with an agent token is its heartbeat", async () => {
    const key = uniq("beat");
    const token = await t.agentToken(key);
    const before = (await t.json("GET", `/api/agents/${key}`)).body.data;
    expect(before.last_seen_at).toBeNull();
    const c = await httpClient(t.url!, token);
    await c.listTools();
    await c.close();
    const after = (await t.json("GET", `/api/agents/${key}`)).body.data;
    expect(after.last_seen_at).not.toBeNull();
    expect(after.status).toBe("idle");
  });
});
