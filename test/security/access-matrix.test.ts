// Every route of the OpenAPI document × every kind of caller, with the exact status from access.table.ts.
// Refused requests change nothing (database fingerprint), agents never see or touch another agent's tasks
// or tokens, and no token secret ever appears in a response (other than the one creating it) or a log line.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { ACCESS, CALLERS, expectedStatus, type Caller, type Env } from "./access.table.js";
import { fillPath, fingerprint, operationsOf, queryString, type Operation, type Reply } from "./openapi.js";
import { startLiveApp, type LiveApp } from "./server.js";
import { createFixtureSet, type FixtureSet } from "./world.js";

vi.setConfig({ testTimeout: 600_000, hookTimeout: 300_000 });

const OWN = "agent-own";
const OTHER = "agent-other";
/** A secret in an agent's config: stored, used by adapters, never returned or logged. */
const CONFIG_SECRET = `sk-config-secret-${randomBytes(8).toString("hex")}`;

let live: LiveApp;
let ops: Operation[];
let auth: Record<Caller, { authorization?: string; token?: string | null }>;
let ownTokenId: string;
/** Fixture set per caller let in; callers refused share one (they must not change it). */
let sets: Record<"ownAgent" | "member" | "admin" | "refused", FixtureSet>;
/** Every response, for the secret scan (the creating response of a token is kept apart). */
const replies: Array<{ what: string; reply: Reply }> = [];

const admin = (method: string, url: string, body?: unknown) => live.call(method, url, { body });

beforeAll(async () => {
  live = await startLiveApp();
  for (const agent of [OWN, OTHER]) expect((await admin("POST", "/api/agents", { agent_id: agent })).status).toBe(201);
  // The own agent carries secrets in its config.
  // (A config valid for its adapter: src/runtime/agent-config.ts. No mission here is active, so nothing runs.)
  const patched = await admin("PATCH", `/api/agents/${OWN}`, {
    adapter_module: "command",
    config: { command: ["true"], env: { OPENAI_API_KEY: CONFIG_SECRET, API_TOKEN: CONFIG_SECRET } },
  });
  expect(patched.status).toBe(200);
  live.secrets.add(CONFIG_SECRET);

  const ownToken = await admin("POST", "/api/tokens", { role: "agent", agent_id: OWN, name: "own" });
  expect(ownToken.status).toBe(201);
  ownTokenId = String(ownToken.json.data.id);
  live.secrets.add(ownToken.json.data.token);
  const otherToken = await live.agentToken(OTHER);
  const revoked = await admin("POST", "/api/tokens", { role: "member", name: "revoked" });
  live.secrets.add(revoked.json.data.token);
  expect((await admin("DELETE", `/api/tokens/${revoked.json.data.id}`)).status).toBe(204);
  const unknown = `mc_${randomBytes(32).toString("base64url")}`;

  auth = {
    none: { token: null },
    // A valid secret under the wrong scheme does not let anyone in.
    malformed: { authorization: `Token ${live.admin}` },
    unknown: { token: unknown },
    revoked: { token: revoked.json.data.token },
    otherAgent: { token: otherToken },
    ownAgent: { token: ownToken.json.data.token },
    member: { token: live.member },
    admin: { token: live.admin },
  };

  sets = {
    ownAgent: await createFixtureSet(admin, OWN, "own"),
    member: await createFixtureSet(admin, OWN, "mem"),
    admin: await createFixtureSet(admin, OWN, "adm"),
    refused: await createFixtureSet(admin, OWN, "ref"),
  };
  const doc = await live.call("GET", "/openapi.json", { token: null });
  expect(doc.status).toBe(200);
  ops = operationsOf(doc.json);
});

afterAll(async () => {
  await live?.close();
});

function request(op: Operation, caller: Caller, set: FixtureSet) {
  const rule = ACCESS[op.key]!;
  const env: Env = { f: set, ownAgent: OWN };
  const url = fillPath(op.path, rule.path?.(env) ?? {}) + queryString(rule.query?.(env) ?? {});
  const body = rule.body?.(env) ?? (op.body && op.method !== "GET" && op.method !== "DELETE" ? {} : undefined);
  return live.call(op.method, url, { ...auth[caller], body });
}

describe("access matrix", () => {
  test("every route in the OpenAPI document has an access rule, and every rule a route", () => {
    expect(ops.length).toBeGreaterThan(50);
    const served = new Set(ops.map((o) => o.key));
    const missing = ops.map((o) => o.key).filter((k) => !(k in ACCESS));
    const stale = Object.keys(ACCESS).filter((k) => !served.has(k));
    expect(missing, "routes without a rule in test/security/access.table.ts: decide who may call them").toEqual([]);
    expect(stale, "rules for routes that no longer exist").toEqual([]);
  });

  test("every route × every caller answers exactly the expected status; refusals change nothing", async () => {
    const failures: string[] = [];
    for (const op of ops) {
      const rule = ACCESS[op.key];
      if (!rule) continue; // reported by the test above
      const refused = CALLERS.filter(
        (c) => [401, 403].includes(expectedStatus(rule, c)) && expectedStatus(rule, c) !== rule.ok,
      );
      const before = await fingerprint(live.db.database);
      for (const caller of refused) {
        const r = await request(op, caller, sets.refused);
        replies.push({ what: `${op.key} as ${caller}`, reply: r });
        const want = expectedStatus(rule, caller);
        if (r.status !== want)
          failures.push(`${op.key} as ${caller}: ${r.status} (want ${want}) ${r.text.slice(0, 200)}`);
        else if (want === 401) {
          if (r.headers.get("www-authenticate") !== "Bearer")
            failures.push(`${op.key} as ${caller}: 401 without WWW-Authenticate`);
          if (JSON.stringify(r.json) !== JSON.stringify({ errors: { detail: "Unauthorized" } }))
            failures.push(`${op.key} as ${caller}: body ${r.text}`);
        } else if (JSON.stringify(r.json) !== JSON.stringify({ errors: { detail: "Forbidden" } })) {
          failures.push(`${op.key} as ${caller}: 403 body ${r.text}`);
        }
      }
      if ((await fingerprint(live.db.database)) !== before)
        failures.push(`${op.key}: a refused request changed the database`);

      for (const caller of CALLERS.filter((c) => !refused.includes(c))) {
        const set = caller === "ownAgent" || caller === "member" || caller === "admin" ? sets[caller] : sets.refused;
        const r = await request(op, caller, set);
        const tokenCreated = op.key === "POST /api/tokens" && r.status === 201;
        if (tokenCreated) live.secrets.add(r.json.data.token);
        else replies.push({ what: `${op.key} as ${caller}`, reply: r });
        const want = expectedStatus(rule, caller);
        if (r.status !== want)
          failures.push(`${op.key} as ${caller}: ${r.status} (want ${want}) ${r.text.slice(0, 300)}`);
      }
    }
    expect(failures).toEqual([]);
  });
});

describe("agents and other agents' things", () => {
  test("an agent lists, reads and changes none of another agent's tasks", async () => {
    const other = auth.otherAgent;
    const f = sets.refused;
    const before = await fingerprint(live.db.database);
    for (const url of ["/api/tasks", `/api/tasks?agent_id=${OWN}`, `/api/tasks?status=pending_review`]) {
      const r = await live.call("GET", url, other);
      expect(r.status, url).toBe(200);
      expect(
        r.json.data.filter((t: any) => t.agent_id !== OTHER),
        url,
      ).toEqual([]);
    }
    // A mission it is not on and has no task in: refused outright.
    expect((await live.call("GET", `/api/missions/${f.mission}/tasks`, other)).status).toBe(403);
    // While the right agent sees its own.
    const mine = await live.call("GET", `/api/tasks?agent_id=${OWN}`, auth.ownAgent);
    expect(mine.json.data.map((t: any) => t.task_id)).toContain(f.task);

    const refusals: Array<[string, string, unknown?]> = [
      ["GET", `/api/tasks/${f.task}`],
      ["GET", `/api/tasks/${f.task}/logs`],
      ["POST", `/api/tasks/${f.task}/report`, { status: "in_progress", logs: [{ message: "not mine" }] }],
      ["POST", `/api/tasks/${f.taskToApprove}/report`, { outputs: { hijacked: true } }],
      ["POST", `/api/agents/${OWN}/activity`, { event: "stop" }],
      ["GET", `/api/agents/${OWN}`],
      ["GET", `/api/agents/${OWN}/hooks/claude-code`],
      ["POST", "/api/policies/evaluate", { action: { action_type: "x" }, task_id: f.task }],
      ["POST", "/api/policies/evaluate", { action: { action_type: "x" }, agent_id: OWN }],
      ["GET", `/api/missions/${f.mission}`],
    ];
    for (const [method, url, body] of refusals) {
      const r = await live.call(method, url, { ...other, body });
      expect(r.status, `${method} ${url}`).toBe(403);
    }
    expect(await fingerprint(live.db.database)).toBe(before);
  });

  test("an agent can neither list, create nor revoke tokens, its own or another's", async () => {
    for (const caller of ["ownAgent", "otherAgent"] as const) {
      expect((await live.call("GET", "/api/tokens", auth[caller])).status).toBe(403);
      expect((await live.call("POST", "/api/tokens", { ...auth[caller], body: { role: "admin" } })).status).toBe(403);
      expect(
        (await live.call("POST", "/api/tokens", { ...auth[caller], body: { role: "agent", agent_id: OWN } })).status,
      ).toBe(403);
      expect((await live.call("DELETE", `/api/tokens/${ownTokenId}`, auth[caller])).status).toBe(403);
    }
    // The own agent's token still works.
    expect((await live.call("GET", `/api/agents/${OWN}`, auth.ownAgent)).status).toBe(200);
  });
});

describe("secrets", () => {
  test("no token secret or config secret appears in any response but its own creation, nor in any log line", async () => {
    // A few more responses that carry agents and trace entries.
    for (const url of [
      "/api/agents?limit=500",
      `/api/agents/${OWN}`,
      "/api/trace?limit=500",
      "/api/trace/export",
      "/api/tokens?limit=500",
    ]) {
      replies.push({ what: `GET ${url}`, reply: await live.call("GET", url) });
    }
    expect(replies.length).toBeGreaterThan(300);
    expect(live.secrets.size).toBeGreaterThan(6);
    const leaks: string[] = [];
    for (const { what, reply } of replies) {
      const headers = [...reply.headers.entries()].map(([k, v]) => `${k}: ${v}`).join("\n");
      for (const s of live.secrets)
        if (reply.text.includes(s) || headers.includes(s)) leaks.push(`response to ${what}`);
    }
    // The logger logged every request at level trace.
    expect(live.logs.length).toBeGreaterThan(replies.length);
    for (const line of live.logs)
      for (const s of live.secrets) if (line.includes(s)) leaks.push(`log line ${line.slice(0, 200)}`);
    expect(leaks).toEqual([]);
  });
});
