// Replay: the pure fold on its own, then POST /api/missions/:mission_id/replay against the state the real
// routes leave behind (missions and tasks), including a property-based run of long random sequences of
// operations, `until` in the past, and the answers when the trace and the stored state disagree.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { emptyReplay, foldTrace, type FoldEntry } from "../../src/trace/replay.fold.js";
import { appendTrace } from "../../src/trace/trace.append.js";
import { createTestContext, type TestContext } from "../harness.js";
import { append, createMission, sql, uniq } from "./helpers.js";

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t.close();
});

let n = 0;
const entry = (event: string, data: unknown, task_id: string | null = null, actor = "admin:test"): FoldEntry => ({
  id: ++n,
  at: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
  event,
  actor,
  task_id,
  data,
});

describe("the fold", () => {
  test("mission and task events rebuild status, agent and a timeline", () => {
    const es = [
      entry("mission.created", { goal: "g", status: "planning", description: null, metadata: {} }),
      entry("mission.status_changed", { from: "planning", to: "active", via: "start" }),
      entry(
        "task.created",
        {
          objective: "o",
          status: "pending",
          agent_id: null,
          sprint_id: null,
          priority: null,
          requirement_ids: [],
          outputs: {},
        },
        "t1",
      ),
      entry("task.created", { objective: "o", status: "pending", agent_id: "a1" }, "t2"),
      entry("task.updated", { changes: { agent_id: "a2", objective: "new" } }, "t1"),
      entry("task.status_changed", { from: "pending", to: "in_progress", via: "report" }, "t1", "agent:a2"),
      entry("task.reported", { outputs: { x: 1 }, logs_added: 2 }, "t1"),
      entry("task.updated", { changes: { agent_id: null } }, "t2"),
      entry("mission.updated", { changes: { goal: "g2" } }),
    ];
    const s = foldTrace(emptyReplay("m1"), es);
    expect(s.mission).toEqual({ mission_id: "m1", status: "active" });
    expect([...s.tasks.values()]).toEqual([
      { task_id: "t1", status: "in_progress", agent_id: "a2" },
      { task_id: "t2", status: "pending", agent_id: null },
    ]);
    expect(s.events_replayed).toBe(9);
    expect(s.skipped).toBe(0);
    expect(s.timeline).toEqual([
      { at: es[1]!.at, task_id: null, from: "planning", to: "active", actor: "admin:test" },
      { at: es[5]!.at, task_id: "t1", from: "pending", to: "in_progress", actor: "agent:a2" },
    ]);
  });

  test("events outside the mission's state are skipped and counted", () => {
    const s = foldTrace(emptyReplay("m1"), [
      entry("mission.created", { status: "planning" }),
      entry("agent.session_start", { context: {} }),
      entry("policy.evaluated", { action: {}, decision: "allow" }),
      entry("knowledge.document_created", {}),
      entry("token.created", {}),
      entry("mission.agent_added", { agent_id: "a" }),
      entry("task.dispatched", { agent_id: "a" }, "t1"),
    ]);
    expect(s.events_replayed).toBe(1);
    expect(s.skipped).toBe(6);
    expect(s.mission.status).toBe("planning");
  });

  // Total: nothing a stored entry holds can make it throw; what it cannot use it skips.
  const unusable: Array<[string, FoldEntry]> = [
    ["data not an object", entry("mission.status_changed", "active")],
    ["data null", entry("task.created", null, "t9")],
    ["data an array", entry("task.created", [1], "t9")],
    ["status_changed without to", entry("mission.status_changed", { from: "planning" })],
    ["to not a string", entry("mission.status_changed", { to: 5 })],
    ["task.created without task_id", entry("task.created", { status: "pending" }, null)],
    ["task.created twice", entry("task.created", { status: "pending", agent_id: null }, "t1")],
    ["task.created with agent_id a number", entry("task.created", { status: "pending", agent_id: 7 }, "t8")],
    ["status change of an unknown task", entry("task.status_changed", { from: "pending", to: "failed" }, "nope")],
    ["update of an unknown task", entry("task.updated", { changes: { agent_id: "a" } }, "nope")],
    ["update without changes", entry("task.updated", { agent_id: "a" }, "t1")],
    ["update with a bad agent", entry("task.updated", { changes: { agent_id: { id: 1 } } }, "t1")],
    ["mission.created twice", entry("mission.created", { status: "active" })],
    ["report of an unknown task", entry("task.reported", { outputs: {} }, "nope")],
  ];
  test.each(unusable)("%s → skipped, state unchanged", (_name, bad) => {
    const base = foldTrace(emptyReplay("m1"), [
      entry("mission.created", { status: "planning" }),
      entry("task.created", { status: "pending", agent_id: "a" }, "t1"),
    ]);
    const s = foldTrace(base, [bad]);
    expect(s.skipped).toBe(1);
    expect(s.events_replayed).toBe(2);
    expect(s.mission).toEqual(base.mission);
    expect([...s.tasks.values()]).toEqual([...base.tasks.values()]);
    expect(s.timeline).toEqual([]);
  });

  test("events before mission.created are skipped", () => {
    const s = foldTrace(emptyReplay("m1"), [
      entry("mission.status_changed", { to: "active" }),
      entry("mission.updated", { changes: {} }),
    ]);
    expect(s).toMatchObject({ mission: { status: null }, skipped: 2, events_replayed: 0 });
  });

  test("pure: the input state is left as it was, and folding in parts equals folding at once", () => {
    const es = [
      entry("mission.created", { status: "planning" }),
      entry("task.created", { status: "pending", agent_id: null }, "t1"),
      entry("task.status_changed", { from: "pending", to: "blocked" }, "t1"),
      entry("task.updated", { changes: { agent_id: "z" } }, "t1"),
      entry("mission.status_changed", { from: "planning", to: "cancelled" }),
    ];
    const a = foldTrace(emptyReplay("m"), es.slice(0, 2));
    const snapshot = JSON.stringify({ ...a, tasks: [...a.tasks.values()] });
    const b = foldTrace(a, es.slice(2));
    expect(JSON.stringify({ ...a, tasks: [...a.tasks.values()] })).toBe(snapshot);
    const once = foldTrace(emptyReplay("m"), es);
    expect({ ...b, tasks: [...b.tasks.values()] }).toEqual({ ...once, tasks: [...once.tasks.values()] });
  });

  test("property: any sequence of arbitrary entries folds without throwing and counts every entry", () => {
    const anyEntry = fc.record({
      id: fc.nat(),
      at: fc.constant("2026-01-01T00:00:00.000Z"),
      event: fc.oneof(
        fc.constantFrom(
          "mission.created",
          "mission.updated",
          "mission.status_changed",
          "task.created",
          "task.updated",
          "task.status_changed",
          "task.reported",
        ),
        fc.string(),
      ),
      actor: fc.string(),
      task_id: fc.option(fc.constantFrom("t1", "t2", "t3"), { nil: null }),
      data: fc.oneof(
        fc.jsonValue(),
        fc.record({
          status: fc.constantFrom("pending", "active", 1),
          to: fc.option(fc.constantFrom("x", "y"), { nil: undefined }),
          changes: fc.option(fc.dictionary(fc.constantFrom("agent_id", "status", "goal"), fc.jsonValue()), {
            nil: undefined,
          }),
          agent_id: fc.option(fc.string(), { nil: null }),
        }),
      ),
    });
    fc.assert(
      fc.property(fc.array(anyEntry, { maxLength: 60 }), (es) => {
        const s = foldTrace(emptyReplay("m"), es as FoldEntry[]);
        expect(s.events_replayed + s.skipped).toBe(es.length);
      }),
      { numRuns: 300 },
    );
  });
});

interface Snapshot {
  mission: { mission_id: string; status: string };
  tasks: Array<{ task_id: string; status: string; agent_id: string | null }>;
}

async function stored(missionKey: string): Promise<Snapshot> {
  const m = await t.json("GET", `/api/missions/${missionKey}`);
  const tasks = await t.json("GET", `/api/missions/${missionKey}/tasks`, { query: { limit: "500" } });
  return {
    mission: { mission_id: m.body.data.mission_id, status: m.body.data.status },
    tasks: tasks.body.data.map((x: any) => ({ task_id: x.task_id, status: x.status, agent_id: x.agent_id })),
  };
}

async function replay(missionId: string | number, body?: unknown) {
  const r = await t.json("POST", `/api/missions/${missionId}/replay`, { body });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.data;
}

async function traceCount(missionKey: string) {
  return (
    await sql<{ n: number }>(t, "SELECT count(*)::int AS n FROM trace_entries WHERE mission_id = $1", [missionKey])
  )[0]!.n;
}

describe("POST /api/missions/:mission_id/replay", () => {
  test("the contract's answer, plus skipped and timeline", async () => {
    await t.agentToken("replay-agent-1");
    const m = await createMission(t);
    expect((await t.json("POST", `/api/missions/${m.mission_id}/start`)).status).toBe(200);
    const task = await t.json("POST", `/api/missions/${m.mission_id}/tasks`, {
      body: { task: { task_id: uniq("task"), objective: "Implement login endpoint", agent_id: "replay-agent-1" } },
    });
    expect(task.status).toBe(201);
    const tk = task.body.data.task_id;
    expect(
      (
        await t.json("POST", `/api/tasks/${tk}/report`, {
          body: { progress: { status: "in_progress", outputs: { a: 1 } } },
        })
      ).status,
    ).toBe(200);
    await append(t, {
      event: "policy.evaluated",
      actor: "admin:test",
      missionId: m.mission_id,
      data: { action: { type: "shell" }, source: "api", decision: "allow" },
    });

    const r = await t.json("POST", `/api/missions/${m.mission_id}/replay`);
    expect(r.status).toBe(200);
    expect(Object.keys(r.body.data).sort()).toEqual(
      ["chain_valid", "consistent", "events_replayed", "mission", "skipped", "tasks", "timeline"].sort(),
    );
    expect(r.body.data).toMatchObject({
      mission: { mission_id: m.mission_id, status: "active" },
      tasks: [{ task_id: tk, status: "in_progress", agent_id: "replay-agent-1" }],
      events_replayed: 5, // mission.created, status_changed, task.created, task.status_changed, task.reported
      skipped: 1,
      chain_valid: true,
      consistent: true,
    });
    expect(r.body.data.timeline).toEqual([
      { at: expect.stringMatching(/Z$/), task_id: null, from: "planning", to: "active", actor: "admin:test-admin" },
      { at: expect.stringMatching(/Z$/), task_id: tk, from: "pending", to: "in_progress", actor: "admin:test-admin" },
    ]);
    // By integer id too, and the same answer.
    expect(await replay(m.id)).toEqual(r.body.data);
  });

  test("a mission without tasks", async () => {
    const m = await createMission(t);
    expect(await replay(m.mission_id)).toEqual({
      mission: { mission_id: m.mission_id, status: "planning" },
      tasks: [],
      events_replayed: 1,
      skipped: 0,
      chain_valid: true,
      consistent: true,
      timeline: [],
    });
  });

  test("property: after a long random sequence of operations the replay equals the stored state", async () => {
    const agentKeys = ["prop-agent-a", "prop-agent-b", "prop-agent-c"];
    for (const k of agentKeys) await t.agentToken(k);
    const MISSION_MOVES: Record<string, string[]> = {
      planning: ["start", "completed", "failed", "cancelled"],
      active: ["pause", "completed", "failed", "cancelled"],
      paused: ["start", "completed", "failed", "cancelled"],
    };
    const LEGAL: Record<string, string[]> = {
      pending: ["in_progress", "blocked", "failed"],
      in_progress: ["blocked", "pending_review", "completed", "failed"],
      blocked: ["pending", "in_progress", "failed"],
      pending_review: ["in_progress"], // completed/rejected only through approve/reject
      rejected: ["pending", "in_progress"],
      failed: ["pending"],
      completed: [],
    };
    const op = fc.oneof(
      {
        weight: 2,
        arbitrary: fc.record({
          k: fc.constant("mission"),
          pick: fc.nat(),
          terminal: fc.nat({ max: 5 }).map((x) => x === 0),
        }),
      },
      {
        weight: 3,
        arbitrary: fc.record({ k: fc.constant("create"), agent: fc.option(fc.nat({ max: 2 }), { nil: null }) }),
      },
      {
        weight: 2,
        arbitrary: fc.record({
          k: fc.constant("assign"),
          task: fc.nat(),
          agent: fc.option(fc.nat({ max: 2 }), { nil: null }),
        }),
      },
      {
        weight: 6,
        arbitrary: fc.record({
          k: fc.constant("move"),
          task: fc.nat(),
          pick: fc.nat(),
          via: fc.constantFrom("report", "patch"),
        }),
      },
      { weight: 2, arbitrary: fc.record({ k: fc.constant("review"), task: fc.nat(), approve: fc.boolean() }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant("illegal"), task: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant("noise") }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant("goal"), text: fc.string({ minLength: 1, maxLength: 20 }) }) },
    );

    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 20, maxLength: 70 }), async (ops) => {
        const m = await createMission(t);
        const key = m.mission_id;
        let mission = "planning";
        const tasks: Array<{ id: string; status: string; agent: string | null }> = [];
        const ok = (r: { status: number; body: unknown }, what: string) =>
          expect(r.status, `${what}: ${JSON.stringify(r.body)}`).toBe(200);

        for (const o of ops) {
          const task = "task" in o && tasks.length > 0 ? tasks[o.task % tasks.length]! : undefined;
          switch (o.k) {
            case "mission": {
              const moves = MISSION_MOVES[mission] ?? [];
              if (moves.length === 0) break;
              const mv = o.terminal ? moves[moves.length - 1 - (o.pick % 3)]! : moves[o.pick % moves.length]!;
              const r =
                mv === "start" || mv === "pause"
                  ? await t.json("POST", `/api/missions/${key}/${mv}`)
                  : await t.json("PATCH", `/api/missions/${key}`, { body: { status: mv } });
              ok(r, `mission ${mv}`);
              mission = r.body.data.status;
              // A mission that ends fails its open tasks in the same transaction (pending_review stays).
              if (["completed", "failed", "cancelled"].includes(mission)) {
                for (const x of tasks)
                  if (["pending", "in_progress", "blocked", "rejected"].includes(x.status)) x.status = "failed";
              }
              break;
            }
            case "create": {
              const agent = o.agent === null ? null : agentKeys[o.agent]!;
              const r = await t.json("POST", `/api/missions/${key}/tasks`, {
                body: { objective: "o", agent_id: agent },
              });
              expect(r.status, JSON.stringify(r.body)).toBe(201);
              tasks.push({ id: r.body.data.task_id, status: "pending", agent });
              break;
            }
            case "assign": {
              if (!task) break;
              const agent = o.agent === null ? null : agentKeys[o.agent]!;
              ok(await t.json("PATCH", `/api/tasks/${task.id}`, { body: { agent_id: agent } }), "assign");
              task.agent = agent;
              break;
            }
            case "move": {
              if (!task) break;
              const legal = LEGAL[task.status]!;
              if (legal.length === 0) break;
              const to = legal[o.pick % legal.length]!;
              const r =
                o.via === "report"
                  ? await t.json("POST", `/api/tasks/${task.id}/report`, {
                      body: { progress: { status: to, outputs: { step: o.pick } } },
                    })
                  : await t.json("PATCH", `/api/tasks/${task.id}`, { body: { status: to } });
              ok(r, `move ${task.status} → ${to} via ${o.via}`);
              task.status = to;
              break;
            }
            case "review": {
              if (!task || task.status !== "pending_review") break;
              const r = await t.json("POST", `/api/tasks/${task.id}/${o.approve ? "approve" : "reject"}`, {
                body: { comment: "c" },
              });
              ok(r, "review");
              task.status = o.approve ? "completed" : "rejected";
              break;
            }
            case "illegal": {
              if (!task) break;
              // A move the table forbids changes nothing and leaves no entry.
              const to =
                task.status === "completed" ? "pending" : task.status === "pending" ? "completed" : "pending_review";
              if (to === task.status || LEGAL[task.status]!.includes(to)) break;
              const before = await traceCount(key);
              const r = await t.json("POST", `/api/tasks/${task.id}/report`, { body: { progress: { status: to } } });
              expect(r.status).toBe(422);
              expect(await traceCount(key)).toBe(before);
              break;
            }
            case "noise":
              await append(t, {
                event: "policy.evaluated",
                actor: "admin:test",
                missionId: key,
                data: { action: { type: "shell" }, source: "api", decision: "warn" },
              });
              break;
            case "goal":
              ok(await t.json("PATCH", `/api/missions/${key}`, { body: { goal: o.text } }), "goal");
              break;
          }
        }

        const r = await replay(key);
        const s = await stored(key);
        expect(r.chain_valid).toBe(true);
        expect(r.consistent).toBe(true);
        expect(r.mission).toEqual(s.mission);
        expect(r.tasks).toEqual(s.tasks);
        // And both equal the test's own model of what the operations did.
        expect(r.mission.status).toBe(mission);
        expect(r.tasks).toEqual(tasks.map((x) => ({ task_id: x.id, status: x.status, agent_id: x.agent })));
        expect(r.events_replayed + r.skipped).toBe(await traceCount(key));
        const statusChanges = (
          await sql<{ n: number }>(
            t,
            "SELECT count(*)::int AS n FROM trace_entries WHERE mission_id = $1 AND event IN ('mission.status_changed', 'task.status_changed')",
            [key],
          )
        )[0]!.n;
        expect(r.timeline).toHaveLength(statusChanges);
      }),
      { numRuns: 10 },
    );
  }, 300_000);

  test("until in the past rebuilds the state of that moment; consistent is null", async () => {
    await t.agentToken("until-agent");
    const m = await createMission(t);
    const tick = () => new Promise((r) => setTimeout(r, 15));
    await tick();
    const t0 = new Date().toISOString(); // after mission.created
    await tick();
    await t.json("POST", `/api/missions/${m.mission_id}/start`);
    const task = (await t.json("POST", `/api/missions/${m.mission_id}/tasks`, { body: { objective: "o" } })).body.data
      .task_id;
    await tick();
    const t1 = new Date().toISOString();
    const past = await stored(m.mission_id);
    await tick();
    await t.json("PATCH", `/api/tasks/${task}`, { body: { agent_id: "until-agent" } });
    await t.json("POST", `/api/tasks/${task}/report`, { body: { progress: { status: "in_progress" } } });
    await t.json("POST", `/api/missions/${m.mission_id}/pause`);

    const at1 = await replay(m.mission_id, { until: t1 });
    expect(at1).toMatchObject({
      mission: past.mission,
      tasks: past.tasks,
      consistent: null,
      chain_valid: true,
      events_replayed: 3,
    });
    expect(at1.tasks).toEqual([{ task_id: task, status: "pending", agent_id: null }]);
    expect(at1.timeline.map((l: any) => l.to)).toEqual(["active"]);

    const at0 = await replay(m.mission_id, { until: t0 });
    expect(at0).toMatchObject({
      mission: { mission_id: m.mission_id, status: "planning" },
      tasks: [],
      events_replayed: 1,
      consistent: null,
    });

    const before = await replay(m.mission_id, { until: "2000-01-01T00:00:00Z" });
    expect(before).toMatchObject({
      mission: { status: null },
      tasks: [],
      events_replayed: 0,
      skipped: 0,
      timeline: [],
      consistent: null,
    });

    // A moment after everything: the full state, still with consistent null (until was given).
    const now = await replay(m.mission_id, { until: new Date(Date.now() + 60_000).toISOString() });
    const full = await replay(m.mission_id);
    expect(now).toEqual({ ...full, consistent: null });
    expect(full.tasks).toEqual([{ task_id: task, status: "in_progress", agent_id: "until-agent" }]);
    expect(full.mission.status).toBe("paused");

    // Offsets other than Z name the same moment.
    const shifted = new Date(t1).getTime() + 2 * 3600_000;
    const iso = new Date(shifted).toISOString().replace("Z", "+02:00");
    expect(await replay(m.mission_id, { until: iso })).toEqual(at1);
  });

  test("a change made behind the trace's back → consistent false (chain still valid)", async () => {
    const m = await createMission(t);
    const task = (await t.json("POST", `/api/missions/${m.mission_id}/tasks`, { body: { objective: "o" } })).body.data
      .task_id;
    await sql(t, "UPDATE tasks SET status = 'completed' WHERE task_id = $1", [task]);
    expect(await replay(m.mission_id)).toMatchObject({
      consistent: false,
      chain_valid: true,
      tasks: [{ task_id: task, status: "pending" }],
    });

    const m2 = await createMission(t);
    await sql(t, "UPDATE missions SET status = 'active' WHERE mission_id = $1", [m2.mission_id]);
    expect(await replay(m2.mission_id)).toMatchObject({ consistent: false, mission: { status: "planning" } });

    const m3 = await createMission(t);
    await sql(t, "INSERT INTO tasks (task_id, mission_id, objective) VALUES ($1, $2, 'o')", [uniq("ghost"), m3.id]);
    expect(await replay(m3.mission_id)).toMatchObject({ consistent: false, tasks: [] });

    const m4 = await createMission(t);
    const a = await t.json("POST", `/api/missions/${m4.mission_id}/tasks`, {
      body: { objective: "o", agent_id: null },
    });
    const agent = await t.agentToken(uniq("sneaky"));
    void agent;
    await sql(t, "UPDATE tasks SET agent_id = (SELECT max(id) FROM agents) WHERE task_id = $1", [a.body.data.task_id]);
    expect(await replay(m4.mission_id)).toMatchObject({ consistent: false });
  });

  test("a tampered trace → chain_valid false", async () => {
    const m = await createMission(t);
    await t.json("POST", `/api/missions/${m.mission_id}/start`);
    await sql(
      t,
      'UPDATE trace_entries SET data = \'{"from": "planning", "to": "paused"}\' WHERE mission_id = $1 AND event = \'mission.status_changed\'',
      [m.mission_id],
    );
    const r = await replay(m.mission_id);
    expect(r).toMatchObject({ chain_valid: false, consistent: false, mission: { status: "paused" } });
  });

  test("a chain longer than one batch replays in batches", async () => {
    const m = await createMission(t);
    const task = (await t.json("POST", `/api/missions/${m.mission_id}/tasks`, { body: { objective: "o" } })).body.data
      .task_id;
    const moves = ["in_progress", "blocked"];
    await t.database.db.transaction(async (tx) => {
      for (let i = 0; i < 1100; i++) {
        const to = moves[i % 2]!;
        await appendTrace(tx, {
          event: "task.status_changed",
          actor: "bulk",
          missionId: m.mission_id,
          taskId: task,
          data: { from: moves[(i + 1) % 2]!, to, via: "report" },
        });
      }
    });
    await sql(t, "UPDATE tasks SET status = 'blocked' WHERE task_id = $1", [task]);
    const r = await replay(m.mission_id);
    expect(r).toMatchObject({
      chain_valid: true,
      consistent: true,
      events_replayed: 1102,
      tasks: [{ task_id: task, status: "blocked" }],
    });
    expect(r.timeline).toHaveLength(1100);
  });
});

describe("replay errors", () => {
  test.each(["no-such", "999999", "bad key!"])("unknown mission %s → 404", async (id) => {
    const r = await t.json("POST", `/api/missions/${encodeURIComponent(id)}/replay`);
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ errors: { detail: "Not Found" } });
  });

  const bad: Array<[string, unknown, Record<string, string[]>]> = [
    ["until not a timestamp", { until: "yesterday" }, { until: ["must be a valid date-time"] }],
    ["until a date only", { until: "2026-01-01" }, { until: ["must be a valid date-time"] }],
    ["until a number", { until: 5 }, { until: ["must be string"] }],
    ["unknown field", { since: "2026-01-01T00:00:00Z" }, { since: ["is not a known field"] }],
    ["body an array", [1], { body: ["must be object"] }],
  ];
  test.each(bad)("%s → 422", async (_name, body, errors) => {
    const m = await createMission(t);
    const r = await t.json("POST", `/api/missions/${m.mission_id}/replay`, { body });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
  });

  test("no token → 401; agent token → 403; member → 200", async () => {
    const m = await createMission(t);
    const r = await t.json("POST", `/api/missions/${m.mission_id}/replay`, { token: null });
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ errors: { detail: "Unauthorized" } });
    const a = await t.json("POST", `/api/missions/${m.mission_id}/replay`, {
      token: await t.agentToken(uniq("agent")),
    });
    expect(a.status).toBe(403);
    expect(a.body).toEqual({ errors: { detail: "Forbidden" } });
    expect((await t.json("POST", `/api/missions/${m.mission_id}/replay`, { token: t.member })).status).toBe(200);
  });
});
