// GET /api/events over a real port with a streaming client: live entries with `id:`, filters, reconnecting
// with Last-Event-ID, ephemeral heartbeats, keep-alive comments, clean-up on disconnect and on close, and
// on PostgreSQL delivery across processes (a second app on its own pool) and in id order when ids commit
// out of order.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { buildApp, type App } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import { openDatabase, type Database, type Executor } from "../../src/db/client.js";
import type { EventBus } from "../../src/trace/events.bus.js";
import { appendTrace } from "../../src/trace/trace.append.js";
import { backend, createTestContext, waitFor, type TestContext } from "../harness.js";
import { append, createMission, openSse, uniq, type SseClient } from "./helpers.js";

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext({}, { listen: true });
});
afterAll(async () => {
  await t.close();
});

const busOf = (app: App): EventBus => app.services.events;

/** Another app on the same database (on PostgreSQL with its own pool, as another process would have). */
async function secondApp(eventStream: { keepAliveMs?: number; gapWaitMs?: number; idleStopMs?: number } = {}) {
  const database: Database =
    backend === "postgres" ? await openDatabase({ databaseUrl: t.db.url, dataDir: null, poolSize: 3 }) : t.database;
  // The overload guard off, as in the harness: a busy machine must not answer 503 here.
  const config = loadConfig({
    MC_DATA_DIR: "/tmp/mc-test-unused",
    LOG_LEVEL: "silent",
    MC_MAX_EVENT_LOOP_DELAY_MS: "0",
  });
  const app = await buildApp({ config, database, eventStream });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const addr = app.server.address();
  const url = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`;
  return {
    app,
    url,
    database,
    async close() {
      await app.close();
      if (database !== t.database) await database.close();
    },
  };
}

async function open(path: string, opts: Parameters<typeof openSse>[2] = {}, base = t.url!): Promise<SseClient> {
  const c = await openSse(base, path, { token: t.admin, ...opts });
  expect(c.status).toBe(200);
  // The stream is set up (subscribed, replay done) once the first bytes arrive.
  await waitFor(() => c.frames.length > 0, 10_000, "stream start");
  return c;
}

const ids = (c: SseClient) =>
  c
    .events()
    .filter((e) => e.id !== undefined)
    .map((e) => Number(e.id));

describe("live stream", () => {
  test("a new entry arrives with id: = its trace id and the entry as data", async () => {
    const c = await open("/api/events");
    try {
      expect(c.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
      expect(c.headers["cache-control"]).toBe("no-cache, no-transform");
      expect(c.headers["x-request-id"]).toBeTruthy();
      expect(c.frames[0]).toEqual({ retry: "2000" });
      const m = await createMission(t);
      const evs = await c.until((e) => e.some((x) => x.json?.mission_id === m.mission_id), 10_000, "mission.created");
      const ev = evs.find((x) => x.json?.mission_id === m.mission_id)!;
      const stored = await t.json("GET", `/api/missions/${m.mission_id}/trace`);
      expect(ev.json).toEqual(stored.body.data[0]);
      expect(ev.id).toBe(String(stored.body.data[0].id));
      expect(ev.json.event).toBe("mission.created");
    } finally {
      c.close();
    }
  });

  test("filters: mission (key or id), task, agent, event", async () => {
    const m1 = await createMission(t);
    const m2 = await createMission(t);
    const byKey = await open("/api/events", { query: { mission_id: m1.mission_id } });
    const byId = await open("/api/events", { query: { mission_id: String(m1.id) } });
    const byEvent = await open("/api/events", {
      query: { event: "mission.status_changed", mission_id: m2.mission_id },
    });
    const byAgent = await open("/api/events", { query: { agent_id: "filter-agent" } });
    const byTask = await open("/api/events", { query: { task_id: "filter-task" } });
    const none = await open("/api/events", { query: { mission_id: "no-such-mission" } });
    try {
      await t.json("POST", `/api/missions/${m1.mission_id}/start`);
      await t.json("POST", `/api/missions/${m2.mission_id}/start`);
      await t.json("PATCH", `/api/missions/${m2.mission_id}`, { body: { goal: "other" } });
      await append(
        t,
        {
          event: "agent.activity",
          actor: "agent:filter-agent",
          agentId: "filter-agent",
          taskId: "filter-task",
          data: { event: "task_start", context: {} },
        },
        {
          event: "agent.activity",
          actor: "agent:other",
          agentId: "other-agent",
          data: { event: "task_start", context: {} },
        },
      );
      await t.json("POST", `/api/missions/${m1.mission_id}/pause`);

      const m1Events = await byKey.until((e) => e.length >= 2, 10_000, "m1 events");
      expect(m1Events.map((e) => [e.json.mission_id, e.json.data.to])).toEqual([
        [m1.mission_id, "active"],
        [m1.mission_id, "paused"],
      ]);
      await byId.until((e) => e.length >= 2);
      expect(ids(byId)).toEqual(ids(byKey));
      const ev = await byEvent.until((e) => e.length >= 1);
      await byAgent.until((e) => e.length >= 1);
      await byTask.until((e) => e.length >= 1);
      // The events after the ones waited for have arrived too (the last write was m1's pause).
      await new Promise((r) => setTimeout(r, 200));
      expect(ev.map((e) => e.json.event)).toEqual(["mission.status_changed"]);
      expect(byEvent.events().map((e) => e.json.mission_id)).toEqual([m2.mission_id]);
      expect(byAgent.events().map((e) => e.json.agent_id)).toEqual(["filter-agent"]);
      expect(byTask.events().map((e) => e.json.task_id)).toEqual(["filter-task"]);
      expect(none.events()).toEqual([]);
    } finally {
      for (const c of [byKey, byId, byEvent, byAgent, byTask, none]) c.close();
    }
  });

  test("ephemeral heartbeats arrive without an id and are not stored", async () => {
    const all = await open("/api/events");
    const agent = await open("/api/events", { query: { agent_id: "hb-agent" } });
    const other = await open("/api/events", { query: { agent_id: "someone-else" } });
    const mission = await open("/api/events", { query: { mission_id: "any-mission" } });
    try {
      const before = await t.database.query<{ n: number }>("SELECT count(*)::int AS n FROM trace_entries");
      await busOf(t.app).publishEphemeral({
        event: "agent.heartbeat",
        agent_id: "hb-agent",
        at: new Date("2026-02-26T12:00:00Z"),
      });
      const hb = (await agent.until((e) => e.length >= 1))[0]!;
      expect(hb.id).toBeUndefined();
      expect(hb.json).toEqual({ event: "agent.heartbeat", agent_id: "hb-agent", at: "2026-02-26T12:00:00.000Z" });
      await all.until((e) => e.some((x) => x.json.event === "agent.heartbeat"));
      await new Promise((r) => setTimeout(r, 150));
      expect(other.events()).toEqual([]);
      expect(mission.events()).toEqual([]);
      const after = await t.database.query<{ n: number }>("SELECT count(*)::int AS n FROM trace_entries");
      expect(after).toEqual(before);
      // Junk never reaches anyone and never throws.
      await busOf(t.app).publishEphemeral({ event: "agent.heartbeat", agent_id: "hb-agent", at: "not a date" });
      await busOf(t.app).publishEphemeral({ event: 5, agent_id: "hb-agent", at: new Date() } as never);
      await new Promise((r) => setTimeout(r, 150));
      expect(agent.events()).toHaveLength(1);
    } finally {
      for (const c of [all, agent, other, mission]) c.close();
    }
  });
});

describe("reconnecting with Last-Event-ID", () => {
  test("replays exactly what was missed, in order, then continues live", async () => {
    const m = await createMission(t);
    const path = `/api/events`;
    const query = { mission_id: m.mission_id };
    const first = await open(path, { query });
    await t.json("POST", `/api/missions/${m.mission_id}/start`);
    await t.json("POST", `/api/missions/${m.mission_id}/pause`);
    await first.until((e) => e.length >= 2);
    const seen = ids(first);
    first.close();

    // While disconnected: more entries for this mission, and others that the filter excludes.
    await t.json("POST", `/api/missions/${m.mission_id}/start`);
    await createMission(t);
    await t.json("PATCH", `/api/missions/${m.mission_id}`, { body: { goal: "while away" } });

    const second = await open(path, { query, lastEventId: String(seen.at(-1)) });
    try {
      const missed = await second.until((e) => e.length >= 2, 10_000, "missed entries");
      expect(missed.map((e) => e.json.event)).toEqual(["mission.status_changed", "mission.updated"]);
      await t.json("POST", `/api/missions/${m.mission_id}/pause`);
      await second.until((e) => e.length >= 3, 10_000, "live after replay");
      const all = [...seen, ...ids(second)];
      const stored = (await t.json("GET", `/api/missions/${m.mission_id}/trace`)).body.data.map((e: any) => e.id);
      // Everything after mission.created, each once, in order.
      expect(all).toEqual(stored.slice(1));
    } finally {
      second.close();
    }
  });

  test("last_event_id in the query works for clients that cannot set the header; the header wins", async () => {
    const m = await createMission(t);
    await t.json("POST", `/api/missions/${m.mission_id}/start`);
    const stored = (await t.json("GET", `/api/missions/${m.mission_id}/trace`)).body.data.map((e: any) => e.id);
    const q = await open("/api/events", { query: { mission_id: m.mission_id, last_event_id: "0" } });
    const h = await open("/api/events", {
      query: { mission_id: m.mission_id, last_event_id: "0" },
      lastEventId: String(stored[0]),
    });
    try {
      await q.until((e) => e.length >= 2);
      expect(ids(q)).toEqual(stored);
      await h.until((e) => e.length >= 1);
      await new Promise((r) => setTimeout(r, 100));
      expect(ids(h)).toEqual(stored.slice(1));
    } finally {
      q.close();
      h.close();
    }
  });

  test("a replay longer than one page, while new entries keep coming", async () => {
    const m = await createMission(t);
    const startId = (await t.json("GET", `/api/missions/${m.mission_id}/trace`)).body.data[0].id;
    await append(
      t,
      ...Array.from({ length: 1200 }, (_, i) => ({
        event: "mission.updated" as const,
        actor: "x",
        missionId: m.mission_id,
        data: { changes: { i } },
      })),
    );
    const c = await open("/api/events", { query: { mission_id: m.mission_id }, lastEventId: String(startId) });
    try {
      const writer = (async () => {
        for (let i = 0; i < 20; i++)
          await append(t, {
            event: "mission.updated",
            actor: "y",
            missionId: m.mission_id,
            data: { changes: { live: i } },
          });
      })();
      await writer;
      await c.until((e) => e.length >= 1220, 20_000, "1220 entries");
      const stored = await t.database.query<{ id: number }>(
        "SELECT id FROM trace_entries WHERE mission_id = $1 AND id > $2 ORDER BY id",
        [m.mission_id, startId],
      );
      expect(ids(c)).toEqual(stored.map((r) => Number(r.id)));
    } finally {
      c.close();
    }
  });

  test.each([["abc"], ["-1"], ["1.5"], ["9999999999999999999"]])("a malformed Last-Event-ID (%s) → 422", async (v) => {
    const r = await t.json("GET", "/api/events", { headers: { "last-event-id": v } });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors: { last_event_id: ["must be a trace entry id"] } });
  });

  test("an event filter that names no event → 422; the live-only names are accepted", async () => {
    const r = await t.json("GET", "/api/events", { query: { event: "note.added" } });
    expect(r.status).toBe(422);
    expect(r.body.errors.event[0]).toMatch(/^must be one of: .*\bagent\.heartbeat\b.*\btask\.log\b/);
    for (const event of ["task.log", "agent.heartbeat", "mission.created"]) {
      const c = await open("/api/events", { query: { event } });
      try {
        expect(c.status, event).toBe(200);
      } finally {
        c.close();
      }
    }
  });
});

describe("lifecycle", () => {
  test("keep-alive comments while nothing happens", async () => {
    const other = await secondApp({ keepAliveMs: 100 });
    const c = await open("/api/events", {}, other.url);
    try {
      await waitFor(() => c.frames.filter((f) => f.comment === "keep-alive").length >= 2, 5_000, "keep-alives");
    } finally {
      c.close();
      await other.close();
    }
  });

  test("a client that disconnects is unsubscribed; the bus stops tailing when idle", async () => {
    const other = await secondApp({ idleStopMs: 100 });
    const bus = busOf(other.app);
    const a = await open("/api/events", {}, other.url);
    const b = await open("/api/events", { query: { mission_id: "x" } }, other.url);
    expect(bus.subscriberCount()).toBe(2);
    a.close();
    await waitFor(() => bus.subscriberCount() === 1, 5_000, "one left");
    b.close();
    await waitFor(() => bus.subscriberCount() === 0, 5_000, "none left");
    // After the idle stop, a new subscriber starts it again and gets new entries.
    await new Promise((r) => setTimeout(r, 300));
    const c = await open("/api/events", {}, other.url);
    try {
      const m = await createMission(t);
      await c.until((e) => e.some((x) => x.json.mission_id === m.mission_id), 10_000, "after restart");
    } finally {
      c.close();
      await other.close();
    }
  });

  test("closing the app ends open streams and the close completes", async () => {
    const other = await secondApp();
    const c = await open("/api/events", {}, other.url);
    const started = Date.now();
    await other.close();
    await c.ended;
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(busOf(other.app).subscriberCount()).toBe(0);
  });
});

describe("auth", () => {
  test("no token → 401; agent token → 403", async () => {
    const r = await t.json("GET", "/api/events", { token: null });
    expect(r.status).toBe(401);
    expect(r.headers["www-authenticate"]).toBe("Bearer");
    expect(r.body).toEqual({ errors: { detail: "Unauthorized" } });
    const a = await t.json("GET", "/api/events", { token: await t.agentToken(uniq("agent")) });
    expect(a.status).toBe(403);
    expect(a.body).toEqual({ errors: { detail: "Forbidden" } });
  });

  test("members may listen", async () => {
    const c = await openSse(t.url!, "/api/events", { token: t.member });
    expect(c.status).toBe(200);
    c.close();
  });
});

describe.runIf(backend === "postgres")("across processes (PostgreSQL)", () => {
  test("entries written by one process reach streams on another; so do heartbeats", async () => {
    const other = await secondApp();
    const c = await open("/api/events", {}, other.url);
    try {
      const m = await createMission(t); // written through the first app's pool
      await c.until((e) => e.some((x) => x.json.mission_id === m.mission_id), 10_000, "cross-process entry");
      await busOf(t.app).publishEphemeral({ event: "agent.heartbeat", agent_id: "far-agent", at: new Date() });
      await c.until(
        (e) => e.some((x) => x.json.agent_id === "far-agent" && x.json.event === "agent.heartbeat"),
        10_000,
        "cross-process heartbeat",
      );
    } finally {
      c.close();
      await other.close();
    }
  });

  test("an id that commits after a later one is still delivered first; a rolled-back id does not stall the stream", async () => {
    const other = await secondApp({ gapWaitMs: 20_000 });
    const c = await open("/api/events", {}, other.url);
    const a = await createMission(t);
    const b = await createMission(t);
    try {
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let appended!: (id: number) => void;
      const holding = new Promise<number>((r) => (appended = r));
      const slow = t.database.db.transaction(async (tx) => {
        const e = await appendTrace(tx as Executor, {
          event: "mission.updated",
          actor: "slow",
          missionId: a.mission_id,
          data: { changes: {} },
        });
        appended(e.id);
        await held;
      });
      const slowId = await holding;
      const [fast] = await append(t, {
        event: "mission.updated",
        actor: "fast",
        missionId: b.mission_id,
        data: { changes: {} },
      });
      expect(fast!.id).toBeGreaterThan(slowId);
      // The later id is committed but must wait for the earlier one.
      await new Promise((r) => setTimeout(r, 400));
      expect(ids(c).filter((i) => i >= slowId)).toEqual([]);
      release();
      await slow;
      await c.until((e) => e.some((x) => Number(x.id) === fast!.id), 10_000, "both");
      expect(ids(c).filter((i) => i >= slowId)).toEqual([slowId, fast!.id]);

      // A rolled-back append leaves a hole that is passed over as soon as its transaction is gone,
      // long before the 20 s gap wait.
      await t.database.db
        .transaction(async (tx) => {
          await appendTrace(tx as Executor, {
            event: "mission.updated",
            actor: "rolled-back",
            missionId: a.mission_id,
            data: { changes: {} },
          });
          throw new Error("roll back");
        })
        .catch(() => {});
      const [after] = await append(t, {
        event: "mission.updated",
        actor: "after",
        missionId: b.mission_id,
        data: { changes: {} },
      });
      const t0 = Date.now();
      await c.until((e) => e.some((x) => Number(x.id) === after!.id), 5_000, "entry after a rolled-back id");
      expect(Date.now() - t0).toBeLessThan(5_000);
      expect(c.events().some((e) => e.json?.actor === "rolled-back")).toBe(false);
    } finally {
      c.close();
      await other.close();
    }
  });
});
