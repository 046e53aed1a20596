// GET /api/dispatches: the list the console's Inbox reads parked dispatches from (whatever their age), and the
// `policy` a parked dispatch shows (the require_approval decision that parked it).
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, waitFor, type TestContext } from "../harness.js";
import { DISPATCH } from "../../src/runtime/dispatch.state.js";

let t: TestContext;
let parked: any;
let queued: any;
let other: any;
const M1 = "dl-mission-1";
const M2 = "dl-mission-2";
const MESSAGE = "Deploys need a human";

async function world(m: string, a: string) {
  await t.json("POST", "/api/missions", { body: { mission_id: m, goal: "listed" } });
  await t.json("POST", "/api/agents", { body: { agent_id: a, adapter_module: "manual" } });
  await t.json("POST", `/api/missions/${m}/agents`, { body: { agent_id: a } });
  await t.json("POST", `/api/missions/${m}/start`);
}

async function execute(m: string, objective: string) {
  const task = await t.json("POST", `/api/missions/${m}/tasks`, { body: { objective, priority: 1 } });
  const r = await t.json("POST", `/api/tasks/${task.body.data.task_id}/execute`);
  expect(r.status).toBe(202);
  return r.body.data;
}

beforeAll(async () => {
  t = await createTestContext();
  await world(M1, "dl-agent-1");
  await world(M2, "dl-agent-2");
  const p = await t.json("POST", "/api/policies", {
    body: {
      policy: {
        policy_id: "dl-approve-deploys",
        scope: `mission:${M1}`,
        conditions: { action_type: "dispatch", task: { objective: { $regex: "deploy" } } },
        actions: [{ require_approval: MESSAGE }],
      },
    },
  });
  expect(p.status).toBe(201);
  parked = await execute(M1, "deploy to production");
  queued = await execute(M1, "write the docs");
  other = await execute(M2, "deploy elsewhere");
  // The manual agents take what is queued: wait until both are handed over, so statuses are stable.
  for (const d of [queued, other])
    await waitFor(async () => {
      const s = (await t.json("GET", `/api/dispatches/${d.id}`)).body.data.status;
      if (s !== "delivered") throw new Error(`dispatch ${d.id} is ${s}`);
      return true;
    });
});
afterAll(async () => {
  await t?.close();
});

const ids = (r: any) => r.body.data.map((d: any) => d.id);

describe("GET /api/dispatches", () => {
  test("lists dispatches oldest first, each as GET /api/dispatches/:id shows it", async () => {
    const r = await t.json("GET", "/api/dispatches", { token: t.member });
    expect(r.status).toBe(200);
    expect(ids(r)).toEqual([parked.id, queued.id, other.id]);
    expect(r.body.meta).toEqual({ next_cursor: null });
    for (const d of r.body.data) {
      const one = await t.json("GET", `/api/dispatches/${d.id}`, { token: t.member });
      expect(d).toEqual(one.body.data);
    }
    expect(r.body.data[0]).toMatchObject({
      task_id: parked.task_id,
      mission_id: M1,
      agent_id: "dl-agent-1",
      status: DISPATCH.awaitingApproval,
    });
  });

  test("status=awaiting_approval lists the parked dispatch with the decision that parked it", async () => {
    const r = await t.json("GET", "/api/dispatches", { query: { status: DISPATCH.awaitingApproval } });
    expect(r.status).toBe(200);
    expect(ids(r)).toEqual([parked.id]);
    expect(r.body.data[0].policy).toEqual({
      decision_id: parked.policy.decision_id,
      decision: "require_approval",
      messages: [MESSAGE],
    });
    const q = await t.json("GET", "/api/dispatches", { query: { status: "delivered" } });
    expect(ids(q)).toEqual([queued.id, other.id]);
    expect(q.body.data.map((d: any) => d.policy)).toEqual([null, null]);
    expect(ids(await t.json("GET", "/api/dispatches", { query: { status: DISPATCH.failed } }))).toEqual([]);
  });

  test("mission_id and task_id filter by key or integer id; an unknown one matches nothing", async () => {
    expect(ids(await t.json("GET", "/api/dispatches", { query: { mission_id: M1 } }))).toEqual([parked.id, queued.id]);
    const m2 = (await t.json("GET", `/api/missions/${M2}`)).body.data.id;
    expect(ids(await t.json("GET", "/api/dispatches", { query: { mission_id: String(m2) } }))).toEqual([other.id]);
    expect(ids(await t.json("GET", "/api/dispatches", { query: { task_id: queued.task_id } }))).toEqual([queued.id]);
    const taskId = (await t.json("GET", `/api/tasks/${other.task_id}`)).body.data.id;
    expect(ids(await t.json("GET", "/api/dispatches", { query: { task_id: String(taskId) } }))).toEqual([other.id]);
    expect(
      ids(
        await t.json("GET", "/api/dispatches", {
          query: { mission_id: M1, task_id: other.task_id },
        }),
      ),
    ).toEqual([]);
    expect(ids(await t.json("GET", "/api/dispatches", { query: { mission_id: "no-such-mission" } }))).toEqual([]);
    expect(ids(await t.json("GET", "/api/dispatches", { query: { mission_id: M1, status: "delivered" } }))).toEqual([
      queued.id,
    ]);
  });

  test("keyset pagination: limit and cursor walk every dispatch once", async () => {
    const first = await t.json("GET", "/api/dispatches", { query: { limit: "2" } });
    expect(ids(first)).toEqual([parked.id, queued.id]);
    expect(typeof first.body.meta.next_cursor).toBe("string");
    const second = await t.json("GET", "/api/dispatches", {
      query: { limit: "2", cursor: first.body.meta.next_cursor },
    });
    expect(ids(second)).toEqual([other.id]);
    expect(second.body.meta).toEqual({ next_cursor: null });
    // The page's policy lookups cover the rows shown: the parked one keeps its decision on page one.
    expect(first.body.data[0].policy?.decision_id).toBe(parked.policy.decision_id);
  });

  test.each([
    [
      { status: "parked" },
      {
        status: ["must be one of: awaiting_approval, queued, running, succeeded, delivered, failed, cancelled"],
      },
    ],
    [{ limit: "0" }, { limit: ["must be >= 1"] }],
    [{ limit: "two" }, { limit: ["must be integer"] }],
    [{ cursor: "zzz" }, { cursor: ["is not a valid cursor"] }],
    [{ mission_id: "bad key!" }, { mission_id: ["has an invalid format"] }],
  ])("bad query %j → 422", async (query, errors) => {
    const r = await t.json("GET", "/api/dispatches", { query });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
  });

  test("no token is 401; an agent cannot list dispatches (403), not even its own", async () => {
    const none = await t.json("GET", "/api/dispatches", { token: null });
    expect(none.status).toBe(401);
    const agent = await t.json("GET", "/api/dispatches", {
      token: await t.agentToken("dl-agent-1"),
      query: { task_id: parked.task_id },
    });
    expect(agent.status).toBe(403);
    expect(agent.body).toEqual({ errors: { detail: "Forbidden" } });
  });
});

describe("GET /api/dispatches/:id policy", () => {
  test("a parked dispatch shows the require_approval decision that parked it, before and after approval", async () => {
    const before = await t.json("GET", `/api/dispatches/${parked.id}`);
    expect(before.body.data.policy).toEqual(parked.policy);
    expect(before.body.data.policy).toEqual({
      decision_id: expect.any(Number),
      decision: "require_approval",
      messages: [MESSAGE],
    });
    const ok = await t.json("POST", `/api/tasks/${parked.task_id}/execute`, {
      token: t.member,
      body: { approve_policy: String(parked.policy.decision_id) },
    });
    expect(ok.status).toBe(202);
    const after = await t.json("GET", `/api/dispatches/${parked.id}`);
    expect([DISPATCH.queued, DISPATCH.running, "delivered"]).toContain(after.body.data.status);
    expect(after.body.data.policy).toEqual(parked.policy);
    // Parked no more: the Inbox's list is empty.
    expect(ids(await t.json("GET", "/api/dispatches", { query: { status: DISPATCH.awaitingApproval } }))).toEqual([]);
    // A dispatch no guardrail stopped has none.
    expect((await t.json("GET", `/api/dispatches/${queued.id}`)).body.data.policy).toBeNull();
  });
});
