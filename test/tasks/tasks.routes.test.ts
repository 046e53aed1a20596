import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, type TestContext } from "../harness.js";
import {
  createMission,
  createTask,
  insertAgent,
  insertRequirement,
  insertSprint,
  putAgentOnMission,
  taskTrace,
  uniq,
} from "./helpers.js";

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t.close();
});

const TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

async function countTasks() {
  const rows = await t.database.query<{ n: number }>("SELECT count(*)::int AS n FROM tasks");
  return rows[0]!.n;
}
async function countTrace() {
  const rows = await t.database.query<{ n: number }>("SELECT count(*)::int AS n FROM trace_entries");
  return rows[0]!.n;
}

describe("create", () => {
  test("wrapped body as in the reference: 201, Location, full task, task.created entry", async () => {
    const m = await createMission(t);
    const r = await t.json("POST", `/api/missions/${m.mission_id}/tasks`, {
      body: { task: { task_id: "task-001", objective: "Implement login endpoint", status: "pending" } },
    });
    expect(r.status).toBe(201);
    expect(r.headers.location).toBe("/api/tasks/task-001");
    expect(r.body).toEqual({
      data: {
        id: expect.any(Number),
        task_id: "task-001",
        mission_id: m.mission_id,
        objective: "Implement login endpoint",
        status: "pending",
        agent_id: null,
        sprint_id: null,
        requirement_ids: [],
        required_capabilities: [],
        priority: null,
        outputs: {},
        logs: [],
        inserted_at: expect.stringMatching(TS),
        updated_at: expect.stringMatching(TS),
      },
    });
    const trace = await taskTrace(t, "task-001");
    expect(trace).toHaveLength(1);
    expect(trace[0]).toMatchObject({
      event: "task.created",
      actor: "admin:test-admin",
      mission_id: m.mission_id,
      task_id: "task-001",
      agent_id: null,
      data: {
        objective: "Implement login endpoint",
        status: "pending",
        agent_id: null,
        sprint_id: null,
        priority: null,
        requirement_ids: [],
        outputs: {},
      },
    });
  });

  test("references by integer id or key come back as keys, and are traced as keys", async () => {
    const m = await createMission(t);
    const agent = await insertAgent(t);
    const sprint = await insertSprint(t);
    const r1 = await insertRequirement(t);
    const r2 = await insertRequirement(t);
    const r = await t.json("POST", `/api/missions/${m.id}/tasks`, {
      body: {
        objective: "o",
        agent_id: agent.id,
        sprint_id: sprint.sprintId,
        priority: 2,
        outputs: { branch: "feat/x" },
        required_capabilities: ["coding", "testing"],
        // The same requirement twice (by id and by key) counts once.
        requirement_ids: [r2.requirementId, r1.id, r2.id],
      },
    });
    expect(r.status).toBe(201);
    expect(r.body.data).toMatchObject({
      mission_id: m.mission_id,
      agent_id: agent.agentId,
      sprint_id: sprint.sprintId,
      priority: 2,
      outputs: { branch: "feat/x" },
      required_capabilities: ["coding", "testing"],
      requirement_ids: [r1.requirementId, r2.requirementId],
    });
    expect(r.body.data.task_id).toMatch(/^task-[a-z2-7]{10}$/);
    const [created] = await taskTrace(t, r.body.data.task_id);
    expect(created!.agent_id).toBe(agent.agentId);
    expect(created!.data).toMatchObject({
      agent_id: agent.agentId,
      sprint_id: sprint.sprintId,
      priority: 2,
      requirement_ids: [r1.requirementId, r2.requirementId],
      outputs: { branch: "feat/x" },
    });
    const got = await t.json("GET", `/api/tasks/${r.body.data.id}`);
    expect(got.body.data).toEqual(r.body.data);
  });

  test("members may create", async () => {
    const m = await createMission(t);
    const r = await t.json("POST", `/api/missions/${m.mission_id}/tasks`, {
      token: t.member,
      body: { objective: "o" },
    });
    expect(r.status).toBe(201);
  });

  test("a task can be created whatever the mission's status", async () => {
    const m = await createMission(t);
    await t.json("PATCH", `/api/missions/${m.id}`, { body: { status: "cancelled" } });
    expect((await t.json("POST", `/api/missions/${m.id}/tasks`, { body: { objective: "o" } })).status).toBe(201);
  });

  const bad: Array<[string, unknown, Record<string, string[]>]> = [
    ["missing objective", {}, { objective: ["is required"] }],
    ["empty objective", { objective: "" }, { objective: ["must NOT have fewer than 1 characters"] }],
    ["objective wrong type", { objective: 1 }, { objective: ["must be string"] }],
    ["unknown field", { objective: "o", colour: "red" }, { colour: ["is not a known field"] }],
    ["unknown field inside wrapper", { task: { objective: "o", colour: "red" } }, { colour: ["is not a known field"] }],
    ["logs are not a create field", { objective: "o", logs: [] }, { logs: ["is not a known field"] }],
    ["non-initial status", { objective: "o", status: "in_progress" }, { status: ["must be one of: pending"] }],
    ["all-digit key", { objective: "o", task_id: "42" }, { task_id: ["has an invalid format"] }],
    ["key with a slash", { objective: "o", task_id: "a/b" }, { task_id: ["has an invalid format"] }],
    ["priority not an integer", { objective: "o", priority: 1.5 }, { priority: ["has an invalid type or value"] }],
    ["priority out of range", { objective: "o", priority: 2 ** 31 }, { priority: ["has an invalid type or value"] }],
    ["outputs not an object", { objective: "o", outputs: [] }, { outputs: ["must be object"] }],
    [
      "capabilities not strings",
      { objective: "o", required_capabilities: [1] },
      { "required_capabilities.0": ["must be string"] },
    ],
    [
      "duplicate capabilities",
      { objective: "o", required_capabilities: ["a", "a"] },
      { required_capabilities: ["must NOT have duplicate items (items ## 1 and 0 are identical)"] },
    ],
    ["requirement_ids not a list", { objective: "o", requirement_ids: "R1" }, { requirement_ids: ["must be array"] }],
    [
      "requirement ref malformed",
      { objective: "o", requirement_ids: ["bad key!"] },
      { "requirement_ids.0": ["has an invalid type or value"] },
    ],
    ["agent ref zero", { objective: "o", agent_id: 0 }, { agent_id: ["has an invalid type or value"] }],
    ["unknown agent", { objective: "o", agent_id: "no-such-agent" }, { agent_id: ["does not exist"] }],
    ["unknown agent id", { objective: "o", agent_id: 999999 }, { agent_id: ["does not exist"] }],
    ["unknown sprint", { objective: "o", sprint_id: "no-such-sprint" }, { sprint_id: ["does not exist"] }],
    [
      "unknown agent and sprint together",
      { objective: "o", agent_id: "nope-a", sprint_id: 999999 },
      { agent_id: ["does not exist"], sprint_id: ["does not exist"] },
    ],
    [
      "unknown requirements are named",
      { objective: "o", requirement_ids: ["NOPE-1", 999999] },
      { requirement_ids: ["contains unknown requirements: NOPE-1, 999999"] },
    ],
    [
      "NUL in objective",
      { objective: "a\u0000b" },
      { objective: ["must not contain NUL or unpaired surrogate characters"] },
    ],
    [
      "unpaired surrogate in outputs",
      { objective: "o", outputs: { a: "\ud800" } },
      { "outputs.a": ["must not contain NUL or unpaired surrogate characters"] },
    ],
    [
      "NUL in a capability",
      { objective: "o", required_capabilities: ["\u0000"] },
      { "required_capabilities.0": ["must not contain NUL or unpaired surrogate characters"] },
    ],
    [
      "__proto__ in outputs",
      JSON.parse('{"objective":"o","outputs":{"__proto__":{}}}'),
      { "outputs.__proto__": ["is not an allowed key"] },
    ],
  ];
  test.each(bad)("%s → 422 and nothing created or traced", async (_name, body, errors) => {
    const m = await createMission(t);
    const [tasksBefore, traceBefore] = [await countTasks(), await countTrace()];
    const r = await t.json("POST", `/api/missions/${m.mission_id}/tasks`, { body });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
    expect(await countTasks()).toBe(tasksBefore);
    expect(await countTrace()).toBe(traceBefore);
  });

  test("a known requirement next to an unknown one is not linked", async () => {
    const m = await createMission(t);
    const req = await insertRequirement(t);
    const r = await t.json("POST", `/api/missions/${m.id}/tasks`, {
      body: { objective: "o", requirement_ids: [req.id, "NOPE-2"] },
    });
    expect(r.status).toBe(422);
    const links = await t.database.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM task_requirements WHERE requirement_id = $1",
      [req.id],
    );
    expect(links[0]!.n).toBe(0);
  });

  test("duplicate task_id → 422, even across missions", async () => {
    const m1 = await createMission(t);
    const m2 = await createMission(t);
    await createTask(t, m1.mission_id, { task_id: "dup-task" });
    const r = await t.json("POST", `/api/missions/${m2.mission_id}/tasks`, {
      body: { objective: "o", task_id: "dup-task" },
    });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors: { task_id: ["has already been taken"] } });
  });

  test.each(["no-such-mission", "999999", "bad key!"])("unknown mission %s → 404", async (mission) => {
    const r = await t.json("POST", `/api/missions/${encodeURIComponent(mission)}/tasks`, { body: { objective: "o" } });
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ errors: { detail: "Not Found" } });
  });

  test("malformed JSON → 400; wrong content type → 415", async () => {
    const m = await createMission(t);
    const a = await t.json("POST", `/api/missions/${m.id}/tasks`, { payload: '{"objective":' });
    expect(a.status).toBe(400);
    expect(a.body).toEqual({ errors: { detail: "Malformed JSON in request body" } });
    const b = await t.json("POST", `/api/missions/${m.id}/tasks`, {
      payload: "x",
      headers: { "content-type": "text/plain" },
    });
    expect(b.status).toBe(415);
  });
});

describe("get", () => {
  test("by integer id and by key", async () => {
    const m = await createMission(t);
    const task = await createTask(t, m.mission_id);
    const byId = await t.json("GET", `/api/tasks/${task.id}`);
    const byKey = await t.json("GET", `/api/tasks/${task.task_id}`);
    expect(byId.status).toBe(200);
    expect(byId.body).toEqual(byKey.body);
    expect(byId.body.data).toEqual(task);
  });

  test.each(["999999", "no-such-task", "bad key!", "0", "99999999999999999999"])("unknown %s → 404", async (id) => {
    const r = await t.json("GET", `/api/tasks/${encodeURIComponent(id)}`);
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ errors: { detail: "Not Found" } });
  });
});

describe("lists", () => {
  let missionKey: string;
  let otherMission: string;
  let agentKey: string;
  let sprintKey: string;
  let ids: Record<string, string> = {};

  beforeAll(async () => {
    missionKey = (await createMission(t)).mission_id;
    otherMission = (await createMission(t)).mission_id;
    agentKey = (await insertAgent(t)).agentId;
    sprintKey = (await insertSprint(t)).sprintId;
    ids = {
      a: (await createTask(t, missionKey, { agent_id: agentKey, sprint_id: sprintKey })).task_id,
      b: (await createTask(t, missionKey, { agent_id: agentKey })).task_id,
      c: (await createTask(t, missionKey, { sprint_id: sprintKey })).task_id,
      d: (await createTask(t, otherMission, { agent_id: agentKey, sprint_id: sprintKey })).task_id,
    };
    await t.json("POST", `/api/tasks/${ids.b}/report`, { body: { status: "in_progress" } });
    await t.json("POST", `/api/tasks/${ids.d}/report`, { body: { status: "in_progress" } });
  });

  async function keys(url: string, query: Record<string, string> = {}) {
    const r = await t.json("GET", url, { query: { limit: "500", ...query } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body.data.map((x: any) => x.task_id);
  }

  test("a mission's tasks, oldest first, without logs", async () => {
    const r = await t.json("GET", `/api/missions/${missionKey}/tasks`);
    expect(r.status).toBe(200);
    expect(r.body.data.map((x: any) => x.task_id)).toEqual([ids.a, ids.b, ids.c]);
    expect(r.body.meta).toEqual({ next_cursor: null });
    expect(r.body.data[0]).not.toHaveProperty("logs");
    expect(r.body.data[0]).toMatchObject({
      mission_id: missionKey,
      agent_id: agentKey,
      sprint_id: sprintKey,
      requirement_ids: [],
    });
  });

  test("a listed task is the task as GET shows it, less its logs, on every list (timestamps to the ms, not rounded)", async () => {
    // A mission, agent and sprint of its own, so the other list tests' expectations stand.
    const missionKey = (await createMission(t)).mission_id;
    const agentKey = (await insertAgent(t)).agentId;
    const sprintKey = (await insertSprint(t)).sprintId;
    const r1 = await insertRequirement(t);
    const r2 = await insertRequirement(t);
    const full = await createTask(t, missionKey, {
      agent_id: agentKey,
      sprint_id: sprintKey,
      requirement_ids: [r2.requirementId, r1.requirementId],
      required_capabilities: ["git", "node"],
      priority: 3,
      outputs: { branch: "mc/x", nested: { n: 1, s: "<b>" } },
    });
    const bare = await createTask(t, missionKey, {});
    // Microseconds the API cannot show: truncated to the millisecond, as everywhere else.
    await t.database.query("UPDATE tasks SET updated_at = '2026-01-02T03:04:05.999999Z' WHERE task_id = $1", [
      full.task_id,
    ]);
    const mission = (
      await t.database.query<{ id: number }>("SELECT id FROM missions WHERE mission_id = $1", [missionKey])
    )[0]!;
    const sprint = (
      await t.database.query<{ id: number }>("SELECT id FROM sprints WHERE sprint_id = $1", [sprintKey])
    )[0]!;
    for (const task of [full, bare]) {
      const got = await t.json("GET", `/api/tasks/${task.task_id}`);
      expect(got.status).toBe(200);
      const { logs, ...expected } = got.body.data;
      expect(logs).toEqual([]);
      for (const url of [
        `/api/missions/${missionKey}/tasks`,
        `/api/missions/${mission.id}/tasks`,
        `/api/missions/${missionKey}/tasks?sprint_id=${sprintKey}&limit=500`,
        `/api/missions/${mission.id}/tasks?sprint_id=${sprint.id}&limit=500`,
        `/api/tasks?mission_id=${missionKey}&limit=500`,
      ]) {
        const r = await t.json("GET", url, { query: { limit: "500" } });
        expect(r.status, url).toBe(200);
        const listed = r.body.data.find((x: { task_id: string }) => x.task_id === task.task_id);
        if (url.includes("sprint_id") && task === bare) {
          expect(listed).toBeUndefined();
          continue;
        }
        expect(listed, url).toEqual(expected);
      }
    }
    const got = await t.json("GET", `/api/tasks/${full.task_id}`);
    expect(got.body.data.updated_at).toBe("2026-01-02T03:04:05.999Z");
    expect(got.body.data.requirement_ids).toEqual([r1.requirementId, r2.requirementId]);
  });

  test.each([
    [{ status: "in_progress" }, ["b"]],
    [{ status: "pending" }, ["a", "c"]],
    [{ status: "failed" }, []],
    [{ agent_id: "AGENT" }, ["a", "b"]],
    [{ sprint_id: "SPRINT" }, ["a", "c"]],
    [{ agent_id: "AGENT", sprint_id: "SPRINT" }, ["a"]],
    [{ agent_id: "AGENT", status: "in_progress" }, ["b"]],
    [{ agent_id: "no-such-agent" }, []],
    [{ sprint_id: "999999" }, []],
  ])("mission list filter %j", async (q, expected) => {
    const query = Object.fromEntries(
      Object.entries(q).map(([k, v]) => [k, v === "AGENT" ? agentKey : v === "SPRINT" ? sprintKey : v]),
    );
    expect(await keys(`/api/missions/${missionKey}/tasks`, query)).toEqual(expected.map((k) => ids[k]));
  });

  test("filters accept the integer id as well as the key", async () => {
    const agent = (await t.database.query<{ id: number }>("SELECT id FROM agents WHERE agent_id = $1", [agentKey]))[0]!;
    expect(await keys(`/api/missions/${missionKey}/tasks`, { agent_id: String(agent.id) })).toEqual([ids.a, ids.b]);
  });

  test("GET /api/tasks spans missions with the same filters", async () => {
    expect(await keys("/api/tasks", { agent_id: agentKey })).toEqual([ids.a, ids.b, ids.d]);
    expect(await keys("/api/tasks", { agent_id: agentKey, status: "in_progress" })).toEqual([ids.b, ids.d]);
    expect(await keys("/api/tasks", { sprint_id: sprintKey })).toEqual([ids.a, ids.c, ids.d]);
  });

  test("pagination walks every task once", async () => {
    const all = await keys("/api/tasks");
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: Record<string, string> = { limit: "2" };
      if (cursor) query.cursor = cursor;
      const r = await t.json("GET", "/api/tasks", { query });
      expect(r.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...r.body.data.map((x: any) => x.task_id));
      cursor = r.body.meta.next_cursor;
    } while (cursor);
    expect(seen).toEqual(all);
  });

  // A mission's page is read with a fixed row count per statement (11, 21, 51, 101, 201 or 501) and cut to
  // limit + 1: every limit, in a bucket or between two, walks the mission once.
  test.each([1, 2, 3, 7, 10, 11, 49, 50, 300, 500])("a mission's pages of %i walk every task once", async (limit) => {
    const mission = (await createMission(t)).mission_id;
    const made: string[] = [];
    for (let i = 0; i < 12; i++) made.push((await createTask(t, mission, {})).task_id);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: Record<string, string> = { limit: String(limit) };
      if (cursor) query.cursor = cursor;
      const r = await t.json("GET", `/api/missions/${mission}/tasks`, { query });
      expect(r.status).toBe(200);
      expect(r.body.data.length).toBe(Math.min(limit, 12 - seen.length));
      seen.push(...r.body.data.map((x: any) => x.task_id));
      cursor = r.body.meta.next_cursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual(made);
    expect(pages).toBe(Math.ceil(12 / limit));
  });

  const badQueries: Array<[Record<string, string>, Record<string, string[]>]> = [
    [
      { status: "sleeping" },
      { status: ["must be one of: pending, in_progress, blocked, pending_review, rejected, completed, failed"] },
    ],
    [{ agent_id: "bad key!" }, { agent_id: ["is not a valid id or key"] }],
    [{ sprint_id: "0" }, { sprint_id: ["is not a valid id or key"] }],
    [{ limit: "0" }, { limit: ["must be >= 1"] }],
    [{ limit: "x" }, { limit: ["must be integer"] }],
    [{ cursor: "garbage" }, { cursor: ["is not a valid cursor"] }],
  ];
  test.each(badQueries)("bad query %j → 422 on both lists", async (query, errors) => {
    for (const url of ["/api/tasks", `/api/missions/${missionKey}/tasks`]) {
      const r = await t.json("GET", url, { query });
      expect(r.status).toBe(422);
      expect(r.body).toEqual({ errors });
    }
  });

  test("unknown mission → 404", async () => {
    const r = await t.json("GET", "/api/missions/no-such-mission/tasks");
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ errors: { detail: "Not Found" } });
  });
});

describe("update", () => {
  test("concurrent PATCHes of one task apply one after another: each answers 200, the last one's links stand, one entry each", async () => {
    const m = await createMission(t);
    const reqs = await Promise.all(Array.from({ length: 4 }, () => insertRequirement(t)));
    const sets = Array.from({ length: 8 }, (_, i) => [reqs[i % 4]!.requirementId, reqs[(i + 1) % 4]!.requirementId]);
    for (let round = 0; round < 3; round++) {
      const task = await createTask(t, m.mission_id);
      const results = await Promise.all(
        sets.map((ids, i) =>
          t.json("PATCH", `/api/tasks/${task.task_id}`, { body: { objective: `o${i}`, requirement_ids: ids } }),
        ),
      );
      expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
      // The winner's objective and links go together: each PATCH read the task as the one before left it.
      const final = (await t.json("GET", `/api/tasks/${task.task_id}`)).body.data;
      const winner = Number(final.objective.slice(1));
      expect([...final.requirement_ids].sort()).toEqual([...sets[winner]!].sort());
      const links = await t.database.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM task_requirements WHERE task_id = $1",
        [task.id],
      );
      expect(links[0]!.n).toBe(2);
      expect((await taskTrace(t, task.task_id)).filter((e) => e.event === "task.updated")).toHaveLength(8);
    }
  });

  test("changes only the named fields, traces them by key, bumps updated_at", async () => {
    const m = await createMission(t);
    const agent = await insertAgent(t);
    const sprint = await insertSprint(t);
    const req = await insertRequirement(t);
    const task = await createTask(t, m.mission_id, { priority: 1, outputs: { a: 1 }, required_capabilities: ["x"] });
    const r = await t.json("PATCH", `/api/tasks/${task.task_id}`, {
      body: { task: { objective: "new", agent_id: agent.id, sprint_id: sprint.id, requirement_ids: [req.id] } },
    });
    expect(r.status).toBe(200);
    expect(r.body.data).toMatchObject({
      objective: "new",
      agent_id: agent.agentId,
      sprint_id: sprint.sprintId,
      requirement_ids: [req.requirementId],
      priority: 1,
      outputs: { a: 1 },
      required_capabilities: ["x"],
      status: "pending",
      logs: [],
    });
    expect(r.body.data.updated_at > task.updated_at).toBe(true);
    const trace = await taskTrace(t, task.task_id);
    expect(trace.at(-1)).toMatchObject({
      event: "task.updated",
      agent_id: agent.agentId,
      data: {
        changes: {
          objective: "new",
          agent_id: agent.agentId,
          sprint_id: sprint.sprintId,
          requirement_ids: [req.requirementId],
        },
      },
    });
    expect((await t.json("GET", `/api/tasks/${task.id}`)).body.data).toEqual(r.body.data);
  });

  test("null unassigns; outputs, capabilities and requirements replace", async () => {
    const m = await createMission(t);
    const agent = await insertAgent(t);
    const r1 = await insertRequirement(t);
    const r2 = await insertRequirement(t);
    const task = await createTask(t, m.mission_id, {
      agent_id: agent.agentId,
      priority: 3,
      outputs: { a: 1, b: 2 },
      requirement_ids: [r1.id],
      required_capabilities: ["x"],
    });
    const r = await t.json("PATCH", `/api/tasks/${task.id}`, {
      body: {
        agent_id: null,
        priority: null,
        outputs: { c: 3 },
        requirement_ids: [r2.requirementId],
        required_capabilities: [],
      },
    });
    expect(r.status).toBe(200);
    expect(r.body.data).toMatchObject({
      agent_id: null,
      priority: null,
      outputs: { c: 3 },
      requirement_ids: [r2.requirementId],
      required_capabilities: [],
    });
    expect((await taskTrace(t, task.task_id)).at(-1)!.data).toEqual({
      changes: {
        agent_id: null,
        priority: null,
        outputs: { c: 3 },
        requirement_ids: [r2.requirementId],
        required_capabilities: [],
      },
    });
    const cleared = await t.json("PATCH", `/api/tasks/${task.id}`, { body: { requirement_ids: [] } });
    expect(cleared.body.data.requirement_ids).toEqual([]);
  });

  test("naming the current values writes nothing", async () => {
    const m = await createMission(t);
    const task = await createTask(t, m.mission_id, { priority: 1, outputs: { a: 1 } });
    const r = await t.json("PATCH", `/api/tasks/${task.id}`, {
      body: {
        task_id: task.task_id,
        objective: task.objective,
        priority: 1,
        outputs: { a: 1 },
        status: "pending",
        requirement_ids: [],
      },
    });
    expect(r.status).toBe(200);
    expect(r.body.data.updated_at).toBe(task.updated_at);
    expect((await taskTrace(t, task.task_id)).map((e) => e.event)).toEqual(["task.created"]);
  });

  test("fields and status in one PATCH: both applied and traced, fields first", async () => {
    const m = await createMission(t);
    const task = await createTask(t, m.mission_id);
    const r = await t.json("PATCH", `/api/tasks/${task.id}`, { body: { objective: "x", status: "in_progress" } });
    expect(r.status).toBe(200);
    expect(r.body.data).toMatchObject({ objective: "x", status: "in_progress" });
    const trace = await taskTrace(t, task.task_id);
    expect(trace.slice(1).map((e) => [e.event, e.data])).toEqual([
      ["task.updated", { changes: { objective: "x" } }],
      ["task.status_changed", { from: "pending", to: "in_progress", via: "update" }],
    ]);
  });

  test("a rejected status change rolls back the fields named with it", async () => {
    const m = await createMission(t);
    const task = await createTask(t, m.mission_id);
    const r = await t.json("PATCH", `/api/tasks/${task.id}`, { body: { objective: "changed", status: "completed" } });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors: { status: ["cannot move from pending to completed"] } });
    expect((await t.json("GET", `/api/tasks/${task.id}`)).body.data).toEqual(task);
    expect((await taskTrace(t, task.task_id)).map((e) => e.event)).toEqual(["task.created"]);
  });

  const bad: Array<[string, unknown, Record<string, string[]>]> = [
    ["key change", { task_id: "other" }, { task_id: ["cannot be changed"] }],
    ["unknown field", { inserted_at: "2020-01-01T00:00:00Z" }, { inserted_at: ["is not a known field"] }],
    ["mission is not movable", { mission_id: "m" }, { mission_id: ["is not a known field"] }],
    ["empty objective", { objective: "" }, { objective: ["must NOT have fewer than 1 characters"] }],
    [
      "unknown status",
      { status: "done" },
      { status: ["must be one of: pending, in_progress, blocked, pending_review, rejected, completed, failed"] },
    ],
    ["unknown agent", { agent_id: "nope" }, { agent_id: ["does not exist"] }],
    ["unknown sprint", { sprint_id: 424242 }, { sprint_id: ["does not exist"] }],
    [
      "unknown requirement",
      { requirement_ids: ["NOPE-9"] },
      { requirement_ids: ["contains unknown requirements: NOPE-9"] },
    ],
  ];
  test.each(bad)("%s → 422 and nothing changes", async (_name, body, errors) => {
    const m = await createMission(t);
    const task = await createTask(t, m.mission_id);
    const r = await t.json("PATCH", `/api/tasks/${task.id}`, { body });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
    expect((await t.json("GET", `/api/tasks/${task.id}`)).body.data).toEqual(task);
    expect((await taskTrace(t, task.task_id)).map((e) => e.event)).toEqual(["task.created"]);
  });

  test("unknown task → 404", async () => {
    const r = await t.json("PATCH", "/api/tasks/no-such-task", { body: { objective: "x" } });
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ errors: { detail: "Not Found" } });
  });
});

describe("auth", () => {
  const routes: Array<[string, string, unknown?]> = [
    ["POST", "/api/missions/1/tasks", { objective: "o" }],
    ["GET", "/api/missions/1/tasks"],
    ["GET", "/api/tasks"],
    ["GET", "/api/tasks/1"],
    ["PATCH", "/api/tasks/1", { objective: "o" }],
    ["POST", "/api/tasks/1/report", { status: "in_progress" }],
    ["POST", "/api/tasks/1/approve", {}],
    ["POST", "/api/tasks/1/reject", {}],
    ["GET", "/api/tasks/1/logs"],
  ];

  test.each(routes)("%s %s without a token → 401", async (method, url, body) => {
    const r = await t.json(method, url, { token: null, body });
    expect(r.status).toBe(401);
    expect(r.headers["www-authenticate"]).toBe("Bearer");
    expect(r.body).toEqual({ errors: { detail: "Unauthorized" } });
  });

  test.each(routes)("%s %s with an unknown token → 401", async (method, url, body) => {
    const r = await t.json(method, url, { token: "mc_nope", body });
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ errors: { detail: "Unauthorized" } });
  });

  test("members may do everything on tasks", async () => {
    const m = await createMission(t);
    const opts = { token: t.member };
    const c = await t.json("POST", `/api/missions/${m.id}/tasks`, { ...opts, body: { objective: "o" } });
    expect(c.status).toBe(201);
    const id = c.body.data.id;
    expect((await t.json("GET", `/api/missions/${m.id}/tasks`, opts)).status).toBe(200);
    expect((await t.json("GET", "/api/tasks", opts)).status).toBe(200);
    expect((await t.json("GET", `/api/tasks/${id}`, opts)).status).toBe(200);
    expect((await t.json("PATCH", `/api/tasks/${id}`, { ...opts, body: { status: "in_progress" } })).status).toBe(200);
    expect(
      (await t.json("POST", `/api/tasks/${id}/report`, { ...opts, body: { status: "pending_review" } })).status,
    ).toBe(200);
    expect((await t.json("POST", `/api/tasks/${id}/reject`, { ...opts, body: {} })).status).toBe(200);
    expect((await t.json("PATCH", `/api/tasks/${id}`, { ...opts, body: { status: "in_progress" } })).status).toBe(200);
    expect(
      (await t.json("POST", `/api/tasks/${id}/report`, { ...opts, body: { status: "pending_review" } })).status,
    ).toBe(200);
    expect((await t.json("POST", `/api/tasks/${id}/approve`, { ...opts, body: {} })).status).toBe(200);
    expect((await t.json("GET", `/api/tasks/${id}/logs`, opts)).status).toBe(200);
  });

  describe("agent tokens", () => {
    let token: string;
    let me: string;
    let onMission: string; // a mission my agent is on
    let elsewhere: string; // a mission my agent is not on
    let mine: any; // assigned to me, in a mission I am not on
    let colleague: any; // someone else's task in my mission
    let stranger: any; // someone else's task elsewhere
    let unassigned: any; // nobody's task elsewhere

    beforeAll(async () => {
      me = uniq("agent-me");
      token = await t.agentToken(me);
      const other = (await insertAgent(t)).agentId;
      onMission = (await createMission(t)).mission_id;
      elsewhere = (await createMission(t)).mission_id;
      await putAgentOnMission(t, onMission, me);
      mine = await createTask(t, elsewhere, { agent_id: me });
      colleague = await createTask(t, onMission, { agent_id: other });
      stranger = await createTask(t, elsewhere, { agent_id: other });
      unassigned = await createTask(t, elsewhere);
    });

    test("read: its own tasks and its missions' tasks, 403 for anything else", async () => {
      for (const task of [mine, colleague]) {
        const r = await t.json("GET", `/api/tasks/${task.task_id}`, { token });
        expect(r.status).toBe(200);
        expect(r.body.data.task_id).toBe(task.task_id);
        expect((await t.json("GET", `/api/tasks/${task.id}/logs`, { token })).status).toBe(200);
      }
      for (const task of [stranger, unassigned]) {
        for (const url of [`/api/tasks/${task.task_id}`, `/api/tasks/${task.task_id}/logs`]) {
          const r = await t.json("GET", url, { token });
          expect(r.status, url).toBe(403);
          expect(r.body).toEqual({ errors: { detail: "Forbidden" } });
        }
      }
    });

    test("an unknown task is still 404", async () => {
      expect((await t.json("GET", "/api/tasks/no-such-task", { token })).status).toBe(404);
    });

    test("lists show only what it may read", async () => {
      const all = await t.json("GET", "/api/tasks", { token, query: { limit: "500" } });
      expect(all.status).toBe(200);
      expect(all.body.data.map((x: any) => x.task_id).sort()).toEqual([mine.task_id, colleague.task_id].sort());
      const ownWork = await t.json("GET", "/api/tasks", { token, query: { agent_id: me } });
      expect(ownWork.body.data.map((x: any) => x.task_id)).toEqual([mine.task_id]);
      const inMission = await t.json("GET", `/api/missions/${onMission}/tasks`, { token });
      expect(inMission.body.data.map((x: any) => x.task_id)).toEqual([colleague.task_id]);
      const other = await t.json("GET", `/api/missions/${elsewhere}/tasks`, { token });
      expect(other.status).toBe(200);
      expect(other.body.data.map((x: any) => x.task_id)).toEqual([mine.task_id]);
      // A mission it is not on and has no task in: 403, not an empty page.
      const unrelated = (await createMission(t)).mission_id;
      await createTask(t, unrelated);
      const no = await t.json("GET", `/api/missions/${unrelated}/tasks`, { token });
      expect(no.status).toBe(403);
      expect(no.body).toEqual({ errors: { detail: "Forbidden" } });
      expect((await t.json("GET", "/api/missions/no-such-mission/tasks", { token })).status).toBe(404);
    });

    test("report: only the tasks assigned to it", async () => {
      const ok = await t.json("POST", `/api/tasks/${mine.task_id}/report`, {
        token,
        body: { progress: { status: "in_progress", logs: [{ message: "started" }] } },
      });
      expect(ok.status).toBe(200);
      expect(ok.body.data.status).toBe("in_progress");
      const trace = await taskTrace(t, mine.task_id);
      expect(trace.at(-1)!.actor).toBe(`agent:${me}`);
      for (const task of [colleague, stranger, unassigned]) {
        const r = await t.json("POST", `/api/tasks/${task.task_id}/report`, {
          token,
          body: { status: "in_progress", outputs: { x: 1 } },
        });
        expect(r.status).toBe(403);
        expect(r.body).toEqual({ errors: { detail: "Forbidden" } });
        const after = await t.json("GET", `/api/tasks/${task.task_id}`);
        expect(after.body.data).toMatchObject({ status: "pending", outputs: {} });
      }
    });

    test("create, update, approve and reject are 403 even on its own task", async () => {
      const cases: Array<[string, string, unknown]> = [
        ["POST", `/api/missions/${onMission}/tasks`, { objective: "o" }],
        ["PATCH", `/api/tasks/${mine.task_id}`, { objective: "x" }],
        ["POST", `/api/tasks/${mine.task_id}/approve`, {}],
        ["POST", `/api/tasks/${mine.task_id}/reject`, {}],
      ];
      for (const [method, url, body] of cases) {
        const r = await t.json(method, url, { token, body });
        expect(r.status, `${method} ${url}`).toBe(403);
        expect(r.body).toEqual({ errors: { detail: "Forbidden" } });
      }
    });
  });
});

describe("OpenAPI", () => {
  test("every task route is described, POST routes with the Idempotency-Key header", async () => {
    const doc = (await t.json("GET", "/openapi.json", { token: null })).body;
    expect(doc.paths["/api/missions/{mission_id}/tasks"].post.summary).toBe("Create task (under a mission)");
    for (const p of ["/api/tasks", "/api/tasks/{id}", "/api/tasks/{id}/logs"]) expect(doc.paths[p].get).toBeDefined();
    for (const p of ["/api/tasks/{id}/report", "/api/tasks/{id}/approve", "/api/tasks/{id}/reject"]) {
      const params = doc.paths[p].post.parameters as Array<{ in: string; name: string }>;
      expect(params).toEqual(
        expect.arrayContaining([expect.objectContaining({ in: "header", name: "idempotency-key" })]),
      );
    }
    expect(doc.paths["/api/tasks/{id}"].patch.parameters.some((x: any) => x.in === "header")).toBe(false);
  });
});
