// Heartbeat coalescing (src/agents/heartbeats.ts): repeated heartbeats cost no statement, are written in
// batches, never undo a later event, and every read shows the latest heartbeat already answered.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { FLUSH_EVERY_MS, heartbeatsFor } from "../../src/agents/heartbeats.js";
import { createTestContext, type TestContext } from "../harness.js";

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t.close();
});

let n = 0;
async function newAgent() {
  const r = await t.json("POST", "/api/agents", { body: { agent_id: `hb-${++n}` } });
  expect(r.status).toBe(201);
  return r.body.data as { id: number; agent_id: string };
}

const beat = (agent: string | number, token?: string) =>
  t.json("POST", `/api/agents/${agent}/activity`, { token, body: { event: "heartbeat" } });
const report = (agent: string, event: string) => t.json("POST", `/api/agents/${agent}/activity`, { body: { event } });

async function stored(agentKey: string) {
  const rows = await t.database.query<{ status: string; last_seen_at: Date | null; updated_at: Date }>(
    "SELECT status, last_seen_at, updated_at FROM agents WHERE agent_id = $1",
    [agentKey],
  );
  return rows[0]!;
}

/** The batched write (it may also run on its own timer while a test runs). */
const isFlush = (s: string) => /unnest/.test(s);

/** Statements on the agents table (token lookups aside) while `fn` runs. */
async function agentStatements(fn: () => Promise<unknown>): Promise<string[]> {
  const statements: string[] = [];
  const proto = Object.getPrototypeOf(t.database.db._.session);
  const original = proto.prepareQuery;
  proto.prepareQuery = function (this: unknown, query: { sql: string }, ...rest: unknown[]) {
    statements.push(query.sql);
    return original.call(this, query, ...rest);
  };
  try {
    await fn();
  } finally {
    proto.prepareQuery = original;
  }
  // The staleness daemon's scan runs on its own timer: not a heartbeat's work.
  return statements.filter(
    (s) => /"agents"/.test(s) && !/api_tokens/.test(s) && !/NOT EXISTS \(SELECT 1 FROM "dispatches"/.test(s),
  );
}

const settle = () => heartbeatsFor(t.database).settle();

describe("coalescing", () => {
  test("the first heartbeat is written at once; the next ones cost no statement until the flush", async () => {
    const a = await newAgent();
    await report(a.agent_id, "session_start");
    const first = await agentStatements(() => beat(a.agent_id));
    expect(first).toHaveLength(1);
    const answers: string[] = [];
    const started = Date.now();
    const later = await agentStatements(async () => {
      for (let i = 0; i < 5; i++) {
        const r = await beat(a.agent_id);
        expect(r.status).toBe(200);
        expect(r.body.data).toMatchObject({ agent_id: a.agent_id, status: "idle" });
        answers.push(r.body.data.last_seen_at);
      }
    });
    const ticks = Math.floor((Date.now() - started) / FLUSH_EVERY_MS);
    // Nothing but the batched write, once per timer tick that passed (none, or one, on an idle machine).
    expect(later.filter((s) => !isFlush(s))).toEqual([]);
    expect(later.length).toBeLessThanOrEqual(1 + ticks);
    const flushed = await agentStatements(settle);
    expect(later.length + flushed.length).toBeGreaterThanOrEqual(1);
    // The timer's ticks are not in phase with `started`: up to ticks + 1 of them fall in the window, and the
    // settle writes what came after the last one — so at most 2 writes for 5 beats when no whole period passed.
    expect(flushed.length).toBeLessThanOrEqual(1);
    expect(later.length + flushed.length).toBeLessThanOrEqual(Math.min(5, 2 + ticks));
    expect([...later, ...flushed][0]).toMatch(/^update "agents"/);
    const last = new Date(answers.at(-1)!).getTime();
    expect((await stored(a.agent_id)).last_seen_at!.getTime()).toBeGreaterThanOrEqual(last);
  });

  test("many agents' heartbeats are written together, not a statement each", async () => {
    const agents = await Promise.all(Array.from({ length: 5 }, () => newAgent()));
    for (const a of agents) await beat(a.agent_id); // each written at once: now known
    for (const a of agents)
      await t.database.query("UPDATE agents SET last_seen_at = now() - interval '1 minute' WHERE id = $1", [a.id]);
    const started = Date.now();
    const during = await agentStatements(async () => {
      for (const a of agents) expect((await beat(a.id)).status).toBe(200);
    });
    const elapsed = Date.now() - started;
    const flushed = await agentStatements(settle);
    expect([...during, ...flushed].every(isFlush)).toBe(true);
    // One flush per timer tick that passed while the beats were sent, plus the settle: two on an idle machine,
    // more only when the beats themselves took longer than a tick (a loaded CI machine).
    expect(during.length + flushed.length).toBeLessThanOrEqual(
      Math.min(agents.length, 2 + Math.floor(elapsed / FLUSH_EVERY_MS)),
    );
    for (const a of agents) {
      const s = await stored(a.agent_id);
      expect(Date.now() - s.last_seen_at!.getTime()).toBeLessThan(60_000);
    }
  });

  test("reads settle pending heartbeats first: GET and the list show the latest one", async () => {
    const a = await newAgent();
    await beat(a.agent_id);
    await t.database.query("UPDATE agents SET last_seen_at = now() - interval '1 minute' WHERE id = $1", [a.id]);
    const r = await beat(a.agent_id);
    const got = await t.json("GET", `/api/agents/${a.agent_id}`);
    expect(new Date(got.body.data.last_seen_at).getTime()).toBeGreaterThanOrEqual(
      new Date(r.body.data.last_seen_at).getTime(),
    );
    await beat(a.agent_id);
    const list = await t.json("GET", "/api/agents", { query: { limit: "500" } });
    const row = list.body.data.find((x: any) => x.agent_id === a.agent_id);
    expect(Date.now() - new Date(row.last_seen_at).getTime()).toBeLessThan(60_000);
    expect(heartbeatsFor(t.database).pending).toBe(0);
  });

  test("an event after a pending heartbeat is not undone by the flush", async () => {
    const a = await newAgent();
    await beat(a.agent_id); // written: idle
    expect((await beat(a.agent_id)).body.data.status).toBe("idle"); // pending
    expect((await report(a.agent_id, "stop")).body.data.status).toBe("offline");
    await settle();
    expect((await stored(a.agent_id)).status).toBe("offline");
    // The next heartbeat revives it, written at once (a status change never waits in memory), with its entry.
    const revived = await agentStatements(async () => expect((await beat(a.agent_id)).body.data.status).toBe("idle"));
    expect(revived.filter((s) => /^update "agents"/.test(s)).length).toBeGreaterThanOrEqual(1);
    expect(revived.filter(isFlush)).toEqual([]);
    expect((await stored(a.agent_id)).status).toBe("idle");
    const trace = await t.json("GET", "/api/trace", { query: { agent_id: a.agent_id, event: "agent.status_changed" } });
    expect(trace.body.data.map((e: any) => `${e.data.from}>${e.data.to}:${e.data.reason}`)).toEqual([
      "offline>idle:heartbeat",
      "idle>offline:activity",
      "offline>idle:heartbeat",
    ]);
  });

  test("a stop recorded elsewhere after the heartbeat (another process) is not undone either", async () => {
    const a = await newAgent();
    await beat(a.agent_id);
    await beat(a.agent_id); // pending
    // As another server would write a later `stop`: status offline since after the pending heartbeat.
    await t.database.query(
      "UPDATE agents SET status = 'offline', status_since = now() + interval '1 second', last_seen_at = now() + interval '1 second' WHERE id = $1",
      [a.id],
    );
    await settle();
    expect((await stored(a.agent_id)).status).toBe("offline");
  });

  test("an event answered in between shows in the next heartbeat's answer", async () => {
    const a = await newAgent();
    await beat(a.agent_id);
    await report(a.agent_id, "blocked");
    expect((await beat(a.agent_id)).body.data.status).toBe("blocked");
    await t.json("PATCH", `/api/agents/${a.agent_id}`, { body: { name: "renamed" } });
    expect((await beat(a.agent_id)).body.data).toMatchObject({ status: "blocked", name: "renamed" });
  });

  test("agent tokens coalesce too, and still reach only their own agent", async () => {
    const token = await t.agentToken("hb-self");
    expect((await beat("hb-self", token)).status).toBe(200);
    expect((await beat("hb-self", token)).status).toBe(200);
    const other = await newAgent();
    await beat(other.agent_id);
    expect((await beat(other.agent_id, token)).status).toBe(403);
  });
});

describe("shutdown", () => {
  test("closing the app writes the heartbeats still in memory", async () => {
    const s = await createTestContext();
    try {
      const r = await s.json("POST", "/api/agents/hb-closing/activity", { body: { event: "heartbeat" } });
      expect(r.status).toBe(201);
      await s.database.query(
        "UPDATE agents SET last_seen_at = now() - interval '1 hour' WHERE agent_id = 'hb-closing'",
      );
      expect((await s.json("POST", "/api/agents/hb-closing/activity", { body: { event: "heartbeat" } })).status).toBe(
        200,
      );
      await s.app.close();
      const rows = await s.database.query<{ last_seen_at: Date }>(
        "SELECT last_seen_at FROM agents WHERE agent_id = 'hb-closing'",
      );
      expect(Date.now() - rows[0]!.last_seen_at.getTime()).toBeLessThan(60_000);
    } finally {
      await s.db.drop();
    }
  });
});
