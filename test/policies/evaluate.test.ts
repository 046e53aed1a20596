// POST /api/policies/evaluate end to end, and the service function enforcement points call inside their own
// transaction.
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { agents, missionAgents, missions, tasks } from "../../src/db/schema/index.js";
import { createPoliciesService, type PoliciesService } from "../../src/policies/policies.service.js";
import { shellActions } from "../../src/policies/shell-actions.js";
import { toolUseActions } from "../../src/policies/tool-actions.js";
import { createTestContext, type TestContext } from "../harness.js";

let t: TestContext;
let service: PoliciesService;

const FORCE_PUSH = { action_type: "git_push", force: true, remote: "origin", branch: "main" };

beforeAll(async () => {
  t = await createTestContext();
  service = createPoliciesService({ database: t.database });
  const r = await t.json("POST", "/api/policies", {
    body: {
      policy: {
        policy_id: "no-force-push",
        description: "Prevent force pushing to protected branches",
        scope: "global",
        conditions: { action_type: "git_push", force: true },
        actions: [{ block: "Force push not allowed" }],
      },
    },
  });
  expect(r.status).toBe(201);
});
afterAll(async () => {
  await t.close();
});

async function createPolicy(body: Record<string, unknown>) {
  const r = await t.json("POST", "/api/policies", { body });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.data;
}

async function evaluate(body: Record<string, unknown>, token?: string) {
  return t.json("POST", "/api/policies/evaluate", { body, token });
}

async function entry(id: number) {
  const rows = await t.database.query<any>("SELECT * FROM trace_entries WHERE id = $1", [id]);
  return rows[0];
}

async function evaluatedCount() {
  const rows = await t.database.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM trace_entries WHERE event = 'policy.evaluated'",
  );
  return rows[0]!.n;
}

async function mission(key: string) {
  const r = await t.json("POST", "/api/missions", { body: { mission_id: key, goal: "g" } });
  expect(r.status).toBe(201);
  return r.body.data as { id: number; mission_id: string };
}

async function agentId(key: string) {
  const rows = await t.database.db.select({ id: agents.id }).from(agents).where(eq(agents.agentId, key));
  return rows[0]!.id;
}

async function task(key: string, missionId: number, assignee: number | null = null) {
  const rows = await t.database.db
    .insert(tasks)
    .values({ taskId: key, missionId, objective: "o", agentId: assignee })
    .returning();
  return rows[0]!;
}

describe("the reference policy", () => {
  test("blocks a force push asked through evaluate; the decision is in the trace", async () => {
    const r = await evaluate({ action: FORCE_PUSH });
    expect(r.status).toBe(200);
    expect(r.body.data).toEqual({
      decision_id: expect.any(Number),
      decision: "block",
      mode: "enforce",
      dry_run_decision: "block",
      matched: [
        { policy_id: "no-force-push", version: 1, mode: "enforce", actions: [{ block: "Force push not allowed" }] },
      ],
      dry_run_matched: [],
      messages: ["Force push not allowed"],
      mission_id: null,
      agent_id: null,
      task_id: null,
    });
    const e = await entry(r.body.data.decision_id);
    expect(e).toMatchObject({
      event: "policy.evaluated",
      actor: "admin:test-admin",
      mission_id: null,
      task_id: null,
      agent_id: null,
    });
    expect(e.data).toEqual({
      action: FORCE_PUSH,
      source: "api",
      decision: "block",
      mode: "enforce",
      dry_run_decision: "block",
      matched: [
        { policy_id: "no-force-push", version: 1, mode: "enforce", actions: [{ block: "Force push not allowed" }] },
      ],
      dry_run_matched: [],
      messages: ["Force push not allowed"],
    });
    // …and can be found through the trace API.
    const listed = await t.json("GET", "/api/trace", { query: { event: "policy.evaluated", limit: "500" } });
    expect(listed.body.data.map((x: any) => x.id)).toContain(r.body.data.decision_id);
  });

  test("blocks the actions parsed from a recorded `git push --force origin main`", async () => {
    const actions = shellActions("git push --force origin main", { worktree: "/w" });
    const decisions = [];
    for (const action of actions) decisions.push((await evaluate({ action })).body.data.decision);
    expect(decisions).toEqual(["allow", "block"]);
  });

  test("a normal push is allowed, and that decision is traced too", async () => {
    const before = await evaluatedCount();
    const r = await evaluate({ action: { ...FORCE_PUSH, force: false } });
    expect(r.body.data).toMatchObject({ decision: "allow", matched: [], messages: [], mode: "enforce" });
    expect(await evaluatedCount()).toBe(before + 1);
    expect((await entry(r.body.data.decision_id)).data.decision).toBe("allow");
  });

  test("decision ids are distinct and increasing", async () => {
    const a = (await evaluate({ action: {} })).body.data.decision_id;
    const b = (await evaluate({ action: {} })).body.data.decision_id;
    expect(b).toBeGreaterThan(a);
  });
});

describe("deciding", () => {
  test("the strictest matched action decides: block > require_approval > warn > allow", async () => {
    await createPolicy({
      policy_id: "warn-shell",
      conditions: { action_type: "shell-x" },
      actions: [{ warn: "shell is risky" }],
    });
    await createPolicy({
      policy_id: "ask-sudo",
      conditions: { action_type: "shell-x", command: { $regex: "^sudo " } },
      actions: [{ require_approval: "sudo needs approval" }],
    });
    await createPolicy({
      policy_id: "block-mkfs",
      conditions: { action_type: "shell-x", command: { $regex: "mkfs" } },
      actions: [{ block: "no mkfs" }],
    });
    const d = async (command: string) => (await evaluate({ action: { action_type: "shell-x", command } })).body.data;
    expect((await d("ls")).decision).toBe("warn");
    expect((await d("sudo ls")).decision).toBe("require_approval");
    const b = await d("sudo mkfs /dev/sda");
    expect(b.decision).toBe("block");
    expect(b.messages).toEqual(["no mkfs", "sudo needs approval", "shell is risky"]);
    expect(b.matched.map((m: any) => m.policy_id)).toEqual(["warn-shell", "ask-sudo", "block-mkfs"]);
  });

  test("disabled policies do not take part; re-enabled they do, at their new version", async () => {
    await createPolicy({
      policy_id: "toggle",
      conditions: { action_type: "toggle-test" },
      actions: [{ block: "t" }],
      enabled: false,
    });
    expect((await evaluate({ action: { action_type: "toggle-test" } })).body.data.decision).toBe("allow");
    await t.json("PATCH", "/api/policies/toggle", { body: { enabled: true } });
    const r = await evaluate({ action: { action_type: "toggle-test" } });
    expect(r.body.data.decision).toBe("block");
    expect(r.body.data.matched).toEqual([
      { policy_id: "toggle", version: 2, mode: "enforce", actions: [{ block: "t" }] },
    ]);
  });

  test("an edited policy decides by its new conditions at once", async () => {
    await createPolicy({
      policy_id: "editable",
      conditions: { action_type: "edit-test", n: { $gt: 10 } },
      actions: [{ block: "big" }],
    });
    expect((await evaluate({ action: { action_type: "edit-test", n: 5 } })).body.data.decision).toBe("allow");
    await t.json("PATCH", "/api/policies/editable", {
      body: { conditions: { action_type: "edit-test", n: { $gt: 1 } } },
    });
    const r = await evaluate({ action: { action_type: "edit-test", n: 5 } });
    expect(r.body.data.decision).toBe("block");
    expect(r.body.data.matched[0].version).toBe(2);
  });
});

describe("dry run", () => {
  test("a dry-run policy's match is reported and recorded but never blocks", async () => {
    await createPolicy({
      policy_id: "dry-block",
      conditions: { action_type: "dry-test" },
      actions: [{ block: "would block" }],
      mode: "dry_run",
    });
    const r = await evaluate({ action: { action_type: "dry-test" } });
    expect(r.body.data).toMatchObject({
      decision: "allow",
      mode: "dry_run",
      dry_run_decision: "block",
      matched: [],
      dry_run_matched: [{ policy_id: "dry-block", version: 1, mode: "dry_run", actions: [{ block: "would block" }] }],
      messages: [],
    });
    const e = await entry(r.body.data.decision_id);
    expect(e.data).toMatchObject({
      decision: "allow",
      mode: "dry_run",
      dry_run_decision: "block",
      dry_run_matched: [{ policy_id: "dry-block" }],
    });
  });

  test("switching the same policy to enforce makes it block", async () => {
    await t.json("PATCH", "/api/policies/dry-block", { body: { mode: "enforce" } });
    const r = await evaluate({ action: { action_type: "dry-test" } });
    expect(r.body.data).toMatchObject({
      decision: "block",
      mode: "enforce",
      matched: [{ policy_id: "dry-block", version: 2 }],
    });
  });
});

describe("scope and context", () => {
  test("mission- and agent-scoped policies apply only to their mission or agent; trace columns are set", async () => {
    const m = await mission("scoped-m");
    await mission("other-m");
    await t.agentToken("scoped-a");
    await t.agentToken("other-a");
    await createPolicy({
      policy_id: "m-only",
      scope: "mission:scoped-m",
      conditions: { action_type: "scope-test" },
      actions: [{ warn: "mission" }],
    });
    await createPolicy({
      policy_id: "a-only",
      scope: "agent:scoped-a",
      conditions: { action_type: "scope-test" },
      actions: [{ require_approval: "agent" }],
    });
    const ids = async (body: Record<string, unknown>) => {
      const r = await evaluate({ action: { action_type: "scope-test" }, ...body });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return r.body.data;
    };
    expect((await ids({})).matched).toEqual([]);
    expect((await ids({ mission_id: "other-m" })).matched).toEqual([]);
    expect((await ids({ mission_id: "scoped-m" })).matched.map((x: any) => x.policy_id)).toEqual(["m-only"]);
    expect((await ids({ mission_id: m.id })).matched.map((x: any) => x.policy_id)).toEqual(["m-only"]);
    expect((await ids({ agent_id: "other-a" })).matched).toEqual([]);
    const both = await ids({ mission_id: "scoped-m", agent_id: await agentId("scoped-a") });
    expect(both).toMatchObject({
      decision: "require_approval",
      mission_id: "scoped-m",
      agent_id: "scoped-a",
      task_id: null,
    });
    expect(both.matched.map((x: any) => x.policy_id)).toEqual(["m-only", "a-only"]);
    expect(await entry(both.decision_id)).toMatchObject({
      mission_id: "scoped-m",
      agent_id: "scoped-a",
      task_id: null,
    });
    // The mission's own trace shows the decision.
    const mt = await t.json("GET", "/api/missions/scoped-m/trace", {
      query: { event: "policy.evaluated", limit: "500" },
    });
    expect(mt.body.data.map((x: any) => x.id)).toContain(both.decision_id);
  });

  test("a task brings its mission", async () => {
    const m = await mission("task-m");
    const tk = await task("task-in-m", m.id);
    await createPolicy({
      policy_id: "task-m-policy",
      scope: "mission:task-m",
      conditions: { action_type: "task-test" },
      actions: [{ warn: "w" }],
    });
    const r = await evaluate({ action: { action_type: "task-test" }, task_id: tk.id });
    expect(r.body.data).toMatchObject({ decision: "warn", mission_id: "task-m", task_id: "task-in-m" });
    expect(await entry(r.body.data.decision_id)).toMatchObject({ mission_id: "task-m", task_id: "task-in-m" });
    const same = await evaluate({ action: { action_type: "task-test" }, task_id: "task-in-m", mission_id: "task-m" });
    expect(same.status).toBe(200);
  });

  test("null references count as absent", async () => {
    const r = await evaluate({ action: {}, mission_id: null, agent_id: null, task_id: null });
    expect(r.status).toBe(200);
    expect(r.body.data).toMatchObject({ mission_id: null, agent_id: null, task_id: null });
  });
});

describe("bad input → 4xx in the contract's shape, nothing traced", () => {
  const cases: Array<[string, unknown, number, unknown]> = [
    ["missing action", {}, 422, { errors: { action: ["is required"] } }],
    ["no body", undefined, 422, { errors: { action: ["is required"] } }],
    ["action not an object", { action: "git push -f" }, 422, { errors: { action: ["must be object"] } }],
    ["action is a list", { action: [FORCE_PUSH] }, 422, { errors: { action: ["must be object"] } }],
    ["unknown field", { action: {}, actions: [] }, 422, { errors: { actions: ["is not a known field"] } }],
    [
      "mission does not exist",
      { action: {}, mission_id: "ghost" },
      422,
      { errors: { mission_id: ["does not exist"] } },
    ],
    [
      "mission id does not exist",
      { action: {}, mission_id: 999999 },
      422,
      { errors: { mission_id: ["does not exist"] } },
    ],
    ["agent does not exist", { action: {}, agent_id: "ghost" }, 422, { errors: { agent_id: ["does not exist"] } }],
    ["task does not exist", { action: {}, task_id: "ghost" }, 422, { errors: { task_id: ["does not exist"] } }],
    [
      "bad reference",
      { action: {}, mission_id: "a b" },
      422,
      { errors: { mission_id: ["has an invalid type or value"] } },
    ],
    [
      "__proto__ in the action",
      JSON.parse('{"action":{"__proto__":{"x":1}}}'),
      422,
      { errors: { "action.__proto__": ["is not an allowed key"] } },
    ],
    ["malformed JSON", "{", 400, { errors: { detail: "Malformed JSON in request body" } }],
    [
      "a NUL character (PostgreSQL cannot store it)",
      '{"action":{"command":"a\\u0000b"}}',
      422,
      { errors: { "action.command": ["must not contain NUL or unpaired surrogate characters"] } },
    ],
  ];
  test.each(cases)("%s", async (_n, body, status, want) => {
    const before = await evaluatedCount();
    const r =
      typeof body === "string"
        ? await t.json("POST", "/api/policies/evaluate", { payload: body })
        : await t.json("POST", "/api/policies/evaluate", { body });
    expect(r.status).toBe(status);
    expect(r.body).toEqual(want);
    expect(await evaluatedCount()).toBe(before);
  });

  test("a task of another mission → 422", async () => {
    const a = await mission("mismatch-a");
    await mission("mismatch-b");
    const tk = await task("mismatch-task", a.id);
    const r = await evaluate({ action: {}, task_id: tk.taskId, mission_id: "mismatch-b" });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors: { task_id: ["belongs to mission mismatch-a, not mismatch-b"] } });
  });

  test("a deeply nested or huge action is fine", async () => {
    let deep: Record<string, unknown> = { branch: "main" };
    // 60 levels: under the body parser's limit of 64.
    for (let i = 0; i < 40; i++) deep = i % 2 ? { x: deep } : { files: [deep] };
    const r = await evaluate({ action: { ...deep, action_type: "git_push", force: true } });
    expect(r.status).toBe(200);
    expect(r.body.data.decision).toBe("block");
    const big = await evaluate({ action: { action_type: "shell", command: "x".repeat(500_000) } });
    expect(big.status).toBe(200);
  });
});

describe("agent tokens", () => {
  test("evaluate as their own agent; the trace names the agent and the actor", async () => {
    const token = await t.agentToken("eval-agent");
    const r = await evaluate({ action: FORCE_PUSH }, token);
    expect(r.status).toBe(200);
    expect(r.body.data).toMatchObject({ decision: "block", agent_id: "eval-agent" });
    expect(await entry(r.body.data.decision_id)).toMatchObject({ agent_id: "eval-agent", actor: "agent:eval-agent" });
    // Naming itself, by key or by id, is fine.
    expect((await evaluate({ action: {}, agent_id: "eval-agent" }, token)).status).toBe(200);
    expect((await evaluate({ action: {}, agent_id: await agentId("eval-agent") }, token)).status).toBe(200);
  });

  test("agent-scoped policies of another agent do not apply to it", async () => {
    const token = await t.agentToken("plain-agent");
    await createPolicy({
      policy_id: "for-someone-else",
      scope: "agent:someone-else",
      conditions: { action_type: "x-test" },
      actions: [{ block: "b" }],
    });
    await createPolicy({
      policy_id: "for-plain-agent",
      scope: "agent:plain-agent",
      conditions: { action_type: "x-test" },
      actions: [{ warn: "w" }],
    });
    const r = await evaluate({ action: { action_type: "x-test" } }, token);
    expect(r.body.data).toMatchObject({ decision: "warn", matched: [{ policy_id: "for-plain-agent" }] });
  });

  test("cannot evaluate as another agent, nor for missions it is not on or tasks not assigned to it", async () => {
    const token = await t.agentToken("limited-agent");
    await t.agentToken("someone");
    const m = await mission("limited-m");
    const foreign = await task("limited-foreign-task", m.id, await agentId("someone"));
    const before = await evaluatedCount();
    for (const body of [
      { action: {}, agent_id: "someone" },
      { action: {}, agent_id: await agentId("someone") },
      { action: {}, agent_id: "never-registered" },
      { action: {}, mission_id: "limited-m" },
      { action: {}, task_id: foreign.taskId },
    ]) {
      const r = await evaluate(body, token);
      expect(r.status, JSON.stringify(body)).toBe(403);
      expect(r.body).toEqual({ errors: { detail: "Forbidden" } });
    }
    expect(await evaluatedCount()).toBe(before);
  });

  test("may evaluate for a mission it is on and a task assigned to it", async () => {
    const token = await t.agentToken("member-agent");
    const id = await agentId("member-agent");
    const m = await mission("member-m");
    await t.database.db.insert(missionAgents).values({ missionId: m.id, agentId: id });
    const own = await task("member-own-task", m.id, id);
    const onMission = await evaluate({ action: {}, mission_id: "member-m" }, token);
    expect(onMission.status).toBe(200);
    expect(onMission.body.data).toMatchObject({ mission_id: "member-m", agent_id: "member-agent" });
    const onTask = await evaluate({ action: {}, task_id: own.taskId }, token);
    expect(onTask.status).toBe(200);
    expect(onTask.body.data).toMatchObject({
      mission_id: "member-m",
      task_id: "member-own-task",
      agent_id: "member-agent",
    });
  });
});

describe("the service, as enforcement points call it", () => {
  test("evaluate on a transaction: the entry commits with it, or vanishes with its rollback", async () => {
    const { db } = t.database;
    const committed = await db.transaction(async (tx) =>
      service.evaluate(tx, { action: FORCE_PUSH, agentKey: "svc-agent", source: "dispatch" }, "system"),
    );
    expect(committed.decision).toBe("block");
    expect(await entry(committed.decision_id)).toMatchObject({
      event: "policy.evaluated",
      actor: "system",
      agent_id: "svc-agent",
    });
    expect((await entry(committed.decision_id)).data.source).toBe("dispatch");

    let rolledBackId = 0;
    await expect(
      db.transaction(async (tx) => {
        const d = await service.evaluate(tx, { action: FORCE_PUSH }, "system");
        rolledBackId = d.decision_id;
        throw service.blockedError(d);
      }),
    ).rejects.toMatchObject({ status: 403 });
    expect(await entry(rolledBackId)).toBeUndefined();
  });

  test("a task key alone brings its mission's policies", async () => {
    const m = await t.database.db.select().from(missions).where(eq(missions.missionId, "task-m"));
    expect(m).toHaveLength(1);
    const d = await service.evaluate(
      t.database.db,
      { action: { action_type: "task-test" }, taskKey: "task-in-m" },
      "system",
    );
    expect(d).toMatchObject({ decision: "warn", mission_id: "task-m", task_id: "task-in-m" });
  });

  test("blockedError is the contract's policy error", async () => {
    const d = await service.evaluate(t.database.db, { action: FORCE_PUSH }, "system");
    const err = service.blockedError(d);
    expect(err.status).toBe(403);
    expect(err.body()).toEqual({ errors: { policy: ["Force push not allowed"] }, policy_decision: d });
  });

  test("evaluateAll: everything a Claude Code Bash call does, strictest wins, one entry per action", async () => {
    const before = await evaluatedCount();
    const actions = toolUseActions(
      "Bash",
      { command: "git add -A && git push --force origin main" },
      { worktree: "/w" },
    );
    const all = await service.evaluateAll(
      t.database.db,
      { actions, agentKey: "hook-agent", source: "hook" },
      "agent:hook-agent",
    );
    expect(all.decision).toBe("block");
    expect(all.messages).toEqual(["Force push not allowed"]);
    expect(all.deciding?.matched[0]?.policy_id).toBe("no-force-push");
    expect(all.decisions.map((d) => d.decision)).toEqual(["allow", "allow", "block"]);
    expect(await evaluatedCount()).toBe(before + actions.length);
    const none = await service.evaluateAll(
      t.database.db,
      { actions: toolUseActions("Bash", { command: "ls" }) },
      "system",
    );
    expect(none).toMatchObject({ decision: "allow", deciding: null, messages: [] });
  });

  test("findDecision reads a recorded decision back (for approving a parked action)", async () => {
    const d = await service.evaluate(t.database.db, { action: FORCE_PUSH, taskKey: "task-in-m" }, "system");
    expect(await service.findDecision(t.database.db, d.decision_id)).toMatchObject({
      decision_id: d.decision_id,
      decision: "block",
      action: FORCE_PUSH,
      matched: d.matched,
      task_id: "task-in-m",
      mission_id: "task-m",
      actor: "system",
      source: "api",
    });
    const other = await t.database.query<{ id: number }>(
      "SELECT id FROM trace_entries WHERE event <> 'policy.evaluated' LIMIT 1",
    );
    expect(await service.findDecision(t.database.db, other[0]!.id)).toBeUndefined();
    expect(await service.findDecision(t.database.db, 0)).toBeUndefined();
    expect(await service.findDecision(t.database.db, 2 ** 60)).toBeUndefined();
  });
});
