import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, type TestContext } from "../harness.js";

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t.close();
});

const REFERENCE = {
  policy: {
    policy_id: "no-force-push",
    description: "Prevent force pushing to protected branches",
    scope: "global",
    conditions: { action_type: "git_push", force: true },
    actions: [{ block: "Force push not allowed" }],
  },
};

let seq = 0;
async function createPolicy(body: Record<string, unknown> = {}) {
  const r = await t.json("POST", "/api/policies", {
    body: { policy_id: `p-${++seq}`, conditions: { action_type: "shell" }, actions: [{ warn: "shell" }], ...body },
  });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.data;
}

async function createMission(key: string) {
  const r = await t.json("POST", "/api/missions", { body: { mission_id: key, goal: "g" } });
  expect(r.status).toBe(201);
  return r.body.data;
}

async function traceOf(query: Record<string, string>) {
  const r = await t.json("GET", "/api/trace", { query: { limit: "500", ...query } });
  expect(r.status).toBe(200);
  return r.body.data as Array<{
    id: number;
    event: string;
    data: any;
    actor: string;
    mission_id: string | null;
    agent_id: string | null;
  }>;
}

async function policyCount() {
  return (await t.json("GET", "/api/policies", { query: { limit: "500" } })).body.data.length as number;
}

describe("create", () => {
  test("the reference's exact body: 201, Location, defaults, version 1, trace entry", async () => {
    const r = await t.json("POST", "/api/policies", { body: REFERENCE });
    expect(r.status).toBe(201);
    expect(r.headers.location).toBe("/api/policies/no-force-push");
    expect(r.body.data).toEqual({
      id: expect.any(Number),
      policy_id: "no-force-push",
      description: "Prevent force pushing to protected branches",
      scope: "global",
      conditions: { action_type: "git_push", force: true },
      actions: [{ block: "Force push not allowed" }],
      enabled: true,
      mode: "enforce",
      version: 1,
      inserted_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      updated_at: expect.any(String),
    });
    const trace = await traceOf({ event: "policy.created" });
    expect(trace.at(-1)).toMatchObject({
      actor: "admin:test-admin",
      data: {
        policy_id: "no-force-push",
        description: "Prevent force pushing to protected branches",
        scope: "global",
        conditions: { action_type: "git_push", force: true },
        actions: [{ block: "Force push not allowed" }],
        enabled: true,
        mode: "enforce",
        version: 1,
      },
    });
  });

  test("bare body, generated key, dry_run and disabled, members may create", async () => {
    const r = await t.json("POST", "/api/policies", {
      token: t.member,
      body: {
        conditions: { "tool.name": { $in: ["Bash"] } },
        actions: [{ warn: "w" }],
        mode: "dry_run",
        enabled: false,
      },
    });
    expect(r.status).toBe(201);
    expect(r.body.data).toMatchObject({
      mode: "dry_run",
      enabled: false,
      scope: "global",
      description: null,
      version: 1,
    });
    expect(r.body.data.policy_id).toMatch(/^policy-[a-z2-7]{10}$/);
  });

  test("scopes: mission and agent ids are stored as keys; an agent key need not exist yet", async () => {
    const m = await createMission("scope-mission");
    const byId = await createPolicy({ scope: `mission:${m.id}` });
    expect(byId.scope).toBe("mission:scope-mission");
    const byKey = await createPolicy({ scope: "mission:scope-mission" });
    expect(byKey.scope).toBe("mission:scope-mission");
    await t.agentToken("scope-agent");
    const agents = await t.database.query<{ id: number }>("SELECT id FROM agents WHERE agent_id = 'scope-agent'");
    expect((await createPolicy({ scope: `agent:${agents[0]!.id}` })).scope).toBe("agent:scope-agent");
    expect((await createPolicy({ scope: "agent:not-registered-yet" })).scope).toBe("agent:not-registered-yet");
    // A mission-scoped policy's history shows in the mission's trace.
    const mt = await t.json("GET", "/api/missions/scope-mission/trace", { query: { limit: "500" } });
    expect(mt.body.data.filter((e: any) => e.event === "policy.created").map((e: any) => e.data.policy_id)).toEqual([
      byId.policy_id,
      byKey.policy_id,
    ]);
  });

  const bad: Array<[string, unknown, Record<string, string[]>]> = [
    ["missing conditions", { actions: [{ block: "x" }] }, { conditions: ["is required"] }],
    ["missing actions", { conditions: {} }, { actions: ["is required"] }],
    [
      "unknown field",
      { conditions: {}, actions: [{ block: "x" }], colour: "red" },
      { colour: ["is not a known field"] },
    ],
    [
      "unknown field inside the wrapper",
      { policy: { conditions: {}, actions: [{ block: "x" }], colour: "red" } },
      { colour: ["is not a known field"] },
    ],
    ["conditions not an object", { conditions: [1], actions: [{ block: "x" }] }, { conditions: ["must be object"] }],
    ["actions not a list", { conditions: {}, actions: { block: "x" } }, { actions: ["must be array"] }],
    ["action not an object", { conditions: {}, actions: ["block"] }, { "actions.0": ["must be object"] }],
    ["empty actions", { conditions: {}, actions: [] }, { actions: ["must have at least one action"] }],
    [
      "unknown action",
      { conditions: {}, actions: [{ explode: "boom" }] },
      { "actions.0.explode": ["is not a known action; use block, require_approval or warn"] },
    ],
    [
      "action with two keys",
      { conditions: {}, actions: [{ block: "a", warn: "b" }] },
      { "actions.0": ["must have exactly one key: block, require_approval or warn"] },
    ],
    [
      "empty message",
      { conditions: {}, actions: [{ block: "" }] },
      { "actions.0.block": ["must be a non-empty message"] },
    ],
    [
      "unknown operator",
      { conditions: { branch: { $foo: 1 } }, actions: [{ block: "x" }] },
      { "conditions.branch.$foo": ["is not a known operator"] },
    ],
    [
      "malformed regex",
      { conditions: { branch: { $regex: "([" } }, actions: [{ block: "x" }] },
      {
        "conditions.branch.$regex": [
          "is not a valid regular expression in RE2 syntax: error parsing regexp: missing closing ]: `[`",
        ],
      },
    ],
    [
      "backreference (ReDoS-prone syntax)",
      { conditions: { branch: { $regex: "(a+)\\1" } }, actions: [{ block: "x" }] },
      {
        "conditions.branch.$regex": [
          "is not a valid regular expression in RE2 syntax: error parsing regexp: invalid escape sequence: `\\1`",
        ],
      },
    ],
    [
      "problems in conditions and actions together",
      { conditions: { $any: [{ a: { $exists: "yes" } }] }, actions: [{ nope: "x" }], scope: "planet:earth" },
      {
        "conditions.$any.0.a.$exists": ["must be true or false"],
        "actions.0.nope": ["is not a known action; use block, require_approval or warn"],
        scope: ["must be global, mission:<key> or agent:<key>"],
      },
    ],
    [
      "bad mode",
      { conditions: {}, actions: [{ block: "x" }], mode: "audit" },
      { mode: ["must be one of: enforce, dry_run"] },
    ],
    [
      "enabled not boolean",
      { conditions: {}, actions: [{ block: "x" }], enabled: "yes" },
      { enabled: ["must be boolean"] },
    ],
    [
      "bad scope",
      { conditions: {}, actions: [{ block: "x" }], scope: "team:core" },
      { scope: ["must be global, mission:<key> or agent:<key>"] },
    ],
    [
      "scope with a bad key",
      { conditions: {}, actions: [{ block: "x" }], scope: "agent:a b" },
      { scope: ["must be global, mission:<key> or agent:<key>"] },
    ],
    [
      "scope mission that does not exist",
      { conditions: {}, actions: [{ block: "x" }], scope: "mission:nope" },
      { scope: ["names a mission that does not exist"] },
    ],
    [
      "scope agent id that does not exist",
      { conditions: {}, actions: [{ block: "x" }], scope: "agent:99999" },
      { scope: ["names an agent that does not exist"] },
    ],
    [
      "all-digit key",
      { policy_id: "123", conditions: {}, actions: [{ block: "x" }] },
      { policy_id: ["has an invalid format"] },
    ],
    [
      "reserved key",
      { policy_id: "templates", conditions: {}, actions: [{ block: "x" }] },
      { policy_id: ["is reserved"] },
    ],
    [
      "reserved key evaluate",
      { policy_id: "evaluate", conditions: {}, actions: [{ block: "x" }] },
      { policy_id: ["is reserved"] },
    ],
    [
      "__proto__ inside conditions",
      JSON.parse('{"conditions":{"__proto__":{"x":1}},"actions":[{"block":"x"}]}'),
      { "conditions.__proto__": ["is not an allowed key"] },
    ],
    ["empty body", undefined, { conditions: ["is required"] }],
  ];
  test.each(bad)("%s → 422 naming the path, nothing created", async (_n, body, errors) => {
    const before = await policyCount();
    const r = await t.json("POST", "/api/policies", { body });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
    expect(await policyCount()).toBe(before);
  });

  test("duplicate key → 422", async () => {
    await createPolicy({ policy_id: "dup-policy" });
    const r = await t.json("POST", "/api/policies", {
      body: { policy_id: "dup-policy", conditions: {}, actions: [{ warn: "x" }] },
    });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors: { policy_id: ["has already been taken"] } });
  });

  test("malformed JSON → 400", async () => {
    const r = await t.json("POST", "/api/policies", { payload: '{"conditions": ' });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ errors: { detail: "Malformed JSON in request body" } });
  });
});

describe("get and list", () => {
  test("by integer id and by key", async () => {
    const p = await createPolicy();
    const byId = await t.json("GET", `/api/policies/${p.id}`);
    const byKey = await t.json("GET", `/api/policies/${p.policy_id}`);
    expect(byId.status).toBe(200);
    expect(byId.body).toEqual(byKey.body);
    expect(byId.body.data).toEqual(p);
  });

  test.each(["999999", "no-such-policy", "bad key!", "0"])("unknown %s → 404", async (id) => {
    const r = await t.json("GET", `/api/policies/${encodeURIComponent(id)}`);
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ errors: { detail: "Not Found" } });
  });

  test("pagination walks every policy once, oldest first", async () => {
    for (let i = 0; i < 5; i++) await createPolicy();
    const all = (await t.json("GET", "/api/policies", { query: { limit: "500" } })).body.data.map((p: any) => p.id);
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const query: Record<string, string> = { limit: "2" };
      if (cursor) query.cursor = cursor;
      const r = await t.json("GET", "/api/policies", { query });
      expect(r.status).toBe(200);
      seen.push(...r.body.data.map((p: any) => p.id));
      cursor = r.body.meta.next_cursor;
    } while (cursor);
    expect(seen).toEqual(all);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
  });

  test("filters: scope (key or id), enabled, mode", async () => {
    const m = await createMission("filter-mission");
    const a = await createPolicy({ scope: "mission:filter-mission", mode: "dry_run" });
    const b = await createPolicy({ scope: "mission:filter-mission", enabled: false });
    const ids = async (query: Record<string, string>) =>
      (await t.json("GET", "/api/policies", { query: { limit: "500", ...query } })).body.data.map(
        (p: any) => p.policy_id,
      );
    expect(await ids({ scope: "mission:filter-mission" })).toEqual([a.policy_id, b.policy_id]);
    expect(await ids({ scope: `mission:${m.id}` })).toEqual([a.policy_id, b.policy_id]);
    expect(await ids({ scope: "mission:filter-mission", enabled: "false" })).toEqual([b.policy_id]);
    expect(await ids({ scope: "mission:filter-mission", mode: "dry_run" })).toEqual([a.policy_id]);
    expect(await ids({ scope: "mission:999999" })).toEqual([]);
    expect((await ids({ scope: "global" })).length).toBeGreaterThan(0);
  });

  test.each([
    [{ scope: "team:x" }, { scope: ["must be global, mission:<key> or agent:<key>"] }],
    [{ mode: "audit" }, { mode: ["must be one of: enforce, dry_run"] }],
    [{ enabled: "maybe" }, { enabled: ["must be boolean"] }],
    [{ limit: "0" }, { limit: ["must be >= 1"] }],
    [{ cursor: "garbage" }, { cursor: ["is not a valid cursor"] }],
  ])("bad query %j → 422", async (query, errors) => {
    const r = await t.json("GET", "/api/policies", { query });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
  });
});

describe("update", () => {
  test("changes only the named fields, bumps the version by one per change, traces each", async () => {
    const p = await createPolicy({ description: "keep" });
    const r1 = await t.json("PATCH", `/api/policies/${p.policy_id}`, { body: { policy: { mode: "dry_run" } } });
    expect(r1.status).toBe(200);
    expect(r1.body.data).toMatchObject({
      mode: "dry_run",
      description: "keep",
      version: 2,
      conditions: p.conditions,
      actions: p.actions,
    });
    const r2 = await t.json("PATCH", `/api/policies/${p.id}`, {
      body: {
        conditions: { action_type: "git_push", branch: { $regex: "^main$" } },
        actions: [{ block: "no" }],
        enabled: false,
      },
    });
    expect(r2.status).toBe(200);
    expect(r2.body.data).toMatchObject({
      version: 3,
      enabled: false,
      actions: [{ block: "no" }],
      conditions: { action_type: "git_push", branch: { $regex: "^main$" } },
    });
    const trace = (await traceOf({ event: "policy.updated" })).filter((e) => e.data.policy_id === p.policy_id);
    expect(trace.map((e) => e.data)).toEqual([
      { policy_id: p.policy_id, version: 2, changes: { mode: "dry_run" } },
      {
        policy_id: p.policy_id,
        version: 3,
        changes: {
          conditions: { action_type: "git_push", branch: { $regex: "^main$" } },
          actions: [{ block: "no" }],
          enabled: false,
        },
      },
    ]);
  });

  test("a PATCH that changes nothing bumps nothing and writes no entry", async () => {
    const p = await createPolicy();
    const before = (await traceOf({ event: "policy.updated" })).length;
    const r = await t.json("PATCH", `/api/policies/${p.id}`, {
      body: {
        conditions: p.conditions,
        actions: p.actions,
        mode: "enforce",
        enabled: true,
        policy_id: p.policy_id,
        scope: "global",
      },
    });
    expect(r.status).toBe(200);
    expect(r.body.data.version).toBe(1);
    expect((await traceOf({ event: "policy.updated" })).length).toBe(before);
  });

  test("scope can move; a mission id is stored as its key", async () => {
    const m = await createMission("move-mission");
    const p = await createPolicy();
    const r = await t.json("PATCH", `/api/policies/${p.id}`, { body: { scope: `mission:${m.id}` } });
    expect(r.status).toBe(200);
    expect(r.body.data).toMatchObject({ scope: "mission:move-mission", version: 2 });
  });

  test("version precondition: a stale version is 422 and changes nothing", async () => {
    const p = await createPolicy();
    await t.json("PATCH", `/api/policies/${p.id}`, { body: { description: "v2" } });
    const stale = await t.json("PATCH", `/api/policies/${p.id}`, { body: { description: "lost update", version: 1 } });
    expect(stale.status).toBe(422);
    expect(stale.body).toEqual({ errors: { version: ["is 2: the policy has changed since version 1"] } });
    const fresh = await t.json("PATCH", `/api/policies/${p.id}`, { body: { description: "v3", version: 2 } });
    expect(fresh.status).toBe(200);
    expect(fresh.body.data).toMatchObject({ description: "v3", version: 3 });
  });

  test("concurrent updates each bump the version exactly once", async () => {
    const p = await createPolicy();
    const rs = await Promise.all(
      Array.from({ length: 5 }, (_, i) => t.json("PATCH", `/api/policies/${p.id}`, { body: { description: `d${i}` } })),
    );
    expect(rs.every((r) => r.status === 200)).toBe(true);
    expect(rs.map((r) => r.body.data.version).sort()).toEqual([2, 3, 4, 5, 6]);
    expect((await t.json("GET", `/api/policies/${p.id}`)).body.data.version).toBe(6);
  });

  const bad: Array<[string, unknown, Record<string, string[]>]> = [
    ["key change", { policy_id: "other" }, { policy_id: ["cannot be changed"] }],
    ["unknown operator", { conditions: { a: { $near: 1 } } }, { "conditions.a.$near": ["is not a known operator"] }],
    [
      "bad regex options",
      { conditions: { a: { $regex: "x", $options: "g" } } },
      { "conditions.a.$options": ["must be a string of the options i, m and s, each at most once"] },
    ],
    [
      "unknown action",
      { actions: [{ deny: "x" }] },
      { "actions.0.deny": ["is not a known action; use block, require_approval or warn"] },
    ],
    ["unknown field", { inserted_at: "2020-01-01" }, { inserted_at: ["is not a known field"] }],
    ["bad scope", { scope: "mission:" }, { scope: ["must be global, mission:<key> or agent:<key>"] }],
    ["scope of a missing mission", { scope: "mission:ghost" }, { scope: ["names a mission that does not exist"] }],
    ["version not an integer", { version: "1" }, { version: ["must be integer"] }],
  ];
  test.each(bad)("%s → 422 and nothing changes", async (_n, body, errors) => {
    const p = await createPolicy();
    const r = await t.json("PATCH", `/api/policies/${p.id}`, { body });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
    expect((await t.json("GET", `/api/policies/${p.id}`)).body.data).toEqual(p);
  });

  test("a failed update leaves the fields before the bad one untouched", async () => {
    const p = await createPolicy({ description: "orig" });
    const r = await t.json("PATCH", `/api/policies/${p.id}`, {
      body: { description: "changed", scope: "mission:ghost" },
    });
    expect(r.status).toBe(422);
    expect((await t.json("GET", `/api/policies/${p.id}`)).body.data).toEqual(p);
  });

  test("unknown policy → 404", async () => {
    const r = await t.json("PATCH", "/api/policies/nope", { body: { description: "x" } });
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ errors: { detail: "Not Found" } });
  });
});

describe("delete", () => {
  test("204, then gone; traced with the last state; a second delete is 404", async () => {
    const p = await createPolicy({ description: "to delete" });
    const r = await t.req("DELETE", `/api/policies/${p.policy_id}`);
    expect(r.statusCode).toBe(204);
    expect(r.body).toBe("");
    expect((await t.json("GET", `/api/policies/${p.id}`)).status).toBe(404);
    const again = await t.json("DELETE", `/api/policies/${p.id}`);
    expect(again.status).toBe(404);
    expect(again.body).toEqual({ errors: { detail: "Not Found" } });
    const entry = (await traceOf({ event: "policy.deleted" })).find((e) => e.data.policy_id === p.policy_id);
    expect(entry?.data).toMatchObject({
      description: "to delete",
      version: 1,
      conditions: p.conditions,
      actions: p.actions,
    });
  });

  test("a deleted policy's key can be used again", async () => {
    const p = await createPolicy({ policy_id: "reused-key" });
    expect((await t.req("DELETE", `/api/policies/${p.id}`)).statusCode).toBe(204);
    const again = await createPolicy({ policy_id: "reused-key" });
    expect(again.id).not.toBe(p.id);
    expect(again.version).toBe(1);
  });

  test("a deleted policy no longer takes part in evaluations", async () => {
    await createPolicy({
      policy_id: "deleted-blocker",
      conditions: { action_type: "deleted-test" },
      actions: [{ block: "x" }],
    });
    const ev = () => t.json("POST", "/api/policies/evaluate", { body: { action: { action_type: "deleted-test" } } });
    expect((await ev()).body.data.decision).toBe("block");
    await t.req("DELETE", "/api/policies/deleted-blocker");
    expect((await ev()).body.data.decision).toBe("allow");
  });
});

describe("templates", () => {
  test("listed with their ready policies", async () => {
    const r = await t.json("GET", "/api/policies/templates", { token: t.member });
    expect(r.status).toBe(200);
    expect(r.body.meta).toEqual({ next_cursor: null });
    expect(r.body.data.map((x: any) => x.template_id)).toEqual([
      "no-force-push-protected",
      "no-rm-rf-outside-worktree",
      "no-secret-file-writes",
      "approve-migrations",
      "approve-deploys",
    ]);
    for (const x of r.body.data) {
      expect(x).toMatchObject({ name: expect.any(String), description: expect.any(String) });
      expect(x.policy).toMatchObject({ policy_id: x.template_id, scope: "global", enabled: true, mode: "enforce" });
      expect(x.policy.actions.length).toBeGreaterThan(0);
    }
  });

  test("each creatable with one call, and then enforced", async () => {
    const r = await t.json("POST", "/api/policies/templates/no-force-push-protected");
    expect(r.status).toBe(201);
    expect(r.headers.location).toBe("/api/policies/no-force-push-protected");
    const listed = (await t.json("GET", "/api/policies/templates")).body.data.find(
      (x: any) => x.template_id === "no-force-push-protected",
    );
    expect(r.body.data).toMatchObject({ ...listed.policy, version: 1 });
    const ev = await t.json("POST", "/api/policies/evaluate", {
      body: { action: { action_type: "git_push", force: true, branch: "release/2.0" } },
    });
    expect(ev.body.data.matched.map((m: any) => m.policy_id)).toContain("no-force-push-protected");
    expect(ev.body.data.decision).toBe("block");
    for (const id of ["no-rm-rf-outside-worktree", "no-secret-file-writes", "approve-migrations", "approve-deploys"]) {
      const c = await t.json("POST", `/api/policies/templates/${id}`, { body: { mode: "dry_run" } });
      expect(c.status, id).toBe(201);
      expect(c.body.data).toMatchObject({ policy_id: id, mode: "dry_run" });
    }
  });

  test("overrides: key, scope, mode, enabled, description (wrapped or bare)", async () => {
    await createMission("tmpl-mission");
    const r = await t.json("POST", "/api/policies/templates/approve-deploys", {
      token: t.member,
      body: {
        policy: { policy_id: "deploys-for-tmpl", scope: "mission:tmpl-mission", enabled: false, description: "ours" },
      },
    });
    expect(r.status).toBe(201);
    expect(r.body.data).toMatchObject({
      policy_id: "deploys-for-tmpl",
      scope: "mission:tmpl-mission",
      enabled: false,
      description: "ours",
      mode: "enforce",
    });
  });

  test.each([
    ["taken key", "approve-deploys", {}, 422, { errors: { policy_id: ["has already been taken"] } }],
    [
      "conditions cannot be overridden",
      "approve-deploys",
      { policy_id: "x1", conditions: {} },
      422,
      { errors: { conditions: ["is not a known field"] } },
    ],
    [
      "bad scope",
      "approve-deploys",
      { policy_id: "x2", scope: "mission:ghost" },
      422,
      { errors: { scope: ["names a mission that does not exist"] } },
    ],
    ["unknown template", "no-such-template", {}, 404, { errors: { detail: "Not Found" } }],
  ])("%s", async (_n, id, body, status, want) => {
    if (id === "approve-deploys") await t.json("POST", "/api/policies/templates/approve-deploys");
    const r = await t.json("POST", `/api/policies/templates/${id}`, { body });
    expect(r.status).toBe(status);
    expect(r.body).toEqual(want);
  });
});

describe("auth", () => {
  const routes: Array<[string, string, unknown?]> = [
    ["GET", "/api/policies"],
    ["POST", "/api/policies", { conditions: {}, actions: [{ warn: "x" }] }],
    ["GET", "/api/policies/no-force-push"],
    ["PATCH", "/api/policies/no-force-push", { description: "x" }],
    ["DELETE", "/api/policies/no-force-push"],
    ["GET", "/api/policies/templates"],
    ["POST", "/api/policies/templates/approve-migrations", {}],
    ["POST", "/api/policies/evaluate", { action: {} }],
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

  test("an agent token may evaluate but not read or change policies", async () => {
    const agent = await t.agentToken("auth-agent");
    const before = await policyCount();
    for (const [method, url, body] of routes.filter(([, u]) => u !== "/api/policies/evaluate")) {
      const r = await t.json(method, url, { token: agent, body });
      expect(r.status, `${method} ${url}`).toBe(403);
      expect(r.body).toEqual({ errors: { detail: "Forbidden" } });
    }
    expect(await policyCount()).toBe(before);
    expect((await t.json("GET", "/api/policies/no-force-push")).status).toBe(200);
    expect((await t.json("POST", "/api/policies/evaluate", { token: agent, body: { action: {} } })).status).toBe(200);
  });

  test("members may do everything here", async () => {
    const p = await t.json("POST", "/api/policies", {
      token: t.member,
      body: { conditions: {}, actions: [{ warn: "m" }] },
    });
    expect(p.status).toBe(201);
    expect((await t.json("GET", `/api/policies/${p.body.data.id}`, { token: t.member })).status).toBe(200);
    expect(
      (await t.json("PATCH", `/api/policies/${p.body.data.id}`, { token: t.member, body: { enabled: false } })).status,
    ).toBe(200);
    expect((await t.req("DELETE", `/api/policies/${p.body.data.id}`, { token: t.member })).statusCode).toBe(204);
  });
});

test("OpenAPI describes every policy route", async () => {
  const doc = await t.json("GET", "/openapi.json", { token: null });
  expect(Object.keys(doc.body.paths)).toEqual(
    expect.arrayContaining([
      "/api/policies",
      "/api/policies/{id}",
      "/api/policies/templates",
      "/api/policies/templates/{template_id}",
      "/api/policies/evaluate",
    ]),
  );
  expect(doc.body.paths["/api/policies"].post.summary).toBe("Create policy");
  expect(doc.body.paths["/api/policies/{id}"].delete.summary).toBe("Delete policy");
});
