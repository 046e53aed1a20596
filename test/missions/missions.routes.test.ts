import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, type TestContext } from "../harness.js";

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t.close();
});

async function createMission(body: Record<string, unknown> = {}) {
  const r = await t.json("POST", "/api/missions", { body: { goal: "Build authentication module", ...body } });
  expect(r.status).toBe(201);
  return r.body.data;
}

async function traceOf(missionKey: string) {
  const r = await t.json("GET", `/api/missions/${missionKey}/trace`, { query: { limit: "500" } });
  expect(r.status).toBe(200);
  return r.body.data as Array<{ event: string; data: any; actor: string }>;
}

describe("create", () => {
  test("wrapped body as in the reference: 201, Location, envelope, trace entry", async () => {
    const r = await t.json("POST", "/api/missions", {
      body: { mission: { mission_id: "mission-001", goal: "Build authentication module", status: "planning" } },
    });
    expect(r.status).toBe(201);
    expect(r.headers.location).toBe("/api/missions/mission-001");
    expect(r.body.data).toMatchObject({
      mission_id: "mission-001",
      goal: "Build authentication module",
      status: "planning",
      description: null,
      metadata: {},
      runtime: { running: false, workers: [] },
    });
    expect(Number.isInteger(r.body.data.id)).toBe(true);
    expect(r.body.data.inserted_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const trace = await traceOf("mission-001");
    expect(trace.map((e) => e.event)).toEqual(["mission.created"]);
    expect(trace[0]!.actor).toBe("admin:test-admin");
    expect(trace[0]!.data).toMatchObject({ goal: "Build authentication module", status: "planning" });
  });

  test("bare body, key generated when omitted", async () => {
    const m = await createMission({ description: "d", metadata: { team: "core" } });
    expect(m.mission_id).toMatch(/^mission-[a-z2-7]{10}$/);
    expect(m.metadata).toEqual({ team: "core" });
    expect(m.description).toBe("d");
  });

  test("members may create", async () => {
    const r = await t.json("POST", "/api/missions", { token: t.member, body: { goal: "g" } });
    expect(r.status).toBe(201);
  });

  const bad: Array<[string, unknown, Record<string, string[]>]> = [
    ["missing goal", {}, { goal: ["is required"] }],
    ["empty goal", { goal: "" }, { goal: ["must NOT have fewer than 1 characters"] }],
    ["goal wrong type", { goal: 5 }, { goal: ["must be string"] }],
    ["unknown field", { goal: "g", colour: "red" }, { colour: ["is not a known field"] }],
    ["unknown field inside wrapper", { mission: { goal: "g", colour: "red" } }, { colour: ["is not a known field"] }],
    ["non-initial status", { goal: "g", status: "active" }, { status: ["must be one of: planning"] }],
    ["all-digit key", { goal: "g", mission_id: "123" }, { mission_id: ["has an invalid format"] }],
    ["key with a space", { goal: "g", mission_id: "a b" }, { mission_id: ["has an invalid format"] }],
    ["key too long", { goal: "g", mission_id: "k".repeat(129) }, { mission_id: ["has an invalid format"] }],
    ["metadata not an object", { goal: "g", metadata: [1] }, { metadata: ["must be object"] }],
    ["body is an array", [1, 2], { body: ["must be object"] }],
    [
      "__proto__ key",
      JSON.parse('{"goal":"g","metadata":{"__proto__":{"x":1}}}'),
      { "metadata.__proto__": ["is not an allowed key"] },
    ],
    ["constructor key", { goal: "g", constructor: 1 }, { constructor: ["is not an allowed key"] }],
  ];
  test.each(bad)("%s → 422 and nothing created", async (_name, body, errors) => {
    const before = (await t.json("GET", "/api/missions", { query: { limit: "500" } })).body.data.length;
    const r = await t.json("POST", "/api/missions", { body });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
    const after = (await t.json("GET", "/api/missions", { query: { limit: "500" } })).body.data.length;
    expect(after).toBe(before);
  });

  test("duplicate key → 422", async () => {
    await createMission({ mission_id: "dup-1" });
    const r = await t.json("POST", "/api/missions", { body: { goal: "again", mission_id: "dup-1" } });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors: { mission_id: ["has already been taken"] } });
  });

  test("malformed JSON → 400", async () => {
    const r = await t.json("POST", "/api/missions", { payload: '{"goal": ' });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ errors: { detail: "Malformed JSON in request body" } });
  });

  test("JSON nested deeper than 64 levels → 400; 64 is fine", async () => {
    const deep = (n: number) => {
      let v: unknown = 1;
      for (let i = 0; i < n; i++) v = { a: v };
      return v;
    };
    const ok = await t.json("POST", "/api/missions", { body: { goal: "g", metadata: deep(62) } });
    expect(ok.status).toBe(201);
    const r = await t.json("POST", "/api/missions", { body: { goal: "g", metadata: deep(64) } });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ errors: { detail: "JSON nested deeper than 64 levels" } });
  });

  test("wrong content type → 415", async () => {
    const r = await t.json("POST", "/api/missions", { payload: "goal=x", headers: { "content-type": "text/plain" } });
    expect(r.status).toBe(415);
    expect(r.body).toEqual({ errors: { detail: "Content-Type must be application/json" } });
  });

  test("body over the limit → 413", async () => {
    const r = await t.json("POST", "/api/missions", { body: { goal: "g", description: "x".repeat(1024 * 1024 + 10) } });
    expect(r.status).toBe(413);
    expect(r.body).toEqual({ errors: { detail: "Request body is larger than the server accepts" } });
  });
});

describe("get and list", () => {
  test("get by integer id and by key give the same mission", async () => {
    const m = await createMission();
    const byId = await t.json("GET", `/api/missions/${m.id}`);
    const byKey = await t.json("GET", `/api/missions/${m.mission_id}`);
    expect(byId.status).toBe(200);
    expect(byId.body).toEqual(byKey.body);
    expect(byId.body.data.mission_id).toBe(m.mission_id);
  });

  test.each(["999999", "no-such-mission", "bad key!", "0", "99999999999999999999"])("unknown %s → 404", async (id) => {
    const r = await t.json("GET", `/api/missions/${encodeURIComponent(id)}`);
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ errors: { detail: "Not Found" } });
  });

  test("pagination walks every mission once, oldest first", async () => {
    for (let i = 0; i < 7; i++) await createMission({ goal: `page-${i}` });
    const all = (await t.json("GET", "/api/missions", { query: { limit: "500" } })).body.data;
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const query: Record<string, string> = { limit: "3" };
      if (cursor) query.cursor = cursor;
      const r = await t.json("GET", "/api/missions", { query });
      expect(r.status).toBe(200);
      expect(r.body.data.length).toBeLessThanOrEqual(3);
      seen.push(...r.body.data.map((m: any) => m.id));
      cursor = r.body.meta.next_cursor;
    } while (cursor);
    expect(seen).toEqual(all.map((m: any) => m.id));
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
  });

  test("limit above 500 counts as 500; default is 50", async () => {
    const r = await t.json("GET", "/api/missions", { query: { limit: "100000" } });
    expect(r.status).toBe(200);
    const d = await t.json("GET", "/api/missions");
    expect(d.body.data.length).toBeLessThanOrEqual(50);
  });

  const badQueries: Array<[Record<string, string>, Record<string, string[]>]> = [
    [{ limit: "0" }, { limit: ["must be >= 1"] }],
    [{ limit: "-3" }, { limit: ["must be >= 1"] }],
    [{ limit: "abc" }, { limit: ["must be integer"] }],
    [{ limit: "1.5" }, { limit: ["must be integer"] }],
    [{ cursor: "garbage" }, { cursor: ["is not a valid cursor"] }],
    [{ cursor: Buffer.from("c1.x").toString("base64url") }, { cursor: ["is not a valid cursor"] }],
    [{ status: "sleeping" }, { status: ["must be one of: planning, active, paused, completed, failed, cancelled"] }],
  ];
  test.each(badQueries)("bad query %j → 422", async (query, errors) => {
    const r = await t.json("GET", "/api/missions", { query });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
  });

  test("status filter", async () => {
    const m = await createMission();
    await t.json("POST", `/api/missions/${m.mission_id}/start`);
    const r = await t.json("GET", "/api/missions", { query: { status: "active", limit: "500" } });
    expect(r.body.data.length).toBeGreaterThan(0);
    expect(r.body.data.every((x: any) => x.status === "active")).toBe(true);
    expect(r.body.data.map((x: any) => x.mission_id)).toContain(m.mission_id);
  });

  test("unknown query parameters are ignored", async () => {
    const r = await t.json("GET", "/api/missions", { query: { colour: "red" } });
    expect(r.status).toBe(200);
  });
});

describe("update", () => {
  test("changes only the named fields and traces them", async () => {
    const m = await createMission({ description: "keep", metadata: { a: 1 } });
    const r = await t.json("PATCH", `/api/missions/${m.id}`, { body: { mission: { goal: "New goal" } } });
    expect(r.status).toBe(200);
    expect(r.body.data).toMatchObject({
      goal: "New goal",
      description: "keep",
      metadata: { a: 1 },
      status: "planning",
    });
    const trace = await traceOf(m.mission_id);
    expect(trace.at(-1)).toMatchObject({ event: "mission.updated", data: { changes: { goal: "New goal" } } });
  });

  test("key cannot be changed; the same key is accepted", async () => {
    const m = await createMission();
    const r = await t.json("PATCH", `/api/missions/${m.mission_id}`, { body: { mission_id: "other" } });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors: { mission_id: ["cannot be changed"] } });
    const same = await t.json("PATCH", `/api/missions/${m.mission_id}`, { body: { mission_id: m.mission_id } });
    expect(same.status).toBe(200);
  });

  test("status through PATCH obeys the state machine; current status is a no-op", async () => {
    const m = await createMission();
    const noop = await t.json("PATCH", `/api/missions/${m.id}`, { body: { status: "planning" } });
    expect(noop.status).toBe(200);
    expect((await traceOf(m.mission_id)).length).toBe(1);
    const bad = await t.json("PATCH", `/api/missions/${m.id}`, { body: { status: "paused" } });
    expect(bad.status).toBe(422);
    expect(bad.body).toEqual({ errors: { status: ["cannot move from planning to paused"] } });
    const done = await t.json("PATCH", `/api/missions/${m.id}`, { body: { status: "cancelled" } });
    expect(done.status).toBe(200);
    expect(done.body.data.status).toBe("cancelled");
    const back = await t.json("PATCH", `/api/missions/${m.id}`, { body: { status: "active" } });
    expect(back.status).toBe(422);
    expect(back.body).toEqual({ errors: { status: ["cannot move from cancelled to active"] } });
  });

  test("a failed update changes nothing, not even the fields before the bad one", async () => {
    const m = await createMission({ goal: "orig" });
    const r = await t.json("PATCH", `/api/missions/${m.id}`, { body: { goal: "changed", status: "paused" } });
    expect(r.status).toBe(422);
    const g = await t.json("GET", `/api/missions/${m.id}`);
    expect(g.body.data.goal).toBe("orig");
    expect((await traceOf(m.mission_id)).map((e) => e.event)).toEqual(["mission.created"]);
  });

  test("unknown mission → 404; unknown field → 422", async () => {
    expect((await t.json("PATCH", "/api/missions/nope", { body: { goal: "x" } })).status).toBe(404);
    const m = await createMission();
    const r = await t.json("PATCH", `/api/missions/${m.id}`, { body: { inserted_at: "2020-01-01" } });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors: { inserted_at: ["is not a known field"] } });
  });
});

describe("start and pause", () => {
  test("planning → active → paused → active, each traced", async () => {
    const m = await createMission();
    const s = await t.json("POST", `/api/missions/${m.mission_id}/start`);
    expect(s.status).toBe(200);
    expect(s.body.data.status).toBe("active");
    const p = await t.json("POST", `/api/missions/${m.mission_id}/pause`);
    expect(p.body.data.status).toBe("paused");
    const s2 = await t.json("POST", `/api/missions/${m.id}/start`);
    expect(s2.body.data.status).toBe("active");
    const moves = (await traceOf(m.mission_id))
      .filter((e) => e.event === "mission.status_changed")
      .map((e) => [e.data.from, e.data.to]);
    expect(moves).toEqual([
      ["planning", "active"],
      ["active", "paused"],
      ["paused", "active"],
    ]);
  });

  test.each([
    ["start", "active", "cannot start a mission that is active"],
    ["pause", "planning", "cannot pause a mission that is planning"],
    ["pause", "paused", "cannot pause a mission that is paused"],
    ["start", "completed", "cannot start a mission that is completed"],
  ])("%s from %s → 422", async (action, from, message) => {
    const m = await createMission();
    const path = { planning: [], active: ["start"], paused: ["start", "pause"], completed: [] }[from] as string[];
    for (const a of path) await t.json("POST", `/api/missions/${m.id}/${a}`);
    if (from === "completed") await t.json("PATCH", `/api/missions/${m.id}`, { body: { status: "completed" } });
    const r = await t.json("POST", `/api/missions/${m.id}/${action}`);
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors: { status: [message] } });
  });

  test("unknown mission → 404", async () => {
    expect((await t.json("POST", "/api/missions/404-nope/start")).status).toBe(404);
  });

  test("two racing starts: exactly one wins", async () => {
    const m = await createMission();
    const results = await Promise.all(Array.from({ length: 6 }, () => t.json("POST", `/api/missions/${m.id}/start`)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 422)).toHaveLength(5);
    const moves = (await traceOf(m.mission_id)).filter((e) => e.event === "mission.status_changed");
    expect(moves).toHaveLength(1);
  });

  test("racing PATCH to two different terminal statuses: exactly one wins", async () => {
    const m = await createMission();
    const [a, b] = await Promise.all([
      t.json("PATCH", `/api/missions/${m.id}`, { body: { status: "completed" } }),
      t.json("PATCH", `/api/missions/${m.id}`, { body: { status: "cancelled" } }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 422]);
  });
});

describe("auth", () => {
  const routes: Array<[string, string, unknown?]> = [
    ["GET", "/api/missions"],
    ["POST", "/api/missions", { goal: "g" }],
    ["GET", "/api/missions/1"],
    ["PATCH", "/api/missions/1", { goal: "g" }],
    ["POST", "/api/missions/1/start"],
    ["POST", "/api/missions/1/pause"],
    ["GET", "/api/missions/1/trace"],
  ];

  test.each(routes)("%s %s without a token → 401 with WWW-Authenticate", async (method, url, body) => {
    const r = await t.json(method, url, { token: null, body });
    expect(r.status).toBe(401);
    expect(r.headers["www-authenticate"]).toBe("Bearer");
    expect(r.body).toEqual({ errors: { detail: "Unauthorized" } });
  });

  test.each(routes)("%s %s with an unknown token → 401", async (method, url, body) => {
    const r = await t.json(method, url, { token: "mc_not-a-real-token", body });
    expect(r.status).toBe(401);
  });

  test.each(routes)("%s %s with a malformed header → 401", async (method, url, body) => {
    const r = await t.json(method, url, { token: null, body, headers: { authorization: `Basic ${t.admin}` } });
    expect(r.status).toBe(401);
  });

  test("an agent token may not list, create, update, start or pause missions", async () => {
    const agent = await t.agentToken("agent-x");
    for (const [method, url, body] of routes.filter(([, u]) => u !== "/api/missions/1")) {
      const r = await t.json(method, url, { token: agent, body });
      expect(r.status, `${method} ${url}`).toBe(403);
      expect(r.body).toEqual({ errors: { detail: "Forbidden" } });
    }
  });

  test("an agent reads a mission only when it is on it", async () => {
    const agent = await t.agentToken("agent-y");
    const m = await createMission();
    const r = await t.json("GET", `/api/missions/${m.id}`, { token: agent });
    expect(r.status).toBe(403);
  });

  test("a revoked token stops working", async () => {
    const created = await t.json("POST", "/api/tokens", { body: { role: "member", name: "short-lived" } });
    const secret = created.body.data.token;
    expect((await t.json("GET", "/api/missions", { token: secret })).status).toBe(200);
    expect((await t.json("DELETE", `/api/tokens/${created.body.data.id}`)).status).toBe(204);
    expect((await t.json("GET", "/api/missions", { token: secret })).status).toBe(401);
  });
});

describe("contract machinery", () => {
  test("x-request-id is on every response, echoed when given", async () => {
    const r = await t.req("GET", "/api/missions", { headers: { "x-request-id": "abc-123" } });
    expect(r.headers["x-request-id"]).toBe("abc-123");
    const r2 = await t.req("GET", "/api/missions/nope");
    expect(r2.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    const r3 = await t.req("GET", "/healthz", { token: null });
    expect(r3.headers["x-request-id"]).toBeTruthy();
  });

  test("unknown routes → 404 in the error shape", async () => {
    const r = await t.json("GET", "/api/nothing-here");
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ errors: { detail: "Not Found" } });
  });

  test("health, readiness, OpenAPI and docs are public", async () => {
    expect((await t.json("GET", "/healthz", { token: null })).body).toEqual({ status: "ok" });
    expect((await t.json("GET", "/readyz", { token: null })).body).toEqual({
      status: "ready",
      database: true,
      migrations: true,
    });
    const doc = await t.json("GET", "/openapi.json", { token: null });
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe("3.1.0");
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(["/api/missions", "/api/missions/{id}/start"]));
    expect(doc.body.paths["/api/missions"].post.summary).toBe("Create mission");
    const docs = await t.req("GET", "/docs/", { token: null });
    expect(docs.statusCode).toBe(200);
  });
});
