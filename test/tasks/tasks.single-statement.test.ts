// A create that links no requirement, and a PATCH of the status alone that is a plain move, are each written
// by one statement (tasks.repo.ts insertTaskTraced, applyMove); these pin what those statements write, that
// their answers are what a read returns, and that a race falls back to the transaction without losing a move.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, type TestContext } from "../harness.js";
import { applyMove, findTaskViewVersion, readTaskForApi } from "../../src/tasks/tasks.repo.js";
import type { TaskStatus } from "../../src/tasks/tasks.state.js";
import {
  createMission,
  createTask,
  forceStatus,
  insertAgent,
  insertRequirement,
  insertSprint,
  taskTrace,
  uniq,
} from "./helpers.js";

let t: TestContext;
let missionKey: string;
beforeAll(async () => {
  t = await createTestContext();
  missionKey = (await createMission(t)).mission_id;
});
afterAll(async () => {
  await t.close();
});

const get = async (id: number | string) => (await t.json("GET", `/api/tasks/${id}`)).body.data;
const patch = (id: number | string, body: Record<string, unknown>) => t.json("PATCH", `/api/tasks/${id}`, { body });
const verify = async (mission = missionKey) =>
  (await t.json("GET", "/api/trace/verify", { query: { mission_id: mission } })).body.data;

describe("create in one statement", () => {
  test("the answer is the task as read back, with its agent and sprint, and one task.created entry", async () => {
    const agent = await insertAgent(t);
    const sprint = await insertSprint(t);
    const r = await t.json("POST", `/api/missions/${missionKey}/tasks`, {
      body: {
        objective: "ship it",
        agent_id: agent.agentId,
        sprint_id: sprint.id,
        priority: 3,
        outputs: { a: 1 },
        required_capabilities: ["ts"],
      },
    });
    expect(r.status).toBe(201);
    expect(r.body.data).toEqual(await get(r.body.data.id));
    expect(r.body.data).toMatchObject({
      mission_id: missionKey,
      status: "pending",
      agent_id: agent.agentId,
      sprint_id: sprint.sprintId,
      requirement_ids: [],
      logs: [],
    });
    const trace = await taskTrace(t, r.body.data.task_id);
    expect(trace.map((e) => [e.event, e.data, e.agent_id])).toEqual([
      [
        "task.created",
        {
          objective: "ship it",
          status: "pending",
          agent_id: agent.agentId,
          sprint_id: sprint.sprintId,
          priority: 3,
          requirement_ids: [],
          required_capabilities: ["ts"],
          outputs: { a: 1 },
        },
        agent.agentId,
      ],
    ]);
    expect(await verify()).toMatchObject({ valid: true });
  });

  test("an unknown mission is 404 even when the agent named is unknown too (the mission is read first)", async () => {
    const r = await t.json("POST", "/api/missions/no-such-mission/tasks", {
      body: { objective: "o", agent_id: "no-such-agent" },
    });
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ errors: { detail: "Not Found" } });
    const bad = await t.json("POST", `/api/missions/${missionKey}/tasks`, {
      body: { objective: "o", agent_id: "no-such-agent", sprint_id: "no-such-sprint" },
    });
    expect(bad.status).toBe(422);
    expect(bad.body).toEqual({ errors: { agent_id: ["does not exist"], sprint_id: ["does not exist"] } });
  });

  test("the answer's outputs are as stored: the same object, key for key in order, as a read returns", async () => {
    const r = await t.json("POST", `/api/missions/${missionKey}/tasks`, {
      body: { objective: "o", outputs: { zeta: 1, a: 2, mid: { y: 1, b: 2 } } },
    });
    expect(r.status).toBe(201);
    expect(JSON.stringify(r.body.data.outputs)).toBe(JSON.stringify((await get(r.body.data.id)).outputs));
  });

  test("a taken task_id: 422 and nothing written, not even a trace entry", async () => {
    const other = (await createMission(t)).mission_id;
    const key = uniq("dup");
    await createTask(t, missionKey, { task_id: key });
    const tasksBefore = await t.database.query<{ n: number }>("SELECT count(*)::int AS n FROM tasks");
    const traceOf = async () => (await t.json("GET", "/api/trace", { query: { mission_id: other } })).body.data;
    const entriesBefore = await traceOf();
    const r = await t.json("POST", `/api/missions/${other}/tasks`, { body: { objective: "o", task_id: key } });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors: { task_id: ["has already been taken"] } });
    expect(await t.database.query<{ n: number }>("SELECT count(*)::int AS n FROM tasks")).toEqual(tasksBefore);
    expect(await traceOf()).toEqual(entriesBefore);
    expect(await verify(other)).toMatchObject({ valid: true });
  });

  test("concurrent creates in one mission all land, each with its entry, the chain intact", async () => {
    const m = (await createMission(t)).mission_id;
    const n = 16;
    const rs = await Promise.all(
      Array.from({ length: n }, (_, i) => t.json("POST", `/api/missions/${m}/tasks`, { body: { objective: `c${i}` } })),
    );
    expect(rs.map((r) => r.status)).toEqual(Array(n).fill(201));
    const entries = (await t.json("GET", "/api/trace", { query: { mission_id: m, limit: "100" } })).body.data;
    const created = entries.filter((e: { event: string }) => e.event === "task.created");
    expect(created.map((e: { task_id: string }) => e.task_id).sort()).toEqual(
      rs.map((r) => r.body.data.task_id as string).sort(),
    );
    expect(await verify(m)).toMatchObject({ valid: true });
  });
});

describe("a status change in one statement", () => {
  const move = (
    view: { id: number; status: TaskStatus; taskId: string; missionKey: string; agentKey: string | null },
    version: string,
    to: TaskStatus,
  ) =>
    applyMove(t.database, {
      id: view.id,
      version,
      from: view.status,
      to,
      latest: 2,
      trace: {
        event: "task.status_changed",
        actor: "test",
        missionId: view.missionKey,
        taskId: view.taskId,
        agentId: view.agentKey,
        data: { from: view.status, to, via: "update" },
      },
    });

  test("at the version read: the move, its entry and the latest lines", async () => {
    const task = await createTask(t, missionKey);
    await forceStatus(t, task.task_id, "in_progress");
    for (const m of ["one", "two", "three"]) {
      const r = await t.json("POST", `/api/tasks/${task.id}/report`, { body: { logs: [{ message: m }] } });
      expect(r.status).toBe(200);
    }
    const found = (await findTaskViewVersion(t.database, task.id))!;
    const done = (await move(found.view, found.version, "blocked"))!;
    expect(done.logs.map((l) => l.message)).toEqual(["two", "three"]);
    const after = await get(task.id);
    expect(after.status).toBe("blocked");
    expect(done.updatedAt.toISOString()).toBe(after.updated_at);
    expect(done.logs.map((l) => l.timestamp.toISOString())).toEqual(
      after.logs.slice(-2).map((l: { timestamp: string }) => l.timestamp),
    );
    const last = (await taskTrace(t, task.task_id)).at(-1)!;
    expect(last).toMatchObject({
      event: "task.status_changed",
      actor: "test",
      data: { from: "in_progress", to: "blocked", via: "update" },
    });
    // What the statement returns is the entry as stored.
    const [stored] = await t.database.query<{ id: number; prev_hash: string; hash: string; at: Date }>(
      "SELECT id::int AS id, prev_hash, hash, at FROM trace_entries WHERE task_id = $1 ORDER BY id DESC LIMIT 1",
      [task.task_id],
    );
    expect(stored).toEqual({
      id: done.trace.id,
      prev_hash: done.trace.prevHash,
      hash: done.trace.hash,
      at: done.trace.at,
    });
    expect(await verify()).toMatchObject({ valid: true });
  });

  test("after any other write to the task, or from a status it no longer has: nothing written", async () => {
    const task = await createTask(t, missionKey);
    const found = (await findTaskViewVersion(t.database, task.id))!;
    expect((await patch(task.id, { objective: "changed" })).status).toBe(200);
    const entries = (await taskTrace(t, task.task_id)).length;
    expect(await move(found.view, found.version, "blocked")).toBeUndefined();
    const again = (await findTaskViewVersion(t.database, task.id))!;
    expect(await move({ ...again.view, status: "blocked" }, again.version, "pending")).toBeUndefined();
    expect(await get(task.id)).toMatchObject({ status: "pending", objective: "changed" });
    expect(await taskTrace(t, task.task_id)).toHaveLength(entries);
  });

  test("through the API the answer is the task as read back, logs included", async () => {
    const task = await createTask(t, missionKey);
    await forceStatus(t, task.task_id, "in_progress");
    await t.json("POST", `/api/tasks/${task.id}/report`, { body: { logs: [{ message: "hi", level: "info" }] } });
    await forceStatus(t, task.task_id, "pending");
    const r = await patch(task.task_id, { status: "blocked" });
    expect(r.status).toBe(200);
    expect(r.body.data).toEqual(await get(task.id));
    expect(r.body.data.logs).toMatchObject([{ message: "hi", level: "info" }]);
  });

  test("racing identical moves: every answer 200, one move, one entry", async () => {
    const task = await createTask(t, missionKey);
    const rs = await Promise.all(Array.from({ length: 10 }, () => patch(task.id, { status: "blocked" })));
    expect(rs.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(rs.every((r) => r.body.data.status === "blocked")).toBe(true);
    const moves = (await taskTrace(t, task.task_id)).filter((e) => e.event === "task.status_changed");
    expect(moves.map((e) => e.data)).toEqual([{ from: "pending", to: "blocked", via: "update" }]);
  });

  test("racing opposite moves: each answered move is traced, in an order that ends at the task's status", async () => {
    const task = await createTask(t, missionKey);
    const targets: TaskStatus[] = Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? "blocked" : "pending"));
    const rs = await Promise.all(targets.map((status) => patch(task.id, { status })));
    expect(rs.map((r) => r.status)).toEqual(Array(12).fill(200));
    const moves = (await taskTrace(t, task.task_id)).filter((e) => e.event === "task.status_changed");
    let at = "pending";
    for (const e of moves) {
      expect(e.data.from).toBe(at);
      at = e.data.to;
    }
    expect((await get(task.id)).status).toBe(at);
    expect(await verify()).toMatchObject({ valid: true });
  });
});

// The read is its own statement (tasks.repo.ts readTaskForApi: the row in the API's shape, keys mapped in the
// process); the writes answer through the view. Both must give the same task for every field.
describe("a read answers what the writes answer", () => {
  test("every field, by id and by key: agent, sprint, requirement keys in order, log lines with and without a level", async () => {
    const agent = await insertAgent(t);
    const sprint = await insertSprint(t);
    const [r1, r2] = [await insertRequirement(t), await insertRequirement(t)];
    const created = await t.json("POST", `/api/missions/${missionKey}/tasks`, {
      body: {
        objective: "read me <b>&amp;</b> \u2603",
        agent_id: agent.agentId,
        sprint_id: sprint.sprintId,
        priority: 0,
        outputs: { nested: { a: [1, null, "x"] } },
        required_capabilities: ["ts", "sql"],
        requirement_ids: [r2.requirementId, r1.requirementId],
      },
    });
    expect(created.status).toBe(201);
    const task = created.body.data;
    expect(await get(task.id)).toEqual(task);
    await forceStatus(t, task.task_id, "in_progress");
    const reported = await t.json("POST", `/api/tasks/${task.task_id}/report`, {
      body: { logs: [{ message: "no level" }, { message: "warned", level: "warn" }] },
    });
    expect(reported.status).toBe(200);
    const [byId, byKey] = [await get(task.id), await get(task.task_id)];
    expect(byId).toEqual(reported.body.data);
    expect(byKey).toEqual(byId);
    expect(byId).toMatchObject({
      agent_id: agent.agentId,
      sprint_id: sprint.sprintId,
      requirement_ids: [r1.requirementId, r2.requirementId],
      priority: 0,
      logs: [{ message: "no level" }, { message: "warned", level: "warn" }],
    });
    // The service's own object keeps the API's key order too: an MCP tool's answer is it, stringified.
    const read = (await readTaskForApi(t.database, task.id, 100))!.task;
    expect(JSON.stringify(read)).toBe(JSON.stringify(byId));
    expect(read.logs.map((l) => Object.keys(l))).toEqual([
      ["message", "timestamp"],
      ["message", "timestamp", "level"],
    ]);
    expect(byId.updated_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    // A write through the transaction (not a plain move) answers the same as the read after it.
    const patched = await patch(task.id, { objective: "changed", sprint_id: null });
    expect(patched.status).toBe(200);
    expect(await get(task.task_id)).toEqual(patched.body.data);
    expect(patched.body.data).toMatchObject({ sprint_id: null, objective: "changed" });
  });

  test("a report answers updated_at as every read does (the millisecond truncated, not rounded), ten times", async () => {
    const task = await createTask(t, missionKey);
    await forceStatus(t, task.task_id, "in_progress");
    for (let i = 0; i < 10; i++) {
      const r = await t.json("POST", `/api/tasks/${task.id}/report`, { body: { logs: [{ message: `line ${i}` }] } });
      expect(r.status).toBe(200);
      // On PostgreSQL half of all timestamps have a microsecond part that rounds up: ten reports meet one with
      // near certainty (PGlite's clock gives whole milliseconds, so there it holds either way).
      expect(r.body.data.updated_at).toBe((await get(task.id)).updated_at);
    }
  });

  test.each([["0"], ["-1"], ["2147483648"], ["task-nope"], ["%20"], ["1e3"]])("GET /api/tasks/%s → 404", async (id) => {
    const r = await t.json("GET", `/api/tasks/${id}`);
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ errors: { detail: "Not Found" } });
  });
});
