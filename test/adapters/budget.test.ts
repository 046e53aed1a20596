// Mission spend and budget: outputs.cost_usd adds up per mission, and a mission whose spend passes its
// budget_usd is paused (its runs stopped), with a trace entry that says why.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, waitFor, type TestContext } from "../harness.js";
import { tmpDir } from "./git.js";
import { fakeCliDir } from "./recordings.js";

let t: TestContext;
const scratch = tmpDir("mc-budget-");

beforeAll(async () => {
  t = await createTestContext({ MC_DATA_DIR: scratch }, { listen: true });
});
afterAll(async () => {
  await t.close();
  fs.rmSync(scratch, { recursive: true, force: true });
});

let n = 0;
async function mission(body: Record<string, unknown> = {}) {
  n++;
  const r = await t.json("POST", "/api/missions", {
    body: { mission_id: `budget-${n}`, goal: "Build authentication module", ...body },
  });
  expect(r.status).toBe(201);
  return r.body.data;
}

async function traceOf(missionKey: string, event: string) {
  return (await t.json("GET", "/api/trace", { query: { mission_id: missionKey, event, limit: "500" } })).body
    .data as Array<{ event: string; data: any; actor: string }>;
}

const get = async (key: string) => (await t.json("GET", `/api/missions/${key}`)).body.data;

async function taskWithCost(missionKey: string, cost: unknown) {
  const r = await t.json("POST", `/api/missions/${missionKey}/tasks`, {
    body: { objective: "o", outputs: { cost_usd: cost } },
  });
  expect(r.status).toBe(201);
  return r.body.data.task_id as string;
}

describe("budget_usd on missions", () => {
  test("create, read, list and update carry it; spent_usd sums the tasks' cost_usd; both are traced", async () => {
    const m = await mission({ budget_usd: 2.5 });
    expect(m).toMatchObject({ budget_usd: 2.5, spent_usd: 0 });
    expect((await traceOf(m.mission_id, "mission.created"))[0]!.data).toMatchObject({ budget_usd: 2.5 });
    await taskWithCost(m.mission_id, 0.25);
    await taskWithCost(m.mission_id, 0.125);
    await t.json("POST", `/api/missions/${m.mission_id}/tasks`, { body: { objective: "free" } });
    expect(await get(m.mission_id)).toMatchObject({ budget_usd: 2.5, spent_usd: 0.375 });
    const list = (await t.json("GET", "/api/missions", { query: { limit: "500" } })).body.data;
    expect(list.find((x: any) => x.mission_id === m.mission_id)).toMatchObject({ spent_usd: 0.375 });

    const u = await t.json("PATCH", `/api/missions/${m.mission_id}`, { body: { budget_usd: null } });
    expect(u.status).toBe(200);
    expect(u.body.data).toMatchObject({ budget_usd: null, spent_usd: 0.375 });
    expect((await traceOf(m.mission_id, "mission.updated")).at(-1)!.data).toEqual({ changes: { budget_usd: null } });
    expect((await mission()).budget_usd).toBeNull();
  });

  test("what agents put in cost_usd cannot break the sum: non-numbers and negatives count 0, absurd values are capped", async () => {
    const m = await mission();
    for (const c of ["12", -5, null, { usd: 3 }, true, 1.5]) await taskWithCost(m.mission_id, c);
    expect((await get(m.mission_id)).spent_usd).toBe(1.5);
    await taskWithCost(m.mission_id, 1e300);
    await taskWithCost(m.mission_id, 1e300);
    expect((await get(m.mission_id)).spent_usd).toBe(2e12 + 1.5);
  });

  const bad: Array<[unknown, Record<string, string[]>]> = [
    [-1, { budget_usd: ["has an invalid type or value"] }],
    ["10", { budget_usd: ["has an invalid type or value"] }],
    [1e10, { budget_usd: ["has an invalid type or value"] }],
  ];
  test.each(bad)("budget_usd %j → 422", async (value, errors) => {
    const c = await t.json("POST", "/api/missions", { body: { goal: "g", budget_usd: value } });
    expect(c.status).toBe(422);
    expect(c.body).toEqual({ errors });
    const m = await mission();
    const u = await t.json("PATCH", `/api/missions/${m.mission_id}`, { body: { budget_usd: value } });
    expect(u.status).toBe(422);
    expect(u.body).toEqual({ errors });
  });
});

test("OpenAPI describes budget_usd and spent_usd", async () => {
  const doc = (await t.json("GET", "/openapi.json", { token: null })).body;
  // Named schemas are `$ref`s into components.schemas; the create body is bare or wrapped (oneOf).
  const named = (s: any) => (s.$ref ? doc.components.schemas[s.$ref.split("/").pop()] : s);
  const create = named(doc.paths["/api/missions"].post.requestBody.content["application/json"].schema.oneOf[0]);
  expect(JSON.stringify(create.properties.budget_usd)).toContain("spend limit in US dollars");
  const read = named(
    doc.paths["/api/missions/{id}"].get.responses["200"].content["application/json"].schema.properties.data,
  );
  expect(Object.keys(read.properties)).toEqual(expect.arrayContaining(["budget_usd", "spent_usd"]));
});

describe("auto-pause", () => {
  test("a run whose cost passes the budget pauses the mission: its other runs stop, the trace says why, start is refused until the budget is raised", async () => {
    const gate = path.join(scratch, "gate");
    const m = await mission({ budget_usd: 0.05 });
    const key = m.mission_id as string;
    // One agent that spends (the recorded Claude Code session costs $0.0731) and one that waits at a gate.
    for (const [agent, env] of [
      [`spender-${n}`, {}],
      [`waiter-${n}`, { FAKE_GATE: gate }],
    ] as const) {
      const cwd = fs.mkdtempSync(path.join(scratch, "cwd-"));
      await t.json("POST", "/api/agents", {
        body: {
          agent_id: agent,
          adapter_module: "claude_code",
          config: { binary: path.join(fakeCliDir, "claude"), cwd, env },
        },
      });
      await t.json("POST", `/api/missions/${key}/agents`, { body: { agent_id: agent } });
    }
    expect((await t.json("POST", `/api/missions/${key}/start`)).status).toBe(200);
    const slow = (
      await t.json("POST", `/api/missions/${key}/tasks`, { body: { objective: "slow", agent_id: `waiter-${n}` } })
    ).body.data.task_id;
    await t.json("POST", `/api/tasks/${slow}/execute`);
    await waitFor(async () => (await t.json("GET", `/api/tasks/${slow}`)).body.data.outputs.session_id);
    const spend = (
      await t.json("POST", `/api/missions/${key}/tasks`, { body: { objective: "spend", agent_id: `spender-${n}` } })
    ).body.data.task_id;
    await t.json("POST", `/api/tasks/${spend}/execute`);

    const paused = await waitFor(async () => {
      const x = await get(key);
      return x.status === "paused" ? x : null;
    });
    expect(paused).toMatchObject({ spent_usd: 0.0731, budget_usd: 0.05, runtime: { running: false, workers: [] } });
    const moves = await traceOf(key, "mission.status_changed");
    expect(moves.at(-1)).toMatchObject({
      actor: "runtime",
      data: {
        from: "active",
        to: "paused",
        via: "budget",
        reason: "spend $0.0731 passed the budget $0.05",
        spent_usd: 0.0731,
        budget_usd: 0.05,
      },
    });
    // The spending task finished normally; the waiting one was stopped by the pause.
    expect((await t.json("GET", `/api/tasks/${spend}`)).body.data).toMatchObject({
      status: "pending_review",
      outputs: { cost_usd: 0.0731 },
    });
    const blocked = await waitFor(async () => {
      const x = (await t.json("GET", `/api/tasks/${slow}`)).body.data;
      return x.status === "blocked" ? x : null;
    });
    expect(blocked.logs.map((l: any) => l.message)).toContain(
      "mission paused; the task will be dispatched again when the mission starts",
    );

    const again = await t.json("POST", `/api/missions/${key}/start`);
    expect(again.status).toBe(422);
    expect(again.body).toEqual({
      errors: { budget_usd: ["spend $0.0731 has passed the budget $0.05; raise budget_usd to start the mission"] },
    });
    const viaPatch = await t.json("PATCH", `/api/missions/${key}`, { body: { status: "active" } });
    expect(viaPatch.status).toBe(422);
    expect(viaPatch.body).toEqual(again.body);
    expect((await get(key)).status).toBe("paused");

    fs.writeFileSync(gate, "go");
    const raised = await t.json("PATCH", `/api/missions/${key}`, { body: { budget_usd: 1, status: "active" } });
    expect(raised.status).toBe(200);
    expect(raised.body.data).toMatchObject({ status: "active", budget_usd: 1 });
    // The stopped task was queued again and now finishes: both runs' cost is the mission's spend.
    await waitFor(async () => (await t.json("GET", `/api/tasks/${slow}`)).body.data.status === "pending_review");
    expect((await get(key)).spent_usd).toBe(0.1462);
  });

  test("lowering the budget of an active mission below its spend pauses it at once, in the caller's name", async () => {
    const m = await mission({ budget_usd: 10 });
    await taskWithCost(m.mission_id, 3);
    await t.json("POST", `/api/missions/${m.mission_id}/start`);
    const r = await t.json("PATCH", `/api/missions/${m.mission_id}`, { token: t.member, body: { budget_usd: 2 } });
    expect(r.status).toBe(200);
    expect(r.body.data).toMatchObject({ status: "paused", budget_usd: 2, spent_usd: 3 });
    expect((await traceOf(m.mission_id, "mission.status_changed")).at(-1)).toMatchObject({
      actor: "member:test-member",
      data: { from: "active", to: "paused", via: "budget", spent_usd: 3, budget_usd: 2 },
    });
    // Exactly at the budget is not past it.
    const ok = await mission({ budget_usd: 3 });
    await taskWithCost(ok.mission_id, 3);
    expect((await t.json("POST", `/api/missions/${ok.mission_id}/start`)).status).toBe(200);
  });

  test("spend an agent reports through the API is caught by the housekeeping pass", async () => {
    const m = await mission({ budget_usd: 1 });
    const agent = `reporter-${n}`;
    await t.json("POST", "/api/agents", { body: { agent_id: agent } });
    await t.json("POST", `/api/missions/${m.mission_id}/agents`, { body: { agent_id: agent } });
    await t.json("POST", `/api/missions/${m.mission_id}/start`);
    const task = (
      await t.json("POST", `/api/missions/${m.mission_id}/tasks`, { body: { objective: "o", agent_id: agent } })
    ).body.data.task_id;
    const token = await t.agentToken(agent);
    const rep = await t.json("POST", `/api/tasks/${task}/report`, {
      token,
      body: { progress: { status: "in_progress", outputs: { cost_usd: 1.25 } } },
    });
    expect(rep.status).toBe(200);
    await t.app.services.housekeeping.pass();
    expect(await get(m.mission_id)).toMatchObject({ status: "paused", spent_usd: 1.25 });
    expect((await traceOf(m.mission_id, "mission.status_changed")).at(-1)!.data).toMatchObject({
      via: "budget",
      to: "paused",
    });
    // Nothing over budget: the pass changes nothing.
    const fine = await mission({ budget_usd: 5 });
    await t.json("POST", `/api/missions/${fine.mission_id}/start`);
    await t.app.services.housekeeping.pass();
    expect((await get(fine.mission_id)).status).toBe("active");
  });
});
