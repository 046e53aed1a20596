import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, type TestContext } from "../harness.js";
import { createMissionAgentsService, type MembershipChange } from "../../src/agents/mission-agents.service.js";
import { SYSTEM } from "../harness.js";
import type { components } from "../../src/client/schema.js";

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t.close();
});

let n = 0;
async function mission() {
  const r = await t.json("POST", "/api/missions", { body: { mission_id: `ma-mission-${++n}`, goal: "g" } });
  expect(r.status).toBe(201);
  return r.body.data;
}
async function agent(body: Record<string, unknown> = {}) {
  const r = await t.json("POST", "/api/agents", { body: { agent_id: `ma-agent-${++n}`, ...body } });
  expect(r.status).toBe(201);
  return r.body.data;
}
async function members(missionKey: string) {
  const r = await t.json("GET", `/api/missions/${missionKey}/agents`, { query: { limit: "500" } });
  expect(r.status).toBe(200);
  return (r.body.data as components["schemas"]["Agent"][]).map((a) => a.agent_id);
}
async function missionTrace(missionKey: string) {
  const r = await t.json("GET", `/api/missions/${missionKey}/trace`, { query: { limit: "500" } });
  return (r.body.data as components["schemas"]["TraceEntry"][]).filter((e) => e.event.startsWith("mission.agent_"));
}

describe("add", () => {
  test("by integer id, bare body: 201, the agent in data, Location, trace entry", async () => {
    const m = await mission();
    const a = await agent({
      adapter_module: "webhook",
      config: { url: "https://agent.example/hook", secret: "sk-hidden-1" },
    });
    const r = await t.req("POST", `/api/missions/${m.mission_id}/agents`, { body: { agent_id: a.id } });
    expect(r.statusCode).toBe(201);
    expect(r.body).not.toContain("sk-hidden-1");
    const body = JSON.parse(r.body);
    expect(body.data).toEqual({ ...a, config: { url: "https://agent.example/hook", secret: "[REDACTED]" } });
    expect(r.headers.location).toBe(`/api/missions/${m.mission_id}/agents/${a.agent_id}`);
    expect(await members(m.mission_id)).toEqual([a.agent_id]);
    const trace = await missionTrace(m.mission_id);
    expect(trace).toHaveLength(1);
    expect(trace[0]).toMatchObject({
      event: "mission.agent_added",
      mission_id: m.mission_id,
      agent_id: a.agent_id,
      actor: "admin:test-admin",
      data: { agent_id: a.agent_id },
    });
  });

  test("by key, wrapped body, mission named by integer id", async () => {
    const m = await mission();
    const a = await agent();
    const r = await t.json("POST", `/api/missions/${m.id}/agents`, { body: { agent: { agent_id: a.agent_id } } });
    expect(r.status).toBe(201);
    expect(r.body.data.agent_id).toBe(a.agent_id);
    expect(await members(m.mission_id)).toEqual([a.agent_id]);
  });

  test("twice → 422, one membership, one trace entry", async () => {
    const m = await mission();
    const a = await agent();
    expect((await t.json("POST", `/api/missions/${m.id}/agents`, { body: { agent_id: a.id } })).status).toBe(201);
    const r = await t.json("POST", `/api/missions/${m.id}/agents`, { body: { agent_id: a.agent_id } });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors: { agent_id: ["is already on this mission"] } });
    expect(await members(m.mission_id)).toEqual([a.agent_id]);
    expect(await missionTrace(m.mission_id)).toHaveLength(1);
  });

  test("racing adds of the same agent: exactly one 201", async () => {
    const m = await mission();
    const a = await agent();
    const results = await Promise.all(
      Array.from({ length: 5 }, () => t.json("POST", `/api/missions/${m.id}/agents`, { body: { agent_id: a.id } })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 422, 422, 422, 422]);
    expect(await missionTrace(m.mission_id)).toHaveLength(1);
  });

  const bad: Array<[string, unknown, Record<string, string[]>]> = [
    ["missing agent_id", {}, { agent_id: ["is required"] }],
    ["unknown integer id", { agent_id: 987654 }, { agent_id: ["does not exist"] }],
    ["unknown key", { agent_id: "nobody" }, { agent_id: ["does not exist"] }],
    ["not a key", { agent_id: "bad key!" }, { agent_id: ["does not exist"] }],
    ["zero", { agent_id: 0 }, { agent_id: ["has an invalid type or value"] }],
    ["a float", { agent_id: 1.5 }, { agent_id: ["has an invalid type or value"] }],
    ["null", { agent_id: null }, { agent_id: ["has an invalid type or value"] }],
    ["unknown field", { agent_id: 1, role: "lead" }, { role: ["is not a known field"] }],
  ];
  test.each(bad)("%s → 422, nothing added", async (_name, body, errors) => {
    const m = await mission();
    const r = await t.json("POST", `/api/missions/${m.id}/agents`, { body });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
    expect(await members(m.mission_id)).toEqual([]);
  });

  test("unknown mission → 404", async () => {
    const a = await agent();
    for (const id of ["no-such-mission", "987654", "bad key!"]) {
      const r = await t.json("POST", `/api/missions/${encodeURIComponent(id)}/agents`, { body: { agent_id: a.id } });
      expect(r.status).toBe(404);
      expect(r.body).toEqual({ errors: { detail: "Not Found" } });
    }
  });
});

describe("list and get", () => {
  test("lists the mission's agents oldest first, paginated, with read-time status; nobody else's", async () => {
    const m = await mission();
    const other = await mission();
    const agents = [await agent(), await agent(), await agent()];
    for (const a of [agents[2], agents[0], agents[1]]) {
      await t.json("POST", `/api/missions/${m.id}/agents`, { body: { agent_id: a.id } });
    }
    const outsider = await agent();
    await t.json("POST", `/api/missions/${other.id}/agents`, { body: { agent_id: outsider.id } });
    await t.json("POST", `/api/agents/${agents[0].agent_id}/activity`, { body: { event: "blocked" } });

    const page1 = await t.json("GET", `/api/missions/${m.mission_id}/agents`, { query: { limit: "2" } });
    expect(page1.body.data.map((a: any) => a.agent_id)).toEqual([agents[0].agent_id, agents[1].agent_id]);
    expect(page1.body.data.map((a: any) => a.status)).toEqual(["blocked", "offline"]);
    const page2 = await t.json("GET", `/api/missions/${m.mission_id}/agents`, {
      query: { limit: "2", cursor: page1.body.meta.next_cursor },
    });
    expect(page2.body.data.map((a: any) => a.agent_id)).toEqual([agents[2].agent_id]);
    expect(page2.body.meta.next_cursor).toBeNull();
  });

  test("an empty mission lists nothing; an unknown one is 404; a bad query is 422", async () => {
    const m = await mission();
    expect(await members(m.mission_id)).toEqual([]);
    const r = await t.json("GET", "/api/missions/nope-nope/agents");
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ errors: { detail: "Not Found" } });
    const q = await t.json("GET", `/api/missions/${m.id}/agents`, { query: { limit: "x" } });
    expect(q.status).toBe(422);
    expect(q.body).toEqual({ errors: { limit: ["must be integer"] } });
  });

  test("get one: 200 when on the mission (by id or key), 404 when not", async () => {
    const m = await mission();
    const on = await agent();
    const off = await agent();
    await t.json("POST", `/api/missions/${m.id}/agents`, { body: { agent_id: on.id } });
    expect((await t.json("GET", `/api/missions/${m.mission_id}/agents/${on.agent_id}`)).body.data.id).toBe(on.id);
    expect((await t.json("GET", `/api/missions/${m.id}/agents/${on.id}`)).status).toBe(200);
    for (const url of [
      `/api/missions/${m.id}/agents/${off.id}`,
      `/api/missions/${m.id}/agents/ghost`,
      `/api/missions/ghost/agents/${on.id}`,
    ]) {
      const r = await t.json("GET", url);
      expect(r.status, url).toBe(404);
      expect(r.body).toEqual({ errors: { detail: "Not Found" } });
    }
  });
});

describe("remove", () => {
  test("204, gone from the list, traced; again → 404", async () => {
    const m = await mission();
    const a = await agent();
    const b = await agent();
    await t.json("POST", `/api/missions/${m.id}/agents`, { body: { agent_id: a.id } });
    await t.json("POST", `/api/missions/${m.id}/agents`, { body: { agent_id: b.id } });
    const r = await t.req("DELETE", `/api/missions/${m.mission_id}/agents/${a.agent_id}`);
    expect(r.statusCode).toBe(204);
    expect(r.body).toBe("");
    expect(await members(m.mission_id)).toEqual([b.agent_id]);
    const trace = await missionTrace(m.mission_id);
    expect(trace.map((e) => [e.event, e.agent_id, e.data])).toEqual([
      ["mission.agent_added", a.agent_id, { agent_id: a.agent_id }],
      ["mission.agent_added", b.agent_id, { agent_id: b.agent_id }],
      ["mission.agent_removed", a.agent_id, { agent_id: a.agent_id }],
    ]);
    const again = await t.json("DELETE", `/api/missions/${m.id}/agents/${a.id}`);
    expect(again.status).toBe(404);
    expect(again.body).toEqual({ errors: { detail: "Not Found" } });
    // It can be put back on.
    expect((await t.json("POST", `/api/missions/${m.id}/agents`, { body: { agent_id: a.id } })).status).toBe(201);
  });

  test.each([
    ["an agent that was never on it", "never"],
    ["an unknown agent", "ghost"],
    ["an unknown mission", "mission"],
  ])("%s → 404, nothing traced", async (_name, kind) => {
    const m = await mission();
    const a = await agent();
    const url =
      kind === "never"
        ? `/api/missions/${m.id}/agents/${a.id}`
        : kind === "ghost"
          ? `/api/missions/${m.id}/agents/ghost-agent`
          : `/api/missions/ghost-mission/agents/${a.id}`;
    const r = await t.json("DELETE", url);
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ errors: { detail: "Not Found" } });
    expect(await missionTrace(m.mission_id)).toEqual([]);
  });
});

describe("auth", () => {
  const routes: Array<[string, string, unknown?]> = [
    ["GET", "/api/missions/1/agents"],
    ["POST", "/api/missions/1/agents", { agent_id: 1 }],
    ["GET", "/api/missions/1/agents/1"],
    ["DELETE", "/api/missions/1/agents/1"],
  ];
  test.each(routes)("%s %s without a token → 401", async (method, url, body) => {
    const r = await t.json(method, url, { token: null, body });
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ errors: { detail: "Unauthorized" } });
  });

  test("members may add, list and remove", async () => {
    const m = await mission();
    const a = await agent();
    expect(
      (await t.json("POST", `/api/missions/${m.id}/agents`, { token: t.member, body: { agent_id: a.id } })).status,
    ).toBe(201);
    expect((await t.json("GET", `/api/missions/${m.id}/agents`, { token: t.member })).status).toBe(200);
    expect((await t.json("DELETE", `/api/missions/${m.id}/agents/${a.id}`, { token: t.member })).status).toBe(204);
    expect((await missionTrace(m.mission_id)).map((e) => e.actor)).toEqual([
      "member:test-member",
      "member:test-member",
    ]);
  });

  test("agent tokens may not manage or list mission agents, not even their own mission's", async () => {
    const m = await mission();
    const token = await t.agentToken("ma-token-agent");
    await t.json("POST", `/api/missions/${m.id}/agents`, { body: { agent_id: "ma-token-agent" } });
    const calls: Array<[string, string, unknown?]> = [
      ["GET", `/api/missions/${m.id}/agents`],
      ["GET", `/api/missions/${m.id}/agents/ma-token-agent`],
      ["POST", `/api/missions/${m.id}/agents`, { agent_id: "ma-token-agent" }],
      ["DELETE", `/api/missions/${m.id}/agents/ma-token-agent`],
    ];
    for (const [method, url, body] of calls) {
      const r = await t.json(method, url, { token, body });
      expect(r.status, `${method} ${url}`).toBe(403);
      expect(r.body).toEqual({ errors: { detail: "Forbidden" } });
    }
    expect(await members(m.mission_id)).toEqual(["ma-token-agent"]);
    // Being on the mission lets it read the mission itself.
    expect((await t.json("GET", `/api/missions/${m.id}`, { token })).status).toBe(200);
  });
});

describe("onMembershipChanged", () => {
  test("is called after commit for adds and removes, and not for failed ones", async () => {
    const calls: Array<[number, number, MembershipChange, boolean]> = [];
    const svc = createMissionAgentsService({
      database: t.database,
      async onMembershipChanged(missionId, agentId, change) {
        // Committed: visible from outside the service's transaction.
        const rows = await t.database.query("SELECT 1 FROM mission_agents WHERE mission_id = $1 AND agent_id = $2", [
          missionId,
          agentId,
        ]);
        calls.push([missionId, agentId, change, rows.length > 0]);
      },
    });
    const m = await mission();
    const a = await agent();
    await svc.add(m.mission_id, { agent_id: a.agent_id }, SYSTEM);
    await expect(svc.add(m.mission_id, { agent_id: a.id }, SYSTEM)).rejects.toThrow();
    await svc.remove(String(m.id), a.agent_id, SYSTEM);
    await expect(svc.remove(String(m.id), a.agent_id, SYSTEM)).rejects.toThrow();
    expect(calls).toEqual([
      [m.id, a.id, "added", true],
      [m.id, a.id, "removed", false],
    ]);
  });
});
