import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, waitFor, type TestContext } from "../harness.js";
import type { components } from "../../src/client/schema.js";

type Agent = components["schemas"]["Agent"];

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t.close();
});

let n = 0;
async function newAgent(body: Record<string, unknown> = {}) {
  const r = await t.json("POST", "/api/agents", { body: { agent_id: `act-${++n}`, ...body } });
  expect(r.status).toBe(201);
  return r.body.data;
}

function report(agent: string | number, event: string, context?: Record<string, unknown>, token?: string) {
  return t.json("POST", `/api/agents/${agent}/activity`, {
    token,
    body: context === undefined ? { event } : { event, context },
  });
}

async function traceOf(agentKey: string) {
  const r = await t.json("GET", "/api/trace", { query: { agent_id: agentKey, limit: "500" } });
  expect(r.status).toBe(200);
  return r.body.data as Array<{ event: string; data: any; actor: string; task_id: string | null; agent_id: string }>;
}

async function stored(agentKey: string) {
  const rows = await t.database.query<{
    status: string;
    current_task_id: string | null;
    last_seen_at: Date | null;
    updated_at: Date;
  }>("SELECT status, current_task_id, last_seen_at, updated_at FROM agents WHERE agent_id = $1", [agentKey]);
  return rows[0]!;
}

/** Pushes an agent's last_seen_at into the past, as if it had been silent for that many seconds. */
async function silence(agentKey: string, seconds: number) {
  await t.database.query(
    `UPDATE agents SET last_seen_at = now() - ($2::int * interval '1 second') WHERE agent_id = $1`,
    [agentKey, seconds],
  );
}

async function insertTask(key: string) {
  const m = await t.json("POST", "/api/missions", { body: { goal: "g" } });
  const rows = await t.database.query<{ id: number }>(
    "INSERT INTO tasks (task_id, mission_id, objective) VALUES ($1, $2, 'o') RETURNING id",
    [key, m.body.data.id],
  );
  return rows[0]!.id;
}

describe("every event's effect", () => {
  // [event, status after, current_task_id after (given the agent was working on task-x), traced]
  const table: Array<[string, string, string | null, boolean]> = [
    ["session_start", "idle", "task-x", true],
    ["task_start", "working", "task-new", true],
    ["task_complete", "idle", null, true],
    ["completed", "idle", null, true],
    ["blocked", "blocked", "task-x", true],
    ["waiting_for_input", "waiting_for_input", "task-x", true],
    ["error", "error", "task-x", true],
    ["stop", "offline", null, true],
    ["heartbeat", "working", "task-x", false],
  ];
  test.each(table)("%s → status %s, current task %s, traced %s", async (event, status, currentTask, traced) => {
    const a = await newAgent();
    const started = await report(a.agent_id, "task_start", { task_id: "task-x" });
    expect(started.status).toBe(200);
    const before = await stored(a.agent_id);
    const traceBefore = (await traceOf(a.agent_id)).length;
    const context = event === "task_start" ? { task_id: "task-new", description: "d" } : { description: "d" };

    const r = await report(a.agent_id, event, context);
    expect(r.status).toBe(200);
    expect(r.body.data).toMatchObject({ agent_id: a.agent_id, status, current_task_id: currentTask });
    const after = await stored(a.agent_id);
    expect(after.status).toBe(status);
    expect(after.current_task_id).toBe(currentTask);
    expect(after.last_seen_at!.getTime()).toBeGreaterThanOrEqual(before.last_seen_at!.getTime());
    expect(new Date(r.body.data.last_seen_at).getTime()).toBe(after.last_seen_at!.getTime());
    // The read agrees with the report's answer.
    expect((await t.json("GET", `/api/agents/${a.id}`)).body.data).toMatchObject({
      status,
      current_task_id: currentTask,
    });

    // The activity entry, then (when the status moved) one agent.status_changed saying from, to and why.
    const trace = (await traceOf(a.agent_id)).slice(traceBefore);
    const changed = status !== "working";
    expect(trace.map((e) => e.event)).toEqual(
      traced ? ["agent.activity", ...(changed ? ["agent.status_changed"] : [])] : [],
    );
    if (traced) {
      const e = trace[0]!;
      expect(e.actor).toBe("admin:test-admin");
      expect(e.data).toEqual({ event, context, status });
      expect(e.task_id).toBe(event === "task_start" ? "task-new" : null);
    }
    if (changed && traced) {
      expect(trace[1]!.data).toEqual({ from: "working", to: status, reason: "activity" });
      expect(trace[1]!.actor).toBe("admin:test-admin");
    }
    // It explains itself.
    expect(r.body.data.last_event).toEqual(
      traced ? { event, at: r.body.data.last_seen_at } : { event: "task_start", at: expect.any(String) },
    );
    if (traced)
      expect(r.body.data.status_reason).toBe(`${event} reported${event === "task_start" ? " (task-new)" : ""}: d`);
    if (!changed) expect(r.body.data.status_since).toBe(started.body.data.status_since);
  });

  test("last_seen_at moves forward with each event, heartbeats included", async () => {
    const a = await newAgent();
    expect(a.last_seen_at).toBeNull();
    await report(a.agent_id, "session_start");
    const first = (await stored(a.agent_id)).last_seen_at!;
    await silence(a.agent_id, 60);
    await report(a.agent_id, "heartbeat");
    const second = (await stored(a.agent_id)).last_seen_at!;
    expect(second.getTime()).toBeGreaterThanOrEqual(first.getTime());
  });

  test("heartbeat revives a stopped or never-seen agent as idle: the heartbeat is never traced, the status change is", async () => {
    const a = await newAgent();
    expect(a.status).toBe("offline");
    expect(a.status_reason).toBe("never heard from");
    const r1 = await report(a.agent_id, "heartbeat");
    expect(r1.status).toBe(200);
    expect(r1.body.data).toMatchObject({
      status: "idle",
      status_reason: "heartbeat after being offline",
      last_event: null,
    });
    await report(a.agent_id, "stop");
    const r2 = await report(a.id, "heartbeat");
    expect(r2.body.data.status).toBe("idle");
    expect(
      (await traceOf(a.agent_id)).map((e) =>
        e.event === "agent.status_changed" ? `${e.data.from}>${e.data.to}:${e.data.reason}` : (e.data.event ?? e.event),
      ),
    ).toEqual(["agent.created", "offline>idle:heartbeat", "stop", "idle>offline:activity", "offline>idle:heartbeat"]);
  });

  test("heartbeat keeps updated_at unless it revives the agent", async () => {
    const a = await newAgent();
    await report(a.agent_id, "session_start");
    const before = await stored(a.agent_id);
    await report(a.agent_id, "heartbeat");
    expect((await stored(a.agent_id)).updated_at.getTime()).toBe(before.updated_at.getTime());
  });

  test("task_start without a task clears the current task; with an integer id it stores the task's key", async () => {
    const a = await newAgent();
    const taskId = await insertTask("act-real-task");
    const r = await report(a.agent_id, "task_start", { task_id: taskId });
    expect(r.body.data.current_task_id).toBe("act-real-task");
    expect((await traceOf(a.agent_id)).at(-1)!.task_id).toBe("act-real-task");
    const r2 = await report(a.agent_id, "task_start");
    expect(r2.body.data).toMatchObject({ status: "working", current_task_id: null });
    const r3 = await report(a.agent_id, "task_start", { task_id: null });
    expect(r3.body.data.current_task_id).toBeNull();
  });

  test("a heartbeat is one UPDATE statement", async () => {
    const a = await newAgent();
    await report(a.agent_id, "session_start");
    const statements: string[] = [];
    const session = t.database.db._.session;
    const proto = Object.getPrototypeOf(session);
    const original = proto.prepareQuery;
    proto.prepareQuery = function (this: unknown, query: { sql: string }, ...rest: unknown[]) {
      statements.push(query.sql);
      return original.call(this, query, ...rest);
    };
    try {
      expect((await report(a.agent_id, "heartbeat")).status).toBe(200);
    } finally {
      proto.prepareQuery = original;
    }
    // (The token lookup joins agents too, when it is not cached, and the staleness sweep reads them on its own
    // timer, every few hundred milliseconds, so on a busy machine during the request: neither is the
    // heartbeat's work.)
    const sweep = /"agents"\."last_seen_at" < now\(\)/;
    const agentStatements = statements.filter((s) => /"agents"/.test(s) && !/api_tokens/.test(s) && !sweep.test(s));
    expect(agentStatements).toHaveLength(1);
    expect(agentStatements[0]).toMatch(/^update "agents"/);
    expect(statements.filter((s) => /trace_entries/.test(s))).toEqual([]);
  });
});

describe("auto-registration", () => {
  test("first report of an unknown key → 201 and registered; the next → 200", async () => {
    const r = await report("auto-1", "task_start", { task_id: "task-001", description: "Working on login endpoint" });
    expect(r.status).toBe(201);
    expect(r.headers.location).toBe("/api/agents/auto-1");
    expect(r.body.data).toMatchObject({
      agent_id: "auto-1",
      name: "auto-1",
      adapter_module: "manual",
      capabilities: [],
      config: {},
      status: "working",
      current_task_id: "task-001",
    });
    expect(r.body.data.last_seen_at).not.toBeNull();
    const again = await report("auto-1", "task_complete");
    expect(again.status).toBe(200);
    expect(again.body.data).toMatchObject({ id: r.body.data.id, status: "idle", current_task_id: null });
    const trace = await traceOf("auto-1");
    expect(trace.map((e) => e.event)).toEqual([
      "agent.registered",
      "agent.activity",
      "agent.status_changed",
      "agent.activity",
      "agent.status_changed",
    ]);
    expect(trace[2]!.data).toEqual({ from: "offline", to: "working", reason: "activity" });
    expect(trace[4]!.data).toEqual({ from: "working", to: "idle", reason: "activity" });
    expect(trace[0]!.data).toEqual({ event: "task_start" });
    expect(trace[1]!.data).toEqual({
      event: "task_start",
      context: { task_id: "task-001", description: "Working on login endpoint" },
      status: "working",
    });
  });

  test("a heartbeat registers an unknown agent as idle: the registration is traced, the heartbeat is not", async () => {
    const r = await report("auto-hb", "heartbeat");
    expect(r.status).toBe(201);
    expect(r.body.data.status).toBe("idle");
    expect((await report("auto-hb", "heartbeat")).status).toBe(200);
    const trace = await traceOf("auto-hb");
    expect(trace.map((e) => [e.event, e.data])).toEqual([
      ["agent.registered", { event: "heartbeat" }],
      ["agent.status_changed", { from: "offline", to: "idle", reason: "heartbeat" }],
    ]);
  });

  test("concurrent first reports of one agent: one 201, the rest 200, one agent", async () => {
    const results = await Promise.all(Array.from({ length: 5 }, () => report("auto-race", "session_start")));
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 201]);
    const rows = await t.database.query("SELECT id FROM agents WHERE agent_id = 'auto-race'");
    expect(rows).toHaveLength(1);
    const trace = await traceOf("auto-race");
    expect(trace.filter((e) => e.event === "agent.registered")).toHaveLength(1);
    expect(trace.filter((e) => e.event === "agent.activity")).toHaveLength(5);
  });

  test.each([
    ["an unknown integer id", "987654", 404, { errors: { detail: "Not Found" } }],
    ["an out-of-range number", "99999999999999999999", 404, { errors: { detail: "Not Found" } }],
    ["an invalid key", "bad key!", 422, { errors: { agent_id: ["has an invalid format"] } }],
  ])("%s cannot register → %i", async (_name, id, status, body) => {
    const before = (await t.database.query<{ n: number }>("SELECT count(*)::int AS n FROM agents"))[0]!.n;
    const r = await report(encodeURIComponent(id), "session_start");
    expect(r.status).toBe(status);
    expect(r.body).toEqual(body);
    expect((await t.database.query<{ n: number }>("SELECT count(*)::int AS n FROM agents"))[0]!.n).toBe(before);
  });
});

describe("bad reports change nothing", () => {
  const bad: Array<[string, unknown, Record<string, string[]>]> = [
    ["missing event", {}, { event: ["is required"] }],
    [
      "unknown event",
      { event: "dancing" },
      {
        event: [
          "must be one of: session_start, task_start, task_complete, blocked, completed, error, stop, waiting_for_input, heartbeat",
        ],
      },
    ],
    ["context not an object", { event: "blocked", context: "x" }, { context: ["must be object"] }],
    [
      "task_id of the wrong type",
      { event: "task_start", context: { task_id: true } },
      { "context.task_id": ["has an invalid type or value"] },
    ],
    [
      "unknown integer task id",
      { event: "task_start", context: { task_id: 987654 } },
      { "context.task_id": ["does not exist"] },
    ],
    ["unknown field", { event: "blocked", extra: 1 }, { extra: ["is not a known field"] }],
  ];
  test.each(bad)("%s → 422", async (_name, body, errors) => {
    const a = await newAgent();
    await report(a.agent_id, "session_start");
    const before = await stored(a.agent_id);
    const traceBefore = await traceOf(a.agent_id);
    const r = await t.json("POST", `/api/agents/${a.agent_id}/activity`, { body });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
    expect(await stored(a.agent_id)).toEqual(before);
    expect(await traceOf(a.agent_id)).toEqual(traceBefore);
  });

  test("an unknown key with a bad report registers nothing", async () => {
    const r = await report("never-made", "task_start", { task_id: 987654 });
    expect(r.status).toBe(422);
    expect((await t.json("GET", "/api/agents/never-made")).status).toBe(404);
  });
});

describe("agent tokens", () => {
  test("an agent posts its own activity (by key or id), traced under its own name", async () => {
    const token = await t.agentToken("self-reporter");
    const own = (await t.json("GET", "/api/agents/self-reporter")).body.data;
    const r = await report("self-reporter", "task_start", { task_id: "t-1" }, token);
    expect(r.status).toBe(200);
    expect(r.body.data.status).toBe("working");
    expect((await report(own.id, "heartbeat", undefined, token)).status).toBe(200);
    const trace = await traceOf("self-reporter");
    expect(trace.at(-1)!.actor).toBe("agent:self-reporter");
  });

  test("another agent's activity → 403, and an agent token cannot register agents", async () => {
    const token = await t.agentToken("nosy");
    const victim = await newAgent();
    await report(victim.agent_id, "session_start");
    const before = await stored(victim.agent_id);
    for (const target of [victim.agent_id, String(victim.id), "brand-new-agent", "bad key!"]) {
      for (const event of ["task_start", "heartbeat"]) {
        const r = await report(encodeURIComponent(target), event, undefined, token);
        expect(r.status, `${target} ${event}`).toBe(403);
        expect(r.body).toEqual({ errors: { detail: "Forbidden" } });
      }
    }
    expect(await stored(victim.agent_id)).toEqual(before);
    expect((await t.json("GET", "/api/agents/brand-new-agent")).status).toBe(404);
  });

  test("members may report any agent's activity and register agents", async () => {
    const r = await report("member-registered", "session_start", undefined, t.member);
    expect(r.status).toBe(201);
    expect((await traceOf("member-registered")).map((e) => e.actor)).toEqual([
      "member:test-member",
      "member:test-member",
      "member:test-member",
    ]);
  });
});

describe("staleness (default window, 300 s)", () => {
  test("an agent never heard from reads offline", async () => {
    const a = await newAgent();
    expect(a.status).toBe("offline");
    expect((await t.json("GET", `/api/agents/${a.id}`)).body.data.status).toBe("offline");
  });

  test("an agent silent past the window is made offline (written, traced, explained); one within it keeps its status", async () => {
    const a = await newAgent();
    await report(a.agent_id, "task_start", { task_id: "stale-task" });
    await silence(a.agent_id, 290);
    // Two daemon ticks at least, still well within the window: still working.
    await new Promise((r) => setTimeout(r, 1_200));
    expect((await t.json("GET", `/api/agents/${a.id}`)).body.data.status).toBe("working");
    await silence(a.agent_id, 301);
    const r = await waitFor(
      async () => {
        const x = await t.json("GET", `/api/agents/${a.id}`);
        return x.body.data.status === "offline" ? x : null;
      },
      10_000,
      "the daemon to make the agent offline",
    );
    expect(r.body.data.status_reason).toMatch(/^no heartbeat for 30[0-9] s$/);
    expect((await stored(a.agent_id)).status).toBe("offline");
    const changes = (await traceOf(a.agent_id)).filter((e) => e.event === "agent.status_changed");
    expect(changes.at(-1)!.data).toMatchObject({ from: "working", to: "offline", reason: "stale" });
    expect(changes.at(-1)!.actor).toBe("system:staleness");
    // A heartbeat proves it alive again: idle, as for any offline agent, and the revival is traced.
    const hb = await report(a.agent_id, "heartbeat");
    expect(hb.body.data).toMatchObject({ status: "idle", current_task_id: "stale-task" });
    expect((await traceOf(a.agent_id)).filter((e) => e.data.event === "heartbeat")).toEqual([]);
    expect((await traceOf(a.agent_id)).at(-1)!.data).toEqual({ from: "offline", to: "idle", reason: "heartbeat" });
  });

  test("the list's status filter reads status the same way", async () => {
    const fresh = await newAgent();
    const stale = await newAgent();
    const never = await newAgent();
    const stopped = await newAgent();
    await report(fresh.agent_id, "blocked");
    await report(stale.agent_id, "blocked");
    await report(stopped.agent_id, "stop");
    await silence(stale.agent_id, 3600);
    await waitFor(async () => (await stored(stale.agent_id)).status === "offline", 10_000, "the daemon");
    const keys = [fresh.agent_id, stale.agent_id, never.agent_id, stopped.agent_id];
    const listed = async (status: string) =>
      ((await t.json("GET", "/api/agents", { query: { status, limit: "500" } })).body.data as Agent[])
        .filter((x) => keys.includes(x.agent_id))
        .map((x) => [x.agent_id, x.status]);
    expect(await listed("blocked")).toEqual([[fresh.agent_id, "blocked"]]);
    expect(await listed("offline")).toEqual([
      [stale.agent_id, "offline"],
      [never.agent_id, "offline"],
      [stopped.agent_id, "offline"],
    ]);
    const all = ((await t.json("GET", "/api/agents", { query: { limit: "500" } })).body.data as Agent[]).filter((x) =>
      keys.includes(x.agent_id),
    );
    expect(all.map((x) => x.status)).toEqual(["blocked", "offline", "offline", "offline"]);
  });
});

describe("staleness window from MC_AGENT_STALE_AFTER_S", () => {
  let s: TestContext;
  beforeAll(async () => {
    s = await createTestContext({ MC_AGENT_STALE_AFTER_S: "1" });
  });
  afterAll(async () => {
    await s.close();
  });

  test("with a 1 s window an agent goes offline after a second of silence, and a heartbeat brings it back", async () => {
    const r = await s.json("POST", "/api/agents/quick/activity", { body: { event: "session_start" } });
    expect(r.status).toBe(201);
    expect((await s.json("GET", "/api/agents/quick")).body.data.status).toBe("idle");
    await waitFor(
      async () => (await s.json("GET", "/api/agents/quick")).body.data.status === "offline",
      10_000,
      "stale",
    );
    expect(
      (await s.json("GET", "/api/agents", { query: { status: "offline" } })).body.data.map((a: any) => a.agent_id),
    ).toEqual(["quick"]);
    expect((await s.json("GET", "/api/agents", { query: { status: "idle" } })).body.data).toEqual([]);
    const hb = await s.json("POST", "/api/agents/quick/activity", { body: { event: "heartbeat" } });
    expect(hb.body.data.status).toBe("idle");
    expect((await s.json("GET", "/api/agents/quick")).body.data.status).toBe("idle");
  });
});
