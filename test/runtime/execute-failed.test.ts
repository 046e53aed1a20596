// POST /api/tasks/:id/execute on a failed task retries it in one request (issue 23, item 7): the task moves
// back to pending and is dispatched, both traced, in one transaction; any refusal leaves it failed with
// nothing written.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, waitFor, type TestContext } from "../harness.js";

let t: TestContext;
let n = 0;
beforeAll(async () => {
  t = await createTestContext({}, { listen: true });
});
afterAll(async () => {
  await t.close();
});

async function traceCount() {
  return (await t.database.query<{ n: number }>("SELECT count(*)::int AS n FROM trace_entries"))[0]!.n;
}

/** A mission with one command agent that exits 0 (so its runs reach pending_review), and a failed task. */
async function failedTask(opts: { start?: boolean; agentOnMission?: boolean; assign?: boolean } = {}) {
  n++;
  const mission = `xf-mission-${n}`;
  const agent = `xf-agent-${n}`;
  expect((await t.json("POST", "/api/missions", { body: { mission_id: mission, goal: "g" } })).status).toBe(201);
  const a = await t.json("POST", "/api/agents", {
    body: { agent_id: agent, adapter_module: "command", config: { command: ["sh", "-c", "echo retried"] } },
  });
  expect(a.status, JSON.stringify(a.body)).toBe(201);
  if (opts.agentOnMission !== false)
    expect((await t.json("POST", `/api/missions/${mission}/agents`, { body: { agent_id: agent } })).status).toBe(201);
  if (opts.start !== false) expect((await t.json("POST", `/api/missions/${mission}/start`)).status).toBe(200);
  const body = opts.assign === false ? { objective: "o" } : { objective: "o", agent_id: agent };
  const task = (await t.json("POST", `/api/missions/${mission}/tasks`, { body })).body.data.task_id as string;
  expect((await t.json("PATCH", `/api/tasks/${task}`, { body: { status: "failed" } })).status).toBe(200);
  return { mission, agent, task };
}

describe("execute on a failed task", () => {
  test("moves it to pending and dispatches it in one request; both moves are traced; the run goes on", async () => {
    const { mission, agent, task } = await failedTask();
    const before = (await t.json("GET", "/api/trace", { query: { task_id: task } })).body.data.length;
    const r = await t.json("POST", `/api/tasks/${task}/execute`);
    expect(r.status).toBe(202);
    expect(r.body.data).toMatchObject({
      task_id: task,
      mission_id: mission,
      agent_id: agent,
      status: "queued",
      attempt: 1,
    });
    const entries = (await t.json("GET", "/api/trace", { query: { task_id: task } })).body.data.slice(before);
    // The guardrails' decision comes first (policy.evaluated), then the two moves.
    expect(entries[0].event).toBe("policy.evaluated");
    expect(entries.slice(1, 3).map((e: any) => [e.event, e.data])).toEqual([
      ["task.status_changed", { from: "failed", to: "pending", comment: "retried by execute", via: "execute" }],
      ["task.dispatched", { dispatch_id: r.body.data.id, attempt: 1 }],
    ]);
    const done = await waitFor(
      async () => {
        const x = (await t.json("GET", `/api/tasks/${task}`)).body.data;
        return x.status === "pending_review" ? x : null;
      },
      20_000,
      "the retried run to finish",
    );
    expect(done.logs.map((l: any) => l.message)).toContain("retried");
    await t.json("PATCH", `/api/missions/${mission}`, { body: { status: "completed" } });
  });

  test("an unassigned failed task gets the mission's agent, like any execute", async () => {
    const { mission, agent, task } = await failedTask({ assign: false });
    const r = await t.json("POST", `/api/tasks/${task}/execute`);
    expect(r.status).toBe(202);
    expect(r.body.data.agent_id).toBe(agent);
    await t.json("PATCH", `/api/missions/${mission}`, { body: { status: "completed" } });
  });

  const refused: Array<[string, Parameters<typeof failedTask>[0], Record<string, string[]>]> = [
    ["the mission is not active", { start: false }, { mission_id: ["mission is planning, not active"] }],
    [
      "the assigned agent is not on the mission",
      { agentOnMission: false, start: true },
      { agent_id: ["is not on the mission"] },
    ],
    [
      "no agent and none on the mission",
      { agentOnMission: false, assign: false },
      { agent_id: ["no agent is on the mission"] },
    ],
  ];
  test.each(refused)("refused when %s: 422, the task stays failed, nothing traced", async (_name, opts, errors) => {
    const { task } = await failedTask(opts);
    const traced = await traceCount();
    const r = await t.json("POST", `/api/tasks/${task}/execute`);
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
    expect((await t.json("GET", `/api/tasks/${task}`)).body.data.status).toBe("failed");
    expect(await traceCount()).toBe(traced);
  });

  test("a policy that blocks the dispatch: 403, the task stays failed; only the decision is traced", async () => {
    const { mission, task } = await failedTask();
    const p = await t.json("POST", "/api/policies", {
      body: {
        scope: `mission:${mission}`,
        conditions: { action_type: "dispatch" },
        actions: [{ block: "no dispatch here" }],
      },
    });
    expect(p.status, JSON.stringify(p.body)).toBe(201);
    const traced = await traceCount();
    const r = await t.json("POST", `/api/tasks/${task}/execute`);
    expect(r.status).toBe(403);
    expect(r.body.errors).toEqual({ policy: ["no dispatch here"] });
    expect((await t.json("GET", `/api/tasks/${task}`)).body.data.status).toBe("failed");
    const added = await t.database.query<{ event: string }>("SELECT event FROM trace_entries ORDER BY id OFFSET $1", [
      traced,
    ]);
    expect(added.map((e) => e.event)).toEqual(["policy.evaluated"]);
    await t.json("PATCH", `/api/missions/${mission}`, { body: { status: "completed" } });
  });

  test.each(["in_progress", "pending_review", "completed"])(
    "a task that is %s still cannot be executed",
    async (status) => {
      const { mission, task } = await failedTask();
      expect((await t.json("PATCH", `/api/tasks/${task}`, { body: { status: "pending" } })).status).toBe(200);
      expect((await t.json("PATCH", `/api/tasks/${task}`, { body: { status: "in_progress" } })).status).toBe(200);
      if (status === "pending_review" || status === "completed") {
        expect(
          (await t.json("POST", `/api/tasks/${task}/report`, { body: { progress: { status: "pending_review" } } }))
            .status,
        ).toBe(200);
      }
      if (status === "completed")
        expect((await t.json("POST", `/api/tasks/${task}/approve`, { body: {} })).status).toBe(200);
      const r = await t.json("POST", `/api/tasks/${task}/execute`);
      expect(r.status).toBe(422);
      expect(r.body).toEqual({ errors: { status: [`cannot execute a task that is ${status}`] } });
      await t.json("PATCH", `/api/missions/${mission}`, { body: { status: "completed" } });
    },
  );
});
