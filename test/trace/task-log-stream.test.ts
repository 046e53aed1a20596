// Task log lines on GET /api/events as `task.log`: live only (no id, not in the trace, not replayed), as
// they commit (a refused report sends nothing), filtered by task_id, every payload under NOTIFY's limit.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, type TestContext } from "../harness.js";
import { createMission, openSse, uniq, type SseFrame } from "./helpers.js";
import { liveLine, liveLogChunks, LIVE_LINE_BYTES } from "../../src/tasks/task-logs.live.js";

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext({}, { listen: true });
});
afterAll(async () => {
  await t.close();
});

async function createTask(missionKey: string) {
  const r = await t.json("POST", `/api/missions/${missionKey}/tasks`, { body: { objective: "stream me" } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.data.task_id as string;
}

const logEvents = (frames: SseFrame[]) => frames.filter((f) => f.json?.event === "task.log");
const linesOf = (frames: SseFrame[]) => logEvents(frames).flatMap((f) => f.json.lines as Array<{ message: string }>);

describe("task.log on the live stream", () => {
  test("a report's lines arrive as task.log, filtered by task_id, without an id, and are not stored in the trace", async () => {
    const m = await createMission(t);
    const task = await createTask(m.mission_id);
    const other = await createTask(m.mission_id);
    const sse = await openSse(t.url!, "/api/events", { token: t.admin, query: { task_id: task } });
    try {
      expect(sse.status).toBe(200);
      // Fast path (status kept) and the transaction path (a move), and another task's lines.
      expect(
        (
          await t.json("POST", `/api/tasks/${other}/report`, {
            body: { progress: { logs: [{ message: "not mine" }] } },
          })
        ).status,
      ).toBe(200);
      const r1 = await t.json("POST", `/api/tasks/${task}/report`, {
        body: {
          progress: {
            logs: [{ message: "first", level: "info", timestamp: "2026-02-26T12:00:00Z" }, { message: "second" }],
          },
        },
      });
      expect(r1.status).toBe(200);
      const r2 = await t.json("POST", `/api/tasks/${task}/report`, {
        body: { progress: { status: "in_progress", logs: [{ message: "third", level: "warn" }] } },
      });
      expect(r2.status).toBe(200);
      const frames = await sse.until((e) => linesOf(e).length >= 3, 15_000, "three log lines");
      const events = logEvents(frames);
      for (const f of events) {
        expect(f.id).toBeUndefined();
        expect(f.json.task_id).toBe(task);
        expect(f.json.mission_id).toBe(m.mission_id);
      }
      expect(linesOf(frames)).toEqual([
        { message: "first", level: "info", timestamp: "2026-02-26T12:00:00.000Z" },
        { message: "second", timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) },
        { message: "third", level: "warn", timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) },
      ]);
      // The trace entries of the same reports did arrive, with ids; no entry is a task.log.
      expect(frames.some((f) => f.json?.event === "task.reported" && f.id !== undefined)).toBe(true);
      // (task.log is not a stored event name, so the trace's event filter refuses it: look at every entry.)
      const stored = await t.json("GET", "/api/trace", { query: { limit: "500" } });
      expect(stored.body.meta.next_cursor).toBeNull();
      expect(stored.body.data.length).toBeGreaterThan(0);
      expect(stored.body.data.filter((e: { event: string }) => e.event === "task.log")).toEqual([]);
    } finally {
      sse.close();
    }
  });

  test("a refused report (illegal move) sends no lines; a resumed stream does not replay lines", async () => {
    const m = await createMission(t);
    const task = await createTask(m.mission_id);
    const sse = await openSse(t.url!, "/api/events", { token: t.admin, query: { task_id: task } });
    try {
      const bad = await t.json("POST", `/api/tasks/${task}/report`, {
        body: { progress: { status: "completed", logs: [{ message: "never committed" }] } },
      });
      expect(bad.status).toBe(422);
      expect(
        (
          await t.json("POST", `/api/tasks/${task}/report`, {
            body: { progress: { logs: [{ message: "committed" }] } },
          })
        ).status,
      ).toBe(200);
      const frames = await sse.until(
        (e) => linesOf(e).length >= 1 && e.some((f) => f.json?.event === "task.reported"),
        15_000,
      );
      expect(linesOf(frames).map((l) => l.message)).toEqual(["committed"]);
      const firstId = frames.find((f) => f.id !== undefined)!.id!;
      // Resume from before everything: the trace entries come back, the lines do not.
      const resumed = await openSse(t.url!, "/api/events", {
        token: t.admin,
        query: { task_id: task },
        lastEventId: String(Number(firstId) - 1),
      });
      try {
        const again = await resumed.until((e) => e.some((f) => f.json?.event === "task.reported"), 15_000);
        await new Promise((r) => setTimeout(r, 300));
        expect(logEvents(again)).toEqual([]);
      } finally {
        resumed.close();
      }
    } finally {
      sse.close();
    }
  });

  test("long lines are cut with a marker and many lines are split over several events, all in order", async () => {
    const m = await createMission(t);
    const task = await createTask(m.mission_id);
    const sse = await openSse(t.url!, "/api/events", { token: t.admin, query: { task_id: task, event: "task.log" } });
    try {
      const long = "é".repeat(30_000);
      const many = Array.from({ length: 60 }, (_, i) => ({ message: `line ${i} ${"x".repeat(400)}` }));
      const r = await t.json("POST", `/api/tasks/${task}/report`, {
        body: { progress: { logs: [{ message: long }, ...many] } },
      });
      expect(r.status).toBe(200);
      const frames = await sse.until((e) => linesOf(e).length >= 61, 15_000, "61 lines");
      const events = logEvents(frames);
      expect(events.length).toBeGreaterThan(1);
      for (const f of events) expect(Buffer.byteLength(f.data!, "utf8")).toBeLessThan(8000);
      const lines = linesOf(frames);
      expect(lines[0]!.message).toMatch(
        /^é+ … \[cut on the live stream at this point: the line has 60000 bytes; read it whole in the task's logs\]$/,
      );
      expect(lines.slice(1).map((l) => l.message)).toEqual(many.map((l) => l.message));
      // Stored whole.
      const logs = await t.json("GET", `/api/tasks/${task}/logs`, { query: { limit: "1" } });
      expect(logs.body.data[0].message).toBe(long);
    } finally {
      sse.close();
    }
  });

  test("an agent run's output lines arrive live", async () => {
    const m = await createMission(t);
    const agentKey = uniq("log-agent");
    const a = await t.json("POST", "/api/agents", {
      body: {
        agent_id: agentKey,
        adapter_module: "command",
        config: { command: ["sh", "-c", "echo out-one; echo out-two >&2"] },
      },
    });
    expect(a.status, JSON.stringify(a.body)).toBe(201);
    expect(
      (await t.json("POST", `/api/missions/${m.mission_id}/agents`, { body: { agent_id: agentKey } })).status,
    ).toBe(201);
    expect((await t.json("POST", `/api/missions/${m.mission_id}/start`)).status).toBe(200);
    const task = (
      await t.json("POST", `/api/missions/${m.mission_id}/tasks`, { body: { objective: "echo", agent_id: agentKey } })
    ).body.data.task_id;
    const sse = await openSse(t.url!, "/api/events", { token: t.admin, query: { task_id: task, event: "task.log" } });
    try {
      expect((await t.json("POST", `/api/tasks/${task}/execute`)).status).toBe(202);
      const frames = await sse.until((e) => linesOf(e).length >= 2, 20_000, "the run's two lines");
      const lines = linesOf(frames);
      expect(lines).toEqual(
        expect.arrayContaining([
          { message: "out-one", level: "info", timestamp: expect.any(String) },
          { message: "out-two", level: "warn", timestamp: expect.any(String) },
        ]),
      );
      expect(logEvents(frames)[0]!.json.agent_id).toBe(agentKey);
    } finally {
      sse.close();
      await t.json("PATCH", `/api/missions/${m.mission_id}`, { body: { status: "completed" } });
    }
  });
});

describe("live line packing", () => {
  test.each([
    ["short ascii", "hello", "hello"],
    ["exactly at the limit stays whole", "a".repeat(LIVE_LINE_BYTES - 60), "a".repeat(LIVE_LINE_BYTES - 60)],
  ])("%s", (_name, message, expected) => {
    expect(liveLine(message, null, new Date(0)).message).toBe(expected);
  });

  test.each([
    ["ascii", "a".repeat(20_000)],
    ["multi-byte", "€".repeat(10_000)],
    ["emoji (surrogate pairs)", "😀".repeat(8_000)],
    ["control characters (escaped in JSON)", "\u0001".repeat(9_000)],
  ])("a long %s line is cut under the limit with the marker", (_name, message) => {
    const l = liveLine(message, "info", new Date(0));
    expect(Buffer.byteLength(JSON.stringify(l), "utf8")).toBeLessThanOrEqual(LIVE_LINE_BYTES);
    expect(l.message).toContain(`the line has ${Buffer.byteLength(message, "utf8")} bytes`);
    expect(l.message.startsWith(message.slice(0, 10))).toBe(true);
    expect(l.message).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });

  test("chunks stay under 7000 bytes and keep every line in order", () => {
    const lines = Array.from({ length: 500 }, (_, i) => ({
      message: `${i} ${"y".repeat(i * 7)}`,
      level: "info",
      timestamp: new Date(0),
    }));
    const chunks = JSON.parse(liveLogChunks(lines)) as Array<Array<{ message: string }>>;
    for (const c of chunks) expect(Buffer.byteLength(JSON.stringify(c), "utf8")).toBeLessThanOrEqual(7_000);
    expect(chunks.flat().map((l) => l.message.split(" ")[0])).toEqual(lines.map((_, i) => String(i)));
    expect(JSON.parse(liveLogChunks([]))).toEqual([]);
  });
});
