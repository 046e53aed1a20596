import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, type TestContext } from "../harness.js";

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t.close();
});

async function createAgent(body: Record<string, unknown> = {}) {
  const r = await t.json("POST", "/api/agents", { body: { name: "Agent", ...body } });
  expect(r.status).toBe(201);
  return r.body.data;
}

async function traceOf(agentKey: string) {
  const r = await t.json("GET", "/api/trace", { query: { agent_id: agentKey, limit: "500" } });
  expect(r.status).toBe(200);
  return r.body.data as Array<{ event: string; data: any; actor: string; agent_id: string }>;
}

async function countAgents() {
  return (await t.database.query<{ n: number }>("SELECT count(*)::int AS n FROM agents"))[0]!.n;
}

// A config valid for its adapter (src/runtime/agent-config.ts) with secrets under env; redaction at every depth
// (arrays, objects under secret keys) is covered by secrets.test.ts, as configs take no such shapes today.
const SECRET_CONFIG = {
  command: ["run-agent", "--model", "opus"],
  env: {
    OPENAI_API_KEY: "sk-live-111",
    GH_TOKEN: "tok-222",
    DB_PASSWORD: "pw-333",
    CLIENT_SECRET: "cs-444",
    AUTH_TOKEN: "tok-555",
    KEYRING: "kr-666",
    REGION: "eu",
  },
  timeout_s: 600,
};
const SECRET_AGENT = { adapter_module: "command", config: SECRET_CONFIG };
const SECRET_VALUES = ["sk-live-111", "tok-222", "pw-333", "cs-444", "tok-555", "kr-666", "whsec-777"];
const REDACTED_VIEW = {
  command: ["run-agent", "--model", "opus"],
  env: {
    OPENAI_API_KEY: "[REDACTED]",
    GH_TOKEN: "[REDACTED]",
    DB_PASSWORD: "[REDACTED]",
    CLIENT_SECRET: "[REDACTED]",
    AUTH_TOKEN: "[REDACTED]",
    KEYRING: "[REDACTED]",
    REGION: "eu",
  },
  timeout_s: 600,
};

function expectNoSecrets(text: string) {
  for (const s of SECRET_VALUES) expect(text).not.toContain(s);
}

describe("create", () => {
  test("wrapped body as in the reference: 201, Location, every field, trace entry", async () => {
    const r = await t.json("POST", "/api/agents", {
      body: {
        agent: {
          agent_id: "claude-code-1",
          name: "Claude Code Agent",
          adapter_module: "claude_code",
          capabilities: ["coding", "testing"],
        },
      },
    });
    expect(r.status).toBe(201);
    expect(r.headers.location).toBe("/api/agents/claude-code-1");
    expect(r.body.data).toEqual({
      id: expect.any(Number),
      agent_id: "claude-code-1",
      name: "Claude Code Agent",
      adapter_module: "claude_code",
      capabilities: ["coding", "testing"],
      config: {},
      // Exactly in agent-config.test.ts: here `claude` is on PATH or not, depending on how the tests run.
      warnings: expect.any(Array),
      status: "offline",
      status_reason: "never heard from",
      status_since: null,
      current_task_id: null,
      last_seen_at: null,
      last_event: null,
      run: null,
      inserted_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      updated_at: expect.stringMatching(/Z$/),
    });
    const trace = await traceOf("claude-code-1");
    expect(trace.map((e) => e.event)).toEqual(["agent.created"]);
    expect(trace[0]!.actor).toBe("admin:test-admin");
    expect(trace[0]!.data).toEqual({
      name: "Claude Code Agent",
      adapter_module: "claude_code",
      capabilities: ["coding", "testing"],
    });
  });

  test("bare body; key, name and adapter defaulted; duplicate capabilities dropped", async () => {
    const r = await t.json("POST", "/api/agents", { token: t.member, body: { capabilities: ["a", "b", "a"] } });
    expect(r.status).toBe(201);
    expect(r.body.data.agent_id).toMatch(/^agent-[a-z2-7]{10}$/);
    expect(r.body.data.name).toBe(r.body.data.agent_id);
    expect(r.body.data.adapter_module).toBe("manual");
    expect(r.body.data.capabilities).toEqual(["a", "b"]);
  });

  test("secrets in config are stored but never returned, nor traced", async () => {
    const r = await t.req("POST", "/api/agents", { body: { agent_id: "secretive", ...SECRET_AGENT } });
    expect(r.statusCode).toBe(201);
    expectNoSecrets(r.body);
    expect(JSON.parse(r.body).data.config).toEqual(REDACTED_VIEW);
    const stored = await t.database.query<{ config: any }>("SELECT config FROM agents WHERE agent_id = 'secretive'");
    expect(stored[0]!.config).toEqual(SECRET_CONFIG);
    const trace = await t.req("GET", "/api/trace", { query: { agent_id: "secretive" } });
    expectNoSecrets(trace.body);
    // A secret at the top level of a config.
    const hook = await t.req("POST", "/api/agents", {
      body: {
        agent_id: "secretive-hook",
        adapter_module: "webhook",
        config: { url: "https://agent.example/hook", secret: "whsec-777" },
      },
    });
    expect(hook.statusCode).toBe(201);
    expectNoSecrets(hook.body);
    expect(JSON.parse(hook.body).data.config).toEqual({ url: "https://agent.example/hook", secret: "[REDACTED]" });
  });

  const bad: Array<[string, unknown, Record<string, string[]>]> = [
    ["unknown field", { colour: "red" }, { colour: ["is not a known field"] }],
    ["unknown field inside wrapper", { agent: { name: "n", colour: "red" } }, { colour: ["is not a known field"] }],
    ["status is read-only", { status: "idle" }, { status: ["is read-only; it is set by activity reports"] }],
    [
      "all read-only fields named",
      { current_task_id: "t", last_seen_at: "2026-01-01T00:00:00Z" },
      {
        current_task_id: ["is read-only; it is set by activity reports"],
        last_seen_at: ["is read-only; it is set by activity reports"],
      },
    ],
    ["all-digit key", { agent_id: "42" }, { agent_id: ["has an invalid format"] }],
    ["key with a slash", { agent_id: "a/b" }, { agent_id: ["has an invalid format"] }],
    ["empty name", { name: "" }, { name: ["has an invalid type or value"] }],
    ["capabilities not a list", { capabilities: "coding" }, { capabilities: ["must be array"] }],
    ["capability not a string", { capabilities: ["ok", 3] }, { "capabilities.1": ["must be string"] }],
    ["config not an object", { config: [1] }, { config: ["must be object"] }],
    [
      "adapter with a space",
      { adapter_module: "claude code" },
      { adapter_module: ["must be one of: manual, command, webhook, claude_code, codex, gemini_cli"] },
    ],
    [
      "__proto__ in config",
      JSON.parse('{"config":{"__proto__":{"x":1}}}'),
      { "config.__proto__": ["is not an allowed key"] },
    ],
  ];
  test.each(bad)("%s → 422 and nothing created", async (_name, body, errors) => {
    const before = await countAgents();
    const r = await t.json("POST", "/api/agents", { body });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
    expect(await countAgents()).toBe(before);
  });

  test("duplicate key → 422, nothing traced", async () => {
    await createAgent({ agent_id: "dup-agent" });
    const r = await t.json("POST", "/api/agents", { body: { agent_id: "dup-agent", name: "again" } });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors: { agent_id: ["has already been taken"] } });
    expect((await traceOf("dup-agent")).map((e) => e.event)).toEqual(["agent.created"]);
  });
});

describe("get and list", () => {
  test("get by integer id and by key give the same agent", async () => {
    const a = await createAgent({ agent_id: "get-me", ...SECRET_AGENT });
    const byId = await t.req("GET", `/api/agents/${a.id}`);
    const byKey = await t.req("GET", "/api/agents/get-me");
    expect(byId.statusCode).toBe(200);
    expect(byId.body).toBe(byKey.body);
    expectNoSecrets(byId.body);
    expect(JSON.parse(byId.body).data.config).toEqual(REDACTED_VIEW);
  });

  test.each(["999999", "no-such-agent", "bad key!", "0", "99999999999999999999"])("unknown %s → 404", async (id) => {
    const r = await t.json("GET", `/api/agents/${encodeURIComponent(id)}`);
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ errors: { detail: "Not Found" } });
  });

  test("list: never a secret, oldest first, paginates every agent once", async () => {
    await createAgent({ ...SECRET_AGENT });
    for (let i = 0; i < 4; i++) await createAgent();
    const all = await t.req("GET", "/api/agents", { query: { limit: "500" } });
    expect(all.statusCode).toBe(200);
    expectNoSecrets(all.body);
    const ids = JSON.parse(all.body).data.map((a: any) => a.id);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const query: Record<string, string> = { limit: "2" };
      if (cursor) query.cursor = cursor;
      const r = await t.json("GET", "/api/agents", { query });
      expect(r.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...r.body.data.map((a: any) => a.id));
      cursor = r.body.meta.next_cursor;
    } while (cursor);
    expect(seen).toEqual(ids);
  });

  test("filters: adapter_module and capability", async () => {
    await createAgent({ agent_id: "filter-a", adapter_module: "codex", capabilities: ["rust", "go"] });
    await createAgent({ agent_id: "filter-b", adapter_module: "codex", capabilities: ["go"] });
    const byAdapter = await t.json("GET", "/api/agents", { query: { adapter_module: "codex" } });
    expect(byAdapter.body.data.map((a: any) => a.agent_id)).toEqual(["filter-a", "filter-b"]);
    const byCap = await t.json("GET", "/api/agents", { query: { capability: "rust" } });
    expect(byCap.body.data.map((a: any) => a.agent_id)).toEqual(["filter-a"]);
    const quote = await t.json("GET", "/api/agents", { query: { capability: 'x"]' } });
    expect(quote.status).toBe(200);
    expect(quote.body.data).toEqual([]);
  });

  const badQueries: Array<[Record<string, string>, Record<string, string[]>]> = [
    [{ status: "sleeping" }, { status: ["must be one of: idle, working, blocked, waiting_for_input, error, offline"] }],
    [{ limit: "0" }, { limit: ["must be >= 1"] }],
    [{ cursor: "nope" }, { cursor: ["is not a valid cursor"] }],
  ];
  test.each(badQueries)("bad query %j → 422", async (query, errors) => {
    const r = await t.json("GET", "/api/agents", { query });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
  });
});

describe("update", () => {
  test("changes only the fields named; trace records the changes with secrets redacted", async () => {
    const a = await createAgent({
      agent_id: "upd-1",
      capabilities: ["x"],
      adapter_module: "command",
      config: { command: ["a"] },
    });
    const r = await t.req("PATCH", "/api/agents/upd-1", {
      body: { agent: { name: "Renamed", config: { command: ["b"], env: { API_KEY: "sk-live-111" } } } },
    });
    expect(r.statusCode).toBe(200);
    expectNoSecrets(r.body);
    const data = JSON.parse(r.body).data;
    expect(data).toMatchObject({
      id: a.id,
      name: "Renamed",
      adapter_module: "command",
      capabilities: ["x"],
      config: { command: ["b"], env: { API_KEY: "[REDACTED]" } },
    });
    expect(new Date(data.updated_at).getTime()).toBeGreaterThanOrEqual(new Date(a.updated_at).getTime());
    const trace = await traceOf("upd-1");
    expect(trace.map((e) => e.event)).toEqual(["agent.created", "agent.updated"]);
    expect(trace[1]!.data).toEqual({
      changes: { name: "Renamed", config: { command: ["b"], env: { API_KEY: "[REDACTED]" } } },
    });
  });

  test("sending [REDACTED] back keeps the stored secret; a new value replaces it", async () => {
    await createAgent({ agent_id: "upd-2", ...SECRET_AGENT });
    const read = (await t.json("GET", "/api/agents/upd-2")).body.data;
    const roundTrip = await t.json("PATCH", "/api/agents/upd-2", {
      body: { config: { ...read.config, timeout_s: 900 } },
    });
    expect(roundTrip.status).toBe(200);
    const stored = async () =>
      (await t.database.query<{ config: any }>("SELECT config FROM agents WHERE agent_id = 'upd-2'"))[0]!.config;
    expect(await stored()).toEqual({ ...SECRET_CONFIG, timeout_s: 900 });
    const next = {
      command: ["run-agent"],
      env: { OPENAI_API_KEY: "sk-new", GH_TOKEN: "[REDACTED]", FRESH_TOKEN: "[REDACTED]" },
    };
    expect((await t.json("PATCH", "/api/agents/upd-2", { body: { config: next } })).status).toBe(200);
    // A marker where nothing was stored is not saved as a secret.
    expect(await stored()).toEqual({ command: ["run-agent"], env: { OPENAI_API_KEY: "sk-new", GH_TOKEN: "tok-222" } });
  });

  test("a PATCH that changes nothing writes no trace entry", async () => {
    await createAgent({
      agent_id: "upd-3",
      capabilities: ["a"],
      adapter_module: "command",
      config: { command: ["m"], env: { K: "1", M: "2" } },
    });
    const r = await t.json("PATCH", "/api/agents/upd-3", {
      body: {
        agent_id: "upd-3",
        name: "Agent",
        capabilities: ["a"],
        adapter_module: "command",
        config: { env: { M: "2", K: "1" }, command: ["m"] },
      },
    });
    expect(r.status).toBe(200);
    expect((await traceOf("upd-3")).map((e) => e.event)).toEqual(["agent.created"]);
  });

  const bad: Array<[string, unknown, Record<string, string[]>]> = [
    ["changing the key", { agent_id: "other" }, { agent_id: ["cannot be changed"] }],
    ["status is read-only", { status: "working" }, { status: ["is read-only; it is set by activity reports"] }],
    ["unknown field", { colour: "red" }, { colour: ["is not a known field"] }],
    ["capabilities wrong type", { capabilities: {} }, { capabilities: ["must be array"] }],
    ["config wrong type", { config: "x" }, { config: ["must be object"] }],
  ];
  test.each(bad)("%s → 422 and nothing changes", async (_name, body, errors) => {
    const a = await createAgent({ capabilities: ["keep"] });
    const r = await t.json("PATCH", `/api/agents/${a.id}`, { body });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
    expect((await t.json("GET", `/api/agents/${a.id}`)).body.data).toEqual(a);
  });

  test("unknown agent → 404", async () => {
    const r = await t.json("PATCH", "/api/agents/nobody-here", { body: { name: "x" } });
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ errors: { detail: "Not Found" } });
  });
});

describe("auth", () => {
  const routes: Array<[string, string, unknown?]> = [
    ["GET", "/api/agents"],
    ["POST", "/api/agents", { name: "n" }],
    ["GET", "/api/agents/1"],
    ["PATCH", "/api/agents/1", { name: "n" }],
    ["POST", "/api/agents/1/activity", { event: "heartbeat" }],
  ];

  test.each(routes)("%s %s without a token → 401", async (method, url, body) => {
    const r = await t.json(method, url, { token: null, body });
    expect(r.status).toBe(401);
    expect(r.headers["www-authenticate"]).toBe("Bearer");
    expect(r.body).toEqual({ errors: { detail: "Unauthorized" } });
  });

  test.each(routes)("%s %s with an unknown token → 401", async (method, url, body) => {
    expect((await t.json(method, url, { token: "mc_nope", body })).status).toBe(401);
  });

  test("members may list, create, read and update", async () => {
    const m = t.member;
    expect((await t.json("GET", "/api/agents", { token: m })).status).toBe(200);
    const c = await t.json("POST", "/api/agents", { token: m, body: { agent_id: "by-member" } });
    expect(c.status).toBe(201);
    expect((await t.json("GET", "/api/agents/by-member", { token: m })).status).toBe(200);
    expect((await t.json("PATCH", "/api/agents/by-member", { token: m, body: { name: "x" } })).status).toBe(200);
    const trace = await traceOf("by-member");
    expect(trace.map((e) => e.actor)).toEqual(["member:test-member", "member:test-member"]);
  });

  test("an agent token reads its own agent (by id or key) and nothing else on agents", async () => {
    const token = await t.agentToken("tok-agent");
    const own = (await t.json("GET", "/api/agents/tok-agent")).body.data;
    expect((await t.json("PATCH", "/api/agents/tok-agent", { body: SECRET_AGENT })).status).toBe(200);
    const byKey = await t.req("GET", "/api/agents/tok-agent", { token });
    expect(byKey.statusCode).toBe(200);
    expectNoSecrets(byKey.body);
    expect((await t.json("GET", `/api/agents/${own.id}`, { token })).status).toBe(200);

    const other = await createAgent({ agent_id: "someone-else" });
    const forbidden: Array<[string, string, unknown?]> = [
      ["GET", "/api/agents"],
      ["POST", "/api/agents", { name: "n" }],
      ["GET", "/api/agents/someone-else"],
      ["GET", `/api/agents/${other.id}`],
      ["GET", "/api/agents/does-not-exist"],
      ["PATCH", "/api/agents/tok-agent", { name: "mine" }],
      ["PATCH", "/api/agents/someone-else", { name: "n" }],
    ];
    for (const [method, url, body] of forbidden) {
      const r = await t.json(method, url, { token, body });
      expect(r.status, `${method} ${url}`).toBe(403);
      expect(r.body).toEqual({ errors: { detail: "Forbidden" } });
    }
    expect((await t.json("GET", "/api/agents/someone-else")).body.data.name).toBe("Agent");
  });
});

test("the routes are in the OpenAPI description", async () => {
  const doc = await t.json("GET", "/openapi.json", { token: null });
  expect(Object.keys(doc.body.paths)).toEqual(
    expect.arrayContaining(["/api/agents", "/api/agents/{id}", "/api/agents/{agent_id}/activity"]),
  );
  expect(doc.body.paths["/api/agents"].post.summary).toBe("Create agent");
});
