import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, type TestContext } from "../harness.js";

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t.close();
});

describe("POST /api/tokens", () => {
  test("creates a member token; the secret is shown once and works", async () => {
    const r = await t.json("POST", "/api/tokens", { body: { role: "member", name: "alice" } });
    expect(r.status).toBe(201);
    expect(r.headers.location).toBe(`/api/tokens/${r.body.data.id}`);
    expect(r.body.data).toEqual({
      id: expect.any(Number),
      role: "member",
      agent_id: null,
      name: "alice",
      token: expect.any(String),
    });
    const secret: string = r.body.data.token;
    expect(secret).toMatch(/^mc_[A-Za-z0-9_-]{43}$/); // 32 random bytes
    expect((await t.json("GET", "/api/missions", { token: secret })).status).toBe(200);
    const list = await t.json("GET", "/api/tokens");
    expect(JSON.stringify(list.body)).not.toContain(secret);
    const entry = list.body.data.find((x: any) => x.id === r.body.data.id);
    expect(entry).toMatchObject({ role: "member", name: "alice", agent_id: null });
    expect(entry.token).toBeUndefined();
    expect(entry.token_hash).toBeUndefined();
  });

  test("the secret is stored only as a hash", async () => {
    const r = await t.json("POST", "/api/tokens", { body: { role: "admin" } });
    const rows = await t.database.query<{ token_hash: string }>("SELECT token_hash FROM api_tokens WHERE id = $1", [
      r.body.data.id,
    ]);
    expect(rows[0]!.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[0]!.token_hash).not.toContain(r.body.data.token);
    const trace = await t.json("GET", "/api/trace", { query: { event: "token.created", limit: "500" } });
    expect(JSON.stringify(trace.body)).not.toContain(r.body.data.token);
  });

  test("agent tokens are bound to an agent named by key or id", async () => {
    await t.agentToken("bound-agent");
    const r = await t.json("POST", "/api/tokens", { body: { role: "agent", agent_id: "bound-agent" } });
    expect(r.status).toBe(201);
    expect(r.body.data.agent_id).toBe("bound-agent");
    const id = (await t.database.query<{ id: number }>("SELECT id FROM agents WHERE agent_id = 'bound-agent'"))[0]!.id;
    const r2 = await t.json("POST", "/api/tokens", { body: { token: { role: "agent", agent_id: id } } });
    expect(r2.status).toBe(201);
    expect(r2.body.data.agent_id).toBe("bound-agent");
  });

  const bad: Array<[string, unknown, Record<string, string[]>]> = [
    ["no role", {}, { role: ["is required"] }],
    ["unknown role", { role: "root" }, { role: ["must be one of: admin, member, agent"] }],
    ["agent without agent_id", { role: "agent" }, { agent_id: ["is required for agent tokens"] }],
    [
      "agent_id on a member token",
      { role: "member", agent_id: "x-agent" },
      { agent_id: ["is only allowed for agent tokens"] },
    ],
    ["unknown agent", { role: "agent", agent_id: "ghost" }, { agent_id: ["does not exist"] }],
    ["unknown field", { role: "admin", scopes: [] }, { scopes: ["is not a known field"] }],
    ["empty name", { role: "admin", name: "" }, { name: ["must NOT have fewer than 1 characters"] }],
  ];
  test.each(bad)("%s → 422", async (_n, body, errors) => {
    const before = (await t.json("GET", "/api/tokens", { query: { limit: "500" } })).body.data.length;
    const r = await t.json("POST", "/api/tokens", { body });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
    expect((await t.json("GET", "/api/tokens", { query: { limit: "500" } })).body.data.length).toBe(before);
  });
});

describe("DELETE /api/tokens/:id", () => {
  test("revokes: 204, gone from the list, traced; twice → 404", async () => {
    const r = await t.json("POST", "/api/tokens", { body: { role: "member", name: "bob" } });
    const del = await t.req("DELETE", `/api/tokens/${r.body.data.id}`);
    expect(del.statusCode).toBe(204);
    expect(del.body).toBe("");
    const list = await t.json("GET", "/api/tokens", { query: { limit: "500" } });
    expect(list.body.data.map((x: any) => x.id)).not.toContain(r.body.data.id);
    expect((await t.json("GET", "/api/missions", { token: r.body.data.token })).status).toBe(401);
    const trace = await t.json("GET", "/api/trace", { query: { event: "token.revoked" } });
    expect(trace.body.data.at(-1).data).toMatchObject({ token_id: r.body.data.id, name: "bob" });
    expect((await t.json("DELETE", `/api/tokens/${r.body.data.id}`)).status).toBe(404);
  });

  test.each(["999999", "abc"])("unknown %s → 404", async (id) => {
    const r = await t.json("DELETE", `/api/tokens/${id}`);
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ errors: { detail: "Not Found" } });
  });
});

describe("token management is admin only", () => {
  const routes: Array<[string, string, unknown?]> = [
    ["GET", "/api/tokens"],
    ["POST", "/api/tokens", { role: "member" }],
    ["DELETE", "/api/tokens/1"],
  ];
  test.each(routes)("%s %s: no token 401, member 403, agent 403", async (method, url, body) => {
    expect((await t.json(method, url, { token: null, body })).status).toBe(401);
    const m = await t.json(method, url, { token: t.member, body });
    expect(m.status).toBe(403);
    expect(m.body).toEqual({ errors: { detail: "Forbidden" } });
    const a = await t.json(method, url, { token: await t.agentToken("tok-agent"), body });
    expect(a.status).toBe(403);
  });
});

describe("MC_ADMIN_TOKEN", () => {
  test("is accepted as an admin token", async () => {
    const c = await (await import("../harness.js")).createTestContext({ MC_ADMIN_TOKEN: "env-admin-secret-123456" });
    try {
      const r = await c.json("POST", "/api/tokens", { token: "env-admin-secret-123456", body: { role: "member" } });
      expect(r.status).toBe(201);
      expect((await c.json("GET", "/api/tokens", { token: "env-admin-secret-123456x" })).status).toBe(401);
    } finally {
      await c.close();
    }
  });
});
