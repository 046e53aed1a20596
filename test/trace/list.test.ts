// Listing with time filters: a mission's window is answered as an id range of its chain (trace.repo.ts);
// these tests check that it selects exactly the entries a plain `since <= at <= until` would, boundaries
// included, page by page, alone and combined with the other filters.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, type TestContext } from "../harness.js";
import { append, createMission } from "./helpers.js";

let t: TestContext;
let key: string;
let other: string;
let all: Array<{ id: number; at: string; task_id: string | null; mission_id: string | null }>;

const pause = () => new Promise((r) => setTimeout(r, 12));

beforeAll(async () => {
  t = await createTestContext();
  key = (await createMission(t)).mission_id;
  other = (await createMission(t)).mission_id;
  for (let g = 0; g < 6; g++) {
    await pause();
    for (let i = 0; i < 3; i++) {
      // Separate statements: several entries may share a millisecond, as they do in real traffic.
      await append(t, {
        event: "mission.updated",
        actor: "x",
        missionId: key,
        taskId: i === 0 ? "task-a" : null,
        data: { changes: { g, i } },
      });
      await append(t, { event: "mission.updated", actor: "x", missionId: other, data: { changes: { g, i } } });
    }
  }
  await append(t, { event: "agent.updated", actor: "x", agentId: "a", data: { changes: {} } });
  const r = await t.json("GET", "/api/trace", { query: { limit: "500" } });
  all = r.body.data;
});
afterAll(async () => {
  await t.close();
});

async function listAll(url: string, query: Record<string, string>) {
  const out: number[] = [];
  let cursor: string | null = null;
  do {
    const q: Record<string, string> = { ...query, limit: "2" };
    if (cursor) q.cursor = cursor;
    const r = await t.json("GET", url, { query: q });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    out.push(...r.body.data.map((e: any) => e.id));
    cursor = r.body.meta.next_cursor;
  } while (cursor);
  return out;
}

function expected(f: { mission?: string; task?: string; since?: string; until?: string }) {
  return all
    .filter(
      (e) =>
        (f.mission === undefined || e.mission_id === f.mission) &&
        (f.task === undefined || e.task_id === f.task) &&
        (f.since === undefined || e.at >= f.since) &&
        (f.until === undefined || e.at <= f.until),
    )
    .map((e) => e.id);
}

describe("time windows", () => {
  test("at never decreases along a chain", () => {
    for (const m of [key, other]) {
      const ats = all.filter((e) => e.mission_id === m).map((e) => e.at);
      expect([...ats].sort()).toEqual(ats);
    }
  });

  test("every window bounded by stored `at` values selects exactly since <= at <= until", async () => {
    const mine = all.filter((e) => e.mission_id === key);
    const points = [...new Set(mine.map((e) => e.at))];
    const shift = (iso: string, ms: number) => new Date(new Date(iso).getTime() + ms).toISOString();
    const bounds = [
      undefined,
      "2000-01-01T00:00:00.000Z",
      "2999-01-01T00:00:00.000Z",
      ...points.filter((_, i) => i % 2 === 0),
      shift(points[3]!, 1),
      shift(points[3]!, -1),
    ];
    let checked = 0;
    for (const since of bounds) {
      for (const until of bounds) {
        if (since !== undefined && until !== undefined && since > until && checked % 3 !== 0) continue;
        const query: Record<string, string> = {};
        if (since !== undefined) query.since = since;
        if (until !== undefined) query.until = until;
        const got = await listAll(`/api/missions/${key}/trace`, query);
        expect(got, JSON.stringify(query)).toEqual(expected({ mission: key, since, until }));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(20);
  });

  test("with another filter too, on /api/trace, and without a mission", async () => {
    const since = all.filter((e) => e.mission_id === key)[4]!.at;
    const until = all.filter((e) => e.mission_id === key)[14]!.at;
    expect(await listAll("/api/trace", { mission_id: key, task_id: "task-a", since, until })).toEqual(
      expected({ mission: key, task: "task-a", since, until }),
    );
    expect(await listAll("/api/trace", { mission_id: key, since })).toEqual(expected({ mission: key, since }));
    expect(await listAll("/api/trace", { since, until })).toEqual(expected({ since, until }));
    expect(await listAll("/api/trace", { until })).toEqual(expected({ until }));
  });

  test("a mission with no entries in the window lists nothing", async () => {
    const r = await t.json("GET", `/api/missions/${key}/trace`, { query: { since: "2999-01-01T00:00:00Z" } });
    expect(r.body).toEqual({ data: [], meta: { next_cursor: null } });
    const u = await t.json("GET", `/api/missions/${key}/trace`, { query: { until: "2000-01-01T00:00:00Z" } });
    expect(u.body).toEqual({ data: [], meta: { next_cursor: null } });
  });

  test.each([
    [{ since: "yesterday" }, { since: ["must be a valid date-time"] }],
    [{ until: "2026-13-01T00:00:00Z" }, { until: ["must be a valid date-time"] }],
  ])("bad %j → 422", async (query, errors) => {
    const r = await t.json("GET", `/api/missions/${key}/trace`, { query });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
  });

  // The event filter takes the stored event names (trace.events.ts): anything else is outside its domain.
  test.each([["note.added"], ["task.log"], ["agent.heartbeat"], [""]])(
    "event=%j → 422 on both lists",
    async (event) => {
      for (const url of ["/api/trace", `/api/missions/${key}/trace`]) {
        const r = await t.json("GET", url, { query: { event } });
        expect(r.status, url).toBe(422);
        expect(Object.keys(r.body.errors)).toEqual(["event"]);
        expect(r.body.errors.event[0]).toMatch(/^must be one of: .*\btask\.status_changed\b/);
      }
    },
  );

  test("event= a stored name filters", async () => {
    const r = await t.json("GET", "/api/trace", { query: { event: "agent.updated" } });
    expect(r.status).toBe(200);
    expect(r.body.data.map((e: { event: string; agent_id: string }) => [e.event, e.agent_id])).toEqual([
      ["agent.updated", "a"],
    ]);
  });
});
