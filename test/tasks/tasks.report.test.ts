import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, SYSTEM, type TestContext } from "../harness.js";
import { Invalid, Upstream } from "../../src/core/errors.js";
import { createTasksService, type BeforeComplete } from "../../src/tasks/tasks.service.js";
import { createMission, createTask, forceStatus, logCount, taskTrace } from "./helpers.js";
import { applyReport, findTaskViewVersion } from "../../src/tasks/tasks.repo.js";
import type { TaskStatus } from "../../src/tasks/tasks.state.js";

let t: TestContext;
let missionKey: string;
beforeAll(async () => {
  t = await createTestContext();
  missionKey = (await createMission(t)).mission_id;
});
afterAll(async () => {
  await t.close();
});

const report = (task: { id: number }, body: unknown) => t.json("POST", `/api/tasks/${task.id}/report`, { body });

describe("report", () => {
  test("the reference's example: wrapped, status, outputs, logs", async () => {
    const task = await createTask(t, missionKey);
    const r = await report(task, {
      progress: {
        status: "in_progress",
        outputs: { files_changed: 3 },
        logs: [{ message: "Tests passing", timestamp: "2026-02-26T12:00:00Z" }],
      },
    });
    expect(r.status).toBe(200);
    expect(r.body.data).toMatchObject({
      task_id: task.task_id,
      status: "in_progress",
      outputs: { files_changed: 3 },
      logs: [{ message: "Tests passing", timestamp: "2026-02-26T12:00:00.000Z" }],
    });
    expect(r.body.data.logs[0]).not.toHaveProperty("level");
    expect((await t.json("GET", `/api/tasks/${task.id}`)).body.data).toEqual(r.body.data);
  });

  test("outputs are shallow-merged; a bare body works too", async () => {
    const task = await createTask(t, missionKey, { outputs: { a: 1, nested: { x: 1 } } });
    const r = await report(task, { outputs: { nested: { y: 2 }, b: [1, 2] } });
    expect(r.status).toBe(200);
    expect(r.body.data.outputs).toEqual({ a: 1, nested: { y: 2 }, b: [1, 2] });
    expect(r.body.data.status).toBe("pending");
    const trace = await taskTrace(t, task.task_id);
    expect(trace.at(-1)).toMatchObject({
      event: "task.reported",
      data: { outputs: { nested: { y: 2 }, b: [1, 2] }, logs_added: 0 },
    });
  });

  test("a log without timestamp gets the server's time; level is kept when given", async () => {
    const task = await createTask(t, missionKey);
    const before = Date.now();
    const r = await report(task, {
      logs: [
        { message: "one", level: "warn" },
        { message: "two", timestamp: "2026-02-26T13:00:00+01:00" },
      ],
    });
    const after = Date.now();
    expect(r.status).toBe(200);
    const [one, two] = r.body.data.logs;
    expect(one.message).toBe("one");
    expect(one.level).toBe("warn");
    const at = Date.parse(one.timestamp);
    expect(at).toBeGreaterThanOrEqual(before - 5);
    expect(at).toBeLessThanOrEqual(after + 5);
    expect(two).toEqual({ message: "two", timestamp: "2026-02-26T12:00:00.000Z" });
  });

  test("an empty report is a 200 that writes nothing", async () => {
    const task = await createTask(t, missionKey);
    for (const body of [undefined, {}, { progress: {} }, { status: "pending" }]) {
      const r = await report(task, body);
      expect(r.status).toBe(200);
      expect(r.body.data).toEqual(task);
    }
    expect((await taskTrace(t, task.task_id)).map((e) => e.event)).toEqual(["task.created"]);
  });

  test("same status with logs bumps updated_at and records the report", async () => {
    const task = await createTask(t, missionKey);
    const r = await report(task, { status: "pending", logs: [{ message: "still waiting" }] });
    expect(r.status).toBe(200);
    expect(r.body.data.updated_at > task.updated_at).toBe(true);
    expect((await taskTrace(t, task.task_id)).map((e) => [e.event, e.data])).toEqual([
      ["task.created", expect.anything()],
      ["task.reported", { outputs: {}, logs_added: 1 }],
    ]);
  });

  test("reports are allowed whatever the mission's status", async () => {
    const m = await createMission(t);
    const task = await createTask(t, m.mission_id);
    expect((await t.json("POST", `/api/missions/${m.id}/start`)).status).toBe(200);
    expect((await t.json("POST", `/api/missions/${m.id}/pause`)).status).toBe(200);
    expect((await report(task, { status: "in_progress" })).status).toBe(200);
    // Ending the mission fails its open tasks (the contract's Live status); a report on one is still taken.
    expect((await t.json("PATCH", `/api/missions/${m.id}`, { body: { status: "cancelled" } })).status).toBe(200);
    const late = await report(task, { logs: [{ message: "late news" }] });
    expect(late.status).toBe(200);
    expect(late.body.data.status).toBe("failed");
    expect(late.body.data.logs.map((l: { message: string }) => l.message)).toContain("late news");
  });

  const bad: Array<[string, unknown, Record<string, string[]>]> = [
    [
      "unknown status",
      { status: "done" },
      { status: ["must be one of: pending, in_progress, blocked, pending_review, rejected, completed, failed"] },
    ],
    ["unknown field", { status: "in_progress", note: "x" }, { note: ["is not a known field"] }],
    ["unknown field inside the wrapper", { progress: { note: "x" } }, { note: ["is not a known field"] }],
    ["outputs not an object", { outputs: "x" }, { outputs: ["must be object"] }],
    ["logs not a list", { logs: { message: "x" } }, { logs: ["must be array"] }],
    ["log without message", { logs: [{ timestamp: "2026-02-26T12:00:00Z" }] }, { "logs.0.message": ["is required"] }],
    ["empty log message", { logs: [{ message: "" }] }, { "logs.0.message": ["must NOT have fewer than 1 characters"] }],
    [
      "log with unknown field",
      { logs: [{ message: "m", severity: 1 }] },
      { "logs.0.severity": ["is not a known field"] },
    ],
    [
      "log timestamp not a date",
      { logs: [{ message: "m", timestamp: "yesterday" }] },
      { "logs.0.timestamp": ["must be a valid date-time"] },
    ],
    [
      "log timestamp without zone",
      { logs: [{ message: "m", timestamp: "2026-02-26T12:00:00" }] },
      { "logs.0.timestamp": ["must be a valid date-time"] },
    ],
    [
      "log timestamp impossible date",
      { logs: [{ message: "m", timestamp: "2026-02-30T12:00:00Z" }] },
      { "logs.0.timestamp": ["must be a valid date-time"] },
    ],
    [
      "log timestamp leap second",
      { logs: [{ message: "ok" }, { message: "m", timestamp: "2026-12-31T23:59:60Z" }] },
      { "logs.1.timestamp": ["is not a valid timestamp"] },
    ],
    [
      "log timestamp year 0",
      { logs: [{ message: "m", timestamp: "0000-01-01T00:00:00Z" }] },
      { "logs.0.timestamp": ["is not a valid timestamp"] },
    ],
    ["log level not a string", { logs: [{ message: "m", level: 3 }] }, { "logs.0.level": ["must be string"] }],
    [
      "NUL in a log message",
      { logs: [{ message: "a\u0000" }] },
      { "logs.0.message": ["must not contain NUL or unpaired surrogate characters"] },
    ],
    [
      "unpaired surrogate in an output key",
      { outputs: { "\udc00": 1 } },
      { "outputs.\udc00": ["is not an allowed key"] },
    ],
    [
      "too many logs",
      { logs: Array.from({ length: 1001 }, () => ({ message: "m" })) },
      { logs: ["must NOT have more than 1000 items"] },
    ],
  ];
  test.each(bad)("%s → 422 and nothing changes", async (_name, body, errors) => {
    const task = await createTask(t, missionKey);
    const r = await report(task, body);
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
    expect((await t.json("GET", `/api/tasks/${task.id}`)).body.data).toEqual(task);
    expect(await logCount(t, task.task_id)).toBe(0);
    expect((await taskTrace(t, task.task_id)).length).toBe(1);
  });

  test("unknown task → 404", async () => {
    const r = await t.json("POST", "/api/tasks/no-such-task/report", { body: { status: "in_progress" } });
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ errors: { detail: "Not Found" } });
  });
});

describe("logs", () => {
  let task: any;
  beforeAll(async () => {
    task = await createTask(t, missionKey);
    const logs = Array.from({ length: 150 }, (_, i) => ({ message: `log-${i}`, level: i % 2 ? "info" : undefined }));
    // Two reports, so the order of the table (not of one insert) is what is being read.
    expect((await report(task, { logs: logs.slice(0, 120) })).status).toBe(200);
    expect((await report(task, { logs: logs.slice(120) })).status).toBe(200);
  });

  test("the task read returns the latest 100, oldest first", async () => {
    const r = await t.json("GET", `/api/tasks/${task.task_id}`);
    expect(r.body.data.logs.map((l: any) => l.message)).toEqual(Array.from({ length: 100 }, (_, i) => `log-${i + 50}`));
    expect(r.body.data.logs[1]).toMatchObject({ message: "log-51", level: "info" });
    expect(r.body.data.logs[0]).not.toHaveProperty("level");
  });

  test("GET /logs pages through every line, oldest first", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: Record<string, string> = { limit: "40" };
      if (cursor) query.cursor = cursor;
      const r = await t.json("GET", `/api/tasks/${task.id}/logs`, { query });
      expect(r.status).toBe(200);
      pages++;
      seen.push(...r.body.data.map((l: any) => l.message));
      cursor = r.body.meta.next_cursor;
    } while (cursor);
    expect(pages).toBe(4);
    expect(seen).toEqual(Array.from({ length: 150 }, (_, i) => `log-${i}`));
    const first = await t.json("GET", `/api/tasks/${task.task_id}/logs`);
    expect(first.body.data).toHaveLength(50);
  });

  test("a task without logs has an empty page", async () => {
    const other = await createTask(t, missionKey);
    const r = await t.json("GET", `/api/tasks/${other.id}/logs`);
    expect(r.body).toEqual({ data: [], meta: { next_cursor: null } });
  });

  test.each([
    [{ limit: "0" }, { limit: ["must be >= 1"] }],
    [{ cursor: "nope" }, { cursor: ["is not a valid cursor"] }],
  ])("bad query %j → 422", async (query, errors) => {
    const r = await t.json("GET", `/api/tasks/${task.id}/logs`, { query });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
  });

  test("unknown task → 404", async () => {
    expect((await t.json("GET", "/api/tasks/nope-nope/logs")).status).toBe(404);
  });
});

describe("approve and reject", () => {
  async function inReview(outputs: Record<string, unknown> = {}) {
    const task = await createTask(t, missionKey, { outputs });
    await report(task, { status: "in_progress" });
    await report(task, { status: "pending_review" });
    return task;
  }

  test("approve without a body or comment: no comment in the trace", async () => {
    const task = await inReview();
    const r = await t.json("POST", `/api/tasks/${task.task_id}/approve`);
    expect(r.status).toBe(200);
    expect(r.body.data.status).toBe("completed");
    expect((await taskTrace(t, task.task_id)).at(-1)!.data).toEqual({
      from: "pending_review",
      to: "completed",
      via: "approve",
    });
  });

  test("reject keeps the reviewer's feedback; the task can then go back to work", async () => {
    const task = await inReview();
    const r = await t.json("POST", `/api/tasks/${task.id}/reject`, { body: { comment: "Tests failing, please fix" } });
    expect(r.status).toBe(200);
    expect(r.body.data.status).toBe("rejected");
    const last = (await taskTrace(t, task.task_id)).at(-1)!;
    expect(last).toMatchObject({
      event: "task.status_changed",
      actor: "admin:test-admin",
      data: { from: "pending_review", to: "rejected", comment: "Tests failing, please fix", via: "reject" },
    });
    expect((await report(task, { status: "in_progress" })).body.data.status).toBe("in_progress");
  });

  test.each([
    ["approve", { comment: 5 }, { comment: ["must be string"] }],
    ["reject", { comment: "x", reason: "y" }, { reason: ["is not a known field"] }],
    ["approve", { comment: "x".repeat(10_001) }, { comment: ["must NOT have more than 10000 characters"] }],
  ])("%s with body %j → 422", async (action, body, errors) => {
    const task = await inReview();
    const r = await t.json("POST", `/api/tasks/${task.id}/${action}`, { body });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
    expect((await t.json("GET", `/api/tasks/${task.id}`)).body.data.status).toBe("pending_review");
  });

  test.each(["approve", "reject"])("%s of an unknown task → 404", async (action) => {
    const r = await t.json("POST", `/api/tasks/no-such-task/${action}`, { body: {} });
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ errors: { detail: "Not Found" } });
  });

  describe("pre-completion steps", () => {
    function serviceWith(hooks: BeforeComplete[]) {
      return createTasksService({ database: t.database, beforeComplete: hooks });
    }

    test("run before the move and see the task and the comment", async () => {
      const task = await inReview({ pr_url: "https://github.com/o/r/pull/1" });
      const seen: unknown[] = [];
      const svc = serviceWith([
        async (tk, ctx) => {
          seen.push([tk.task_id, tk.status, tk.outputs.pr_url, ctx.comment, ctx.principal.actor]);
        },
      ]);
      const done = await svc.approve(task.task_id, { comment: "LGTM" }, SYSTEM);
      expect(done.status).toBe("completed");
      expect(seen).toEqual([[task.task_id, "pending_review", "https://github.com/o/r/pull/1", "LGTM", SYSTEM.actor]]);
    });

    test.each([
      ["a refused merge (422)", () => Invalid.field("pr_url", "the pull request cannot be merged"), 422],
      ["an unreachable upstream (502)", () => new Upstream("GitHub could not be reached"), 502],
    ])("%s vetoes: the task stays in pending_review, nothing traced", async (_name, makeErr, status) => {
      const task = await inReview();
      const traceBefore = (await taskTrace(t, task.task_id)).length;
      const svc = serviceWith([
        async () => {
          throw makeErr();
        },
      ]);
      const err = await svc.approve(String(task.id), {}, SYSTEM).catch((e: unknown) => e);
      expect((err as { status: number }).status).toBe(status);
      expect((await t.json("GET", `/api/tasks/${task.id}`)).body.data.status).toBe("pending_review");
      expect((await taskTrace(t, task.task_id)).length).toBe(traceBefore);
      // Reject does not run pre-completion steps.
      expect((await svc.reject(String(task.id), {}, SYSTEM)).status).toBe("rejected");
    });

    test("concurrent approves run the step once; exactly one succeeds", async () => {
      const task = await inReview();
      let calls = 0;
      const svc = serviceWith([
        async () => {
          calls++;
          await new Promise((r) => setTimeout(r, 20));
        },
      ]);
      const results = await Promise.allSettled(Array.from({ length: 5 }, () => svc.approve(task.task_id, {}, SYSTEM)));
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      const rejected = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      expect(rejected.map((r) => (r.reason as Invalid).body())).toEqual(
        Array(4).fill({ errors: { status: ["cannot approve a task that is completed"] } }),
      );
      expect(calls).toBe(1);
    });
  });
});

describe("races", () => {
  test("N concurrent approves: exactly one 200, the rest 422, one trace entry", async () => {
    const task = await createTask(t, missionKey);
    await forceStatus(t, task.task_id, "pending_review");
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        t.json("POST", `/api/tasks/${task.id}/approve`, { body: { comment: `c${i}` } }),
      ),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    const losers = results.filter((r) => r.status !== 200);
    expect(losers).toHaveLength(7);
    for (const l of losers) {
      expect(l.status).toBe(422);
      expect(Object.keys(l.body.errors)).toEqual(["status"]);
    }
    const moves = (await taskTrace(t, task.task_id)).filter((e) => e.event === "task.status_changed");
    expect(moves).toHaveLength(1);
  });

  test("approve racing reject: exactly one wins", async () => {
    const task = await createTask(t, missionKey);
    await forceStatus(t, task.task_id, "pending_review");
    const [a, b] = await Promise.all([
      t.json("POST", `/api/tasks/${task.id}/approve`, { body: {} }),
      t.json("POST", `/api/tasks/${task.id}/reject`, { body: {} }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 422]);
    const final = (await t.json("GET", `/api/tasks/${task.id}`)).body.data.status;
    expect(final).toBe(a.status === 200 ? "completed" : "rejected");
  });

  test("racing reports to exclusive statuses: one wins, the losers add neither outputs nor logs", async () => {
    // From in_progress, failed, pending_review and completed are each reachable, but none of them from
    // another (pending_review → completed is approve's), so whichever lands first makes the others 422.
    // (Two reports naming the same status would both succeed: staying in a status is always legal.)
    const targets = ["failed", "pending_review", "completed"];
    for (let round = 0; round < 3; round++) {
      const task = await createTask(t, missionKey);
      await forceStatus(t, task.task_id, "in_progress");
      const results = await Promise.all(
        targets.map((status, i) => report(task, { status, outputs: { [`k${i}`]: i }, logs: [{ message: `m${i}` }] })),
      );
      const winners = results.map((r, i) => [r.status, i] as const).filter(([s]) => s === 200);
      expect(winners).toHaveLength(1);
      for (const r of results.filter((x) => x.status !== 200)) {
        expect(r.status).toBe(422);
        expect(Object.keys(r.body.errors)).toEqual(["status"]);
      }
      const w = winners[0]![1];
      const final = (await t.json("GET", `/api/tasks/${task.id}`)).body.data;
      expect(final.status).toBe(targets[w]);
      expect(final.outputs).toEqual({ [`k${w}`]: w });
      expect(final.logs.map((l: any) => l.message)).toEqual([`m${w}`]);
      const trace = await taskTrace(t, task.task_id);
      expect(trace.filter((e) => e.event !== "task.created").map((e) => e.event)).toEqual([
        "task.status_changed",
        "task.reported",
      ]);
    }
  });
});

// Progress reports that keep the status are written by one statement conditional on the task's version
// (tasks.repo.ts applyReport); these pin what that statement does and does not write.
describe("the single-statement report", () => {
  const write = (
    view: { id: number; status: TaskStatus; taskId: string; missionKey: string; agentKey: string | null },
    version: string,
    n = 1,
  ) =>
    applyReport(t.database, {
      id: view.id,
      version,
      status: view.status,
      outputs: { step: n },
      logs: [{ message: `line ${n}`, level: "info", at: new Date("2026-03-01T00:00:00.123Z") }],
      latest: 3,
      trace: {
        event: "task.reported",
        actor: "test",
        missionId: view.missionKey,
        taskId: view.taskId,
        agentId: view.agentKey,
        data: { outputs: { step: n }, logs_added: 1 },
      },
    });

  test("at the version read: outputs, log, trace entry and the latest lines (new ones included) in one go", async () => {
    const task = await createTask(t, missionKey);
    for (let i = 0; i < 3; i++) expect((await report(task, { logs: [{ message: `old ${i}` }] })).status).toBe(200);
    const found = (await findTaskViewVersion(t.database, task.id))!;
    const done = (await write(found.view, found.version, 7))!;
    expect(done.outputs).toEqual({ step: 7 });
    // The 3 latest, oldest first: two earlier lines and the one just written.
    expect(done.logs.map((l) => l.message)).toEqual(["old 1", "old 2", "line 7"]);
    expect(done.logs[2]!.timestamp.toISOString()).toBe("2026-03-01T00:00:00.123Z");
    expect(done.trace).toMatchObject({
      event: "task.reported",
      taskId: task.task_id,
      data: { outputs: { step: 7 }, logs_added: 1 },
    });
    const last = (await taskTrace(t, task.task_id)).at(-1)!;
    expect(last).toMatchObject({
      id: done.trace.id,
      event: "task.reported",
      data: { outputs: { step: 7 }, logs_added: 1 },
    });
    expect(await logCount(t, task.task_id)).toBe(4);
    const v = await t.json("GET", `/api/trace/verify?mission_id=${missionKey}`);
    expect(v.body.data).toMatchObject({ valid: true });
  });

  test("after any other write to the task: nothing at all is written", async () => {
    const task = await createTask(t, missionKey);
    const found = (await findTaskViewVersion(t.database, task.id))!;
    // A report through the API moves the version on (so does any update of the row).
    expect((await report(task, { outputs: { other: true } })).status).toBe(200);
    const entries = (await taskTrace(t, task.task_id)).length;
    expect(await write(found.view, found.version)).toBeUndefined();
    expect((await t.json("GET", `/api/tasks/${task.id}`)).body.data).toMatchObject({
      outputs: { other: true },
      logs: [],
    });
    expect(await taskTrace(t, task.task_id)).toHaveLength(entries);
    // The same with a status that is no longer the task's.
    const again = (await findTaskViewVersion(t.database, task.id))!;
    expect(await write({ ...again.view, status: "in_progress" }, again.version)).toBeUndefined();
    expect(await taskTrace(t, task.task_id)).toHaveLength(entries);
  });

  test("concurrent reports on one task all land: every output key, every line, one entry each, a valid chain", async () => {
    const task = await createTask(t, missionKey);
    await forceStatus(t, task.task_id, "in_progress");
    const n = 12;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        report(task, {
          status: "in_progress",
          outputs: { [`k${i}`]: i },
          logs: [{ message: `m${i}` }, { message: `n${i}` }],
        }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(n).fill(200));
    const final = (await t.json("GET", `/api/tasks/${task.id}`)).body.data;
    expect(final.outputs).toEqual(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])));
    expect(final.logs).toHaveLength(2 * n);
    // Each report's two lines are adjacent and in order, whichever way the reports interleaved.
    for (let i = 0; i < n; i++)
      expect(final.logs.findIndex((l: any) => l.message === `n${i}`)).toBe(
        final.logs.findIndex((l: any) => l.message === `m${i}`) + 1,
      );
    expect((await taskTrace(t, task.task_id)).filter((e) => e.event === "task.reported")).toHaveLength(n);
    expect((await t.json("GET", `/api/trace/verify?mission_id=${missionKey}`)).body.data).toMatchObject({
      valid: true,
    });
  });

  test("a report that would push merged outputs over the limit is refused on this path too", async () => {
    const task = await createTask(t, missionKey, { outputs: { big: "x".repeat(60_000) } });
    for (let i = 0; i < 3; i++)
      expect((await report(task, { outputs: { [`b${i}`]: "y".repeat(60_000) } })).status).toBe(200);
    const r = await report(task, { outputs: { last: "z".repeat(60_000) } });
    expect(r.status).toBe(422);
    expect(Object.keys(r.body.errors)).toEqual(["outputs"]);
    expect(Object.keys((await t.json("GET", `/api/tasks/${task.id}`)).body.data.outputs).sort()).toEqual([
      "b0",
      "b1",
      "b2",
      "big",
    ]);
  });
});
