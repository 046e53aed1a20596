import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, type TestContext } from "../harness.js";
import { factory, traceOf } from "./factory.js";

let t: TestContext;
let f: ReturnType<typeof factory>;
beforeAll(async () => {
  t = await createTestContext();
  f = factory(t);
});
afterAll(async () => {
  await t.close();
});

const TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

async function countObjectives() {
  return (await t.json("GET", "/api/objectives", { query: { limit: "500" } })).body.data.length as number;
}

/** YYYY-MM-DD, `days` from today (UTC). */
function day(days: number): string {
  return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
}

describe("objectives: create", () => {
  test("the reference's wrapped body: 201, Location, full shape, trace entry", async () => {
    const r = await t.json("POST", "/api/objectives", {
      body: { objective: { objective_id: "S1", title: "Generate Revenue", description: "AI-Native PM", priority: 1 } },
    });
    expect(r.status).toBe(201);
    expect(r.headers.location).toBe("/api/objectives/S1");
    expect(r.body).toEqual({
      data: {
        id: expect.any(Number),
        objective_id: "S1",
        title: "Generate Revenue",
        description: "AI-Native PM",
        priority: 1,
        status: "active",
        progress: 0,
        health: null,
        start_date: null,
        end_date: null,
        key_results: [],
        inserted_at: expect.stringMatching(TS),
        updated_at: expect.stringMatching(TS),
      },
    });
    const [entry] = (await traceOf(t, "objective.created")).filter((e) => e.data.objective_id === "S1");
    expect(entry).toMatchObject({
      actor: "admin:test-admin",
      mission_id: null,
      data: {
        objective_id: "S1",
        title: "Generate Revenue",
        description: "AI-Native PM",
        priority: 1,
        status: "active",
        health: null,
        start_date: null,
        end_date: null,
      },
    });
  });

  test("bare body by a member, key generated, dates and status kept", async () => {
    const r = await t.json("POST", "/api/objectives", {
      token: t.member,
      body: { title: "Grow", status: "draft", start_date: "2026-01-01", end_date: "2026-03-31" },
    });
    expect(r.status).toBe(201);
    expect(r.body.data).toMatchObject({ status: "draft", start_date: "2026-01-01", end_date: "2026-03-31" });
    expect(r.body.data.objective_id).toMatch(/^objective-[a-z2-7]{10}$/);
    expect(r.body.data.health).toMatch(/^(on_track|at_risk|off_track)$/);
  });

  test("a hand-set health without dates is kept", async () => {
    const o = await f.objective({ health: "at_risk", start_date: "2026-01-01" });
    expect(o.health).toBe("at_risk");
  });

  const bad: Array<[string, unknown, Record<string, string[]>]> = [
    ["missing title", {}, { title: ["is required"] }],
    ["empty title", { title: "" }, { title: ["must NOT have fewer than 1 characters"] }],
    ["NUL in title", { title: "a\u0000b" }, { title: ["must not contain NUL or unpaired surrogate characters"] }],
    ["unknown field", { title: "t", owner: "me" }, { owner: ["is not a known field"] }],
    ["unknown field in wrapper", { objective: { title: "t", progress: 5 } }, { progress: ["is not a known field"] }],
    ["key_results are not written here", { title: "t", key_results: [] }, { key_results: ["is not a known field"] }],
    ["all-digit key", { title: "t", objective_id: "12" }, { objective_id: ["has an invalid format"] }],
    [
      "unknown status",
      { title: "t", status: "paused" },
      { status: ["must be one of: draft, active, completed, cancelled"] },
    ],
    ["priority not an integer", { title: "t", priority: 1.5 }, { priority: ["must be integer or null"] }],
    ["priority as a string", { title: "t", priority: "1" }, { priority: ["must be integer or null"] }],
    ["negative priority", { title: "t", priority: -1 }, { priority: ["must be >= 0"] }],
    ["priority beyond a database integer", { title: "t", priority: 2 ** 31 }, { priority: ["must be <= 2147483647"] }],
    ["impossible date", { title: "t", start_date: "2026-02-30" }, { start_date: ["must be a valid date"] }],
    ["timestamp for a date", { title: "t", end_date: "2026-02-01T00:00:00Z" }, { end_date: ["must be a valid date"] }],
    ["year zero", { title: "t", start_date: "0000-01-01" }, { start_date: ["has an invalid format"] }],
    [
      "end before start",
      { title: "t", start_date: "2026-02-01", end_date: "2026-01-31" },
      { end_date: ["must not be before start_date"] },
    ],
    [
      "unknown health",
      { title: "t", health: "green" },
      { health: ["must be one of: on_track, at_risk, off_track, null"] },
    ],
    [
      "health with both dates",
      { title: "t", health: "on_track", start_date: "2026-01-01", end_date: "2026-02-01" },
      { health: ["is derived from start_date and end_date; set either to null to set health by hand"] },
    ],
  ];
  test.each(bad)("%s → 422 and nothing created", async (_name, body, errors) => {
    const before = await countObjectives();
    const r = await t.json("POST", "/api/objectives", { body });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
    expect(await countObjectives()).toBe(before);
  });

  test("duplicate key → 422", async () => {
    await f.objective({ objective_id: "dup-o" });
    const r = await t.json("POST", "/api/objectives", { body: { title: "again", objective_id: "dup-o" } });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors: { objective_id: ["has already been taken"] } });
  });
});

describe("objectives: get and list", () => {
  test("by integer id and by key", async () => {
    const o = await f.objective();
    const byId = await t.json("GET", `/api/objectives/${o.id}`);
    const byKey = await t.json("GET", `/api/objectives/${o.objective_id}`);
    expect(byId.status).toBe(200);
    expect(byId.body).toEqual(byKey.body);
    expect(byId.body.data).toEqual(o);
  });

  test.each(["999999", "no-such-objective", "bad key!", "0", "99999999999999"])("unknown %s → 404", async (id) => {
    const r = await t.json("GET", `/api/objectives/${encodeURIComponent(id)}`);
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ errors: { detail: "Not Found" } });
  });

  test("pagination walks every objective once, oldest first, each with its key results", async () => {
    for (let i = 0; i < 5; i++) {
      const o = await f.objective({ title: `page-${i}` });
      await f.keyResult(o.objective_id, { title: `kr-${i}`, progress: i * 10 });
    }
    const all = (await t.json("GET", "/api/objectives", { query: { limit: "500" } })).body.data;
    const seen: any[] = [];
    let cursor: string | null = null;
    do {
      const query: Record<string, string> = { limit: "2" };
      if (cursor) query.cursor = cursor;
      const r = await t.json("GET", "/api/objectives", { query });
      expect(r.status).toBe(200);
      expect(r.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...r.body.data);
      cursor = r.body.meta.next_cursor;
    } while (cursor);
    expect(seen).toEqual(all);
    const paged = seen.filter((o) => o.title.startsWith("page-"));
    expect(paged.map((o) => [o.title, o.key_results.map((k: any) => k.title), o.progress])).toEqual([
      ["page-0", ["kr-0"], 0],
      ["page-1", ["kr-1"], 10],
      ["page-2", ["kr-2"], 20],
      ["page-3", ["kr-3"], 30],
      ["page-4", ["kr-4"], 40],
    ]);
  });

  test("status filter", async () => {
    const o = await f.objective({ status: "cancelled" });
    const r = await t.json("GET", "/api/objectives", { query: { status: "cancelled", limit: "500" } });
    expect(r.status).toBe(200);
    expect(r.body.data.map((x: any) => x.objective_id)).toContain(o.objective_id);
    expect(r.body.data.every((x: any) => x.status === "cancelled")).toBe(true);
  });

  test.each([
    [{ status: "done" }, { status: ["must be one of: draft, active, completed, cancelled"] }],
    [{ limit: "0" }, { limit: ["must be >= 1"] }],
    [{ cursor: "nope" }, { cursor: ["is not a valid cursor"] }],
  ])("bad query %j → 422", async (query, errors) => {
    const r = await t.json("GET", "/api/objectives", { query });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
  });
});

describe("objectives: update", () => {
  test("changes only the named fields and traces them", async () => {
    const o = await f.objective({ description: "keep", priority: 3 });
    const r = await t.json("PATCH", `/api/objectives/${o.id}`, {
      body: { objective: { title: "Renamed", status: "completed", priority: null } },
    });
    expect(r.status).toBe(200);
    expect(r.body.data).toMatchObject({ title: "Renamed", status: "completed", priority: null, description: "keep" });
    const entries = (await traceOf(t, "objective.updated")).filter((e) => e.data.objective_id === o.objective_id);
    expect(entries.map((e) => e.data)).toEqual([
      { objective_id: o.objective_id, changes: { title: "Renamed", status: "completed", priority: null } },
    ]);
  });

  test("naming the current values changes nothing and writes no entry", async () => {
    const o = await f.objective({ title: "Same" });
    const r = await t.json("PATCH", `/api/objectives/${o.objective_id}`, {
      body: { title: "Same", objective_id: o.objective_id },
    });
    expect(r.status).toBe(200);
    expect(r.body.data.updated_at).toBe(o.updated_at);
    const entries = (await traceOf(t, "objective.updated")).filter((e) => e.data.objective_id === o.objective_id);
    expect(entries).toEqual([]);
  });

  test("health: hand-set without dates; derived (and the hand-set value cleared) once both dates are set", async () => {
    const o = await f.objective();
    const set = await t.json("PATCH", `/api/objectives/${o.id}`, { body: { health: "off_track" } });
    expect(set.body.data.health).toBe("off_track");
    const dated = await t.json("PATCH", `/api/objectives/${o.id}`, {
      body: { start_date: day(-5), end_date: day(100) },
    });
    expect(dated.status).toBe(200);
    // Progress 0 with ~5% of the time gone: on track.
    expect(dated.body.data.health).toBe("on_track");
    const entries = (await traceOf(t, "objective.updated")).filter((e) => e.data.objective_id === o.objective_id);
    expect(entries.at(-1)!.data.changes).toEqual({ start_date: day(-5), end_date: day(100), health: null });
    const refused = await t.json("PATCH", `/api/objectives/${o.id}`, { body: { health: "at_risk" } });
    expect(refused.status).toBe(422);
    expect(refused.body).toEqual({
      errors: { health: ["is derived from start_date and end_date; set either to null to set health by hand"] },
    });
    // Clearing a date makes health settable again; the old hand-set value does not come back.
    const undated = await t.json("PATCH", `/api/objectives/${o.id}`, { body: { end_date: null } });
    expect(undated.body.data.health).toBeNull();
    const again = await t.json("PATCH", `/api/objectives/${o.id}`, { body: { health: "at_risk" } });
    expect(again.body.data.health).toBe("at_risk");
  });

  test.each([
    [{ objective_id: "other" }, { objective_id: ["cannot be changed"] }],
    [{ title: "x", end_date: "2025-12-31" }, { end_date: ["must not be before start_date"] }],
    [{ title: null }, { title: ["must be string"] }],
    [{ progress: 50 }, { progress: ["is not a known field"] }],
    [{ start_date: "soon" }, { start_date: ["must be a valid date"] }],
  ])("%j → 422 and nothing changes", async (body, errors) => {
    const o = await f.objective({ title: "orig", start_date: "2026-01-01" });
    const r = await t.json("PATCH", `/api/objectives/${o.id}`, { body });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
    expect((await t.json("GET", `/api/objectives/${o.id}`)).body.data).toEqual(o);
  });

  test("unknown objective → 404", async () => {
    const r = await t.json("PATCH", "/api/objectives/nope", { body: { title: "x" } });
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ errors: { detail: "Not Found" } });
  });
});

describe("objectives: progress and health", () => {
  test("mean of the key results' progress, one decimal", async () => {
    const o = await f.objective();
    await f.keyResult(o.id, { target: 3, current: 1 });
    await f.keyResult(o.id, { target: 3, current: 1 });
    await f.keyResult(o.id, { progress: 0 });
    const r = await t.json("GET", `/api/objectives/${o.id}`);
    // (33.33 + 33.33 + 0) / 3 = 22.22
    expect(r.body.data.progress).toBe(22.2);
    expect(r.body.data.key_results.map((k: any) => k.progress)).toEqual([33.3, 33.3, 0]);
  });

  test("without key results: mean completion of its requirements, rejected ones left out", async () => {
    const o = await f.objective();
    const m = await f.mission();
    const half = await f.requirement({ objective_id: o.objective_id });
    await f.task({ mission: m, status: "completed", requirements: [half.id] });
    await f.task({ mission: m, status: "in_progress", requirements: [half.id] });
    await f.requirement({ objective_id: o.id, status: "done" });
    await f.requirement({ objective_id: o.id, status: "rejected" });
    const none = await f.requirement({ objective_id: o.id });
    expect(none.completion).toBe(0);
    const r = await t.json("GET", `/api/objectives/${o.id}`);
    // (50 + 100 + 0) / 3
    expect(r.body.data.progress).toBe(50);
  });

  test.each([
    [45, "on_track"],
    [30, "at_risk"],
    [10, "off_track"],
  ])("about half the period gone, progress %d → %s", async (progress, health) => {
    // 100 days, 50 of them (and part of today) gone: 50–51% elapsed.
    const o = await f.objective({ start_date: day(-50), end_date: day(49) });
    await f.keyResult(o.id, { progress });
    const r = await t.json("GET", `/api/objectives/${o.id}`);
    expect(r.body.data.progress).toBe(progress);
    expect(r.body.data.health).toBe(health);
  });
});

describe("objectives: delete", () => {
  test("deletes the objective and its key results, traced", async () => {
    const o = await f.objective();
    const kr1 = await f.keyResult(o.id);
    const kr2 = await f.keyResult(o.id);
    const r = await t.req("DELETE", `/api/objectives/${o.objective_id}`);
    expect(r.statusCode).toBe(204);
    expect(r.body).toBe("");
    expect((await t.json("GET", `/api/objectives/${o.id}`)).status).toBe(404);
    expect((await t.json("GET", `/api/key_results/${kr1.id}`)).status).toBe(404);
    const entries = (await traceOf(t, "objective.deleted")).filter((e) => e.data.objective_id === o.objective_id);
    expect(entries.map((e) => e.data)).toEqual([
      { objective_id: o.objective_id, title: o.title, key_results: [kr1.kr_id, kr2.kr_id] },
    ]);
  });

  test("refused while requirements point at it; nothing is deleted", async () => {
    const o = await f.objective();
    const kr = await f.keyResult(o.id);
    const r1 = await f.requirement({ objective_id: o.id, requirement_id: "REQ-DEL-1" });
    const r = await t.json("DELETE", `/api/objectives/${o.id}`);
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors: { requirements: ["1 requirement still serves this objective: REQ-DEL-1"] } });
    await f.requirement({ objective_id: o.id, requirement_id: "REQ-DEL-2" });
    const r2 = await t.json("DELETE", `/api/objectives/${o.id}`);
    expect(r2.body).toEqual({
      errors: { requirements: ["2 requirements still serve this objective: REQ-DEL-1, REQ-DEL-2"] },
    });
    expect((await t.json("GET", `/api/objectives/${o.id}`)).status).toBe(200);
    expect((await t.json("GET", `/api/key_results/${kr.id}`)).status).toBe(200);
    // Once the requirements go, so can the objective.
    expect((await t.req("DELETE", `/api/requirements/${r1.id}`)).statusCode).toBe(204);
    expect((await t.req("DELETE", "/api/requirements/REQ-DEL-2")).statusCode).toBe(204);
    expect((await t.req("DELETE", `/api/objectives/${o.id}`)).statusCode).toBe(204);
  });

  test("more than five requirements are summarised", async () => {
    const o = await f.objective();
    for (let i = 1; i <= 6; i++) await f.requirement({ objective_id: o.id, requirement_id: `MANY-${i}` });
    const r = await t.json("DELETE", `/api/objectives/${o.id}`);
    expect(r.body).toEqual({
      errors: {
        requirements: ["6 requirements still serve this objective: MANY-1, MANY-2, MANY-3, MANY-4, MANY-5, …"],
      },
    });
  });

  test("unknown objective → 404", async () => {
    const r = await t.json("DELETE", "/api/objectives/nope");
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ errors: { detail: "Not Found" } });
  });
});

describe("key results", () => {
  test("the reference's wrapped body: 201, Location, full shape, trace entry", async () => {
    const o = await f.objective({ objective_id: "S-KR" });
    const r = await t.json("POST", "/api/objectives/S-KR/key_results", {
      body: { key_result: { kr_id: "KR1.1", title: "Launch PM Tool" } },
    });
    expect(r.status).toBe(201);
    expect(r.headers.location).toBe("/api/key_results/KR1.1");
    expect(r.body).toEqual({
      data: {
        id: expect.any(Number),
        kr_id: "KR1.1",
        objective_id: "S-KR",
        title: "Launch PM Tool",
        direction: "increase",
        start: null,
        target: null,
        current: null,
        progress: 0,
        inserted_at: expect.stringMatching(TS),
        updated_at: expect.stringMatching(TS),
      },
    });
    const entries = (await traceOf(t, "key_result.created")).filter((e) => e.data.kr_id === "KR1.1");
    expect(entries.map((e) => e.data)).toEqual([
      {
        kr_id: "KR1.1",
        objective_id: "S-KR",
        title: "Launch PM Tool",
        target: null,
        current: null,
        progress: null,
        direction: "increase",
        start: null,
      },
    ]);
    const got = await t.json("GET", `/api/objectives/${o.id}`);
    expect(got.body.data.key_results).toEqual([r.body.data]);
  });

  test("lower is better: direction decrease, with or without a start; PATCH moves them, a start on the wrong side is 422", async () => {
    const o = await f.objective();
    const latency = await f.keyResult(o.id, {
      title: "p95 latency (ms)",
      direction: "decrease",
      target: 200,
      current: 350,
    });
    expect(latency).toMatchObject({ direction: "decrease", start: null, target: 200, current: 350, progress: 57.1 });
    const fromStart = await f.keyResult(o.id, { direction: "decrease", start: 500, target: 200, current: 350 });
    expect(fromStart).toMatchObject({ direction: "decrease", start: 500, progress: 50 });
    expect((await f.keyResult(o.id, { direction: "decrease", target: 200, current: 180 })).progress).toBe(100);
    expect((await f.keyResult(o.id, { start: 40, target: 100, current: 70 })).progress).toBe(50);

    const moved = await t.json("PATCH", `/api/key_results/${latency.kr_id}`, { body: { start: 500 } });
    expect(moved.status).toBe(200);
    expect(moved.body.data).toMatchObject({ start: 500, progress: 50 });
    const before = moved.body.data;
    for (const [body, errors] of [
      [{ direction: "increase" }, { start: ["must be below target for an increase"] }],
      [{ start: 150 }, { start: ["must be above target for a decrease"] }],
      [{ target: 600 }, { start: ["must be above target for a decrease"] }],
      [{ direction: "sideways" }, { direction: ["must be one of: increase, decrease"] }],
    ] as const) {
      const r = await t.json("PATCH", `/api/key_results/${latency.kr_id}`, { body });
      expect([r.status, r.body], JSON.stringify(body)).toEqual([422, { errors }]);
    }
    expect((await t.json("GET", `/api/key_results/${latency.kr_id}`)).body.data).toEqual(before);
    const both = await t.json("PATCH", `/api/key_results/${latency.kr_id}`, {
      body: { direction: "increase", start: null, target: 1000 },
    });
    expect(both.body.data).toMatchObject({ direction: "increase", start: null, target: 1000, progress: 35 });
    const entries = (await traceOf(t, "key_result.updated")).filter((e) => e.data.kr_id === latency.kr_id);
    expect(entries.map((e) => e.data.changes)).toEqual([
      { start: 500 },
      { target: 1000, direction: "increase", start: null },
    ]);
  });

  test("progress from target and current, capped at 100; or set directly", async () => {
    const o = await f.objective();
    expect((await f.keyResult(o.id, { target: 200, current: 50 })).progress).toBe(25);
    expect((await f.keyResult(o.id, { target: 10, current: 15 })).progress).toBe(100);
    expect((await f.keyResult(o.id, { target: 10 })).progress).toBe(0);
    expect((await f.keyResult(o.id, { progress: 62.5 })).progress).toBe(62.5);
    const kr = await f.keyResult(o.id, { kr_id: "KR-gen-key-check" });
    expect(kr.kr_id).toBe("KR-gen-key-check");
    expect((await f.keyResult(o.id)).kr_id).toMatch(/^kr-[a-z2-7]{10}$/);
  });

  const bad: Array<[string, unknown, Record<string, string[]>]> = [
    ["missing title", {}, { title: ["is required"] }],
    ["zero target", { title: "t", target: 0 }, { target: ["must be > 0"] }],
    ["negative target", { title: "t", target: -5 }, { target: ["must be > 0"] }],
    ["huge target", { title: "t", target: 1e300 }, { target: ["must be <= 1000000000000000"] }],
    ["target as a string", { title: "t", target: "10" }, { target: ["must be number or null"] }],
    ["progress above 100", { title: "t", progress: 101 }, { progress: ["must be <= 100"] }],
    ["negative progress", { title: "t", progress: -1 }, { progress: ["must be >= 0"] }],
    [
      "progress with a target",
      { title: "t", target: 10, progress: 50 },
      { progress: ["is computed from current and target; set target to null to set progress directly"] },
    ],
    ["objective_id in the body", { title: "t", objective_id: "x" }, { objective_id: ["is not a known field"] }],
    ["bad key", { title: "t", kr_id: "a b" }, { kr_id: ["has an invalid format"] }],
    ["unknown direction", { title: "t", direction: "down" }, { direction: ["must be one of: increase, decrease"] }],
    ["start as a string", { title: "t", start: "5" }, { start: ["must be number or null"] }],
    [
      "increase with start at the target",
      { title: "t", target: 10, start: 10 },
      { start: ["must be below target for an increase"] },
    ],
    [
      "increase with start above the target",
      { title: "t", target: 10, start: 20 },
      { start: ["must be below target for an increase"] },
    ],
    [
      "decrease with start below the target",
      { title: "t", direction: "decrease", target: 200, start: 100 },
      { start: ["must be above target for a decrease"] },
    ],
  ];
  test.each(bad)("create: %s → 422 and nothing created", async (_n, body, errors) => {
    const o = await f.objective();
    const r = await t.json("POST", `/api/objectives/${o.id}/key_results`, { body });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
    expect((await t.json("GET", `/api/objectives/${o.id}/key_results`)).body.data).toEqual([]);
  });

  test("create: duplicate key → 422; unknown objective → 404", async () => {
    const o = await f.objective();
    await f.keyResult(o.id, { kr_id: "KR-dup" });
    const dup = await t.json("POST", `/api/objectives/${o.id}/key_results`, { body: { title: "t", kr_id: "KR-dup" } });
    expect(dup.status).toBe(422);
    expect(dup.body).toEqual({ errors: { kr_id: ["has already been taken"] } });
    const missing = await t.json("POST", "/api/objectives/nope/key_results", { body: { title: "t" } });
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ errors: { detail: "Not Found" } });
  });

  test("list: the objective's only, oldest first, paginated; unknown objective → 404", async () => {
    const o = await f.objective();
    const other = await f.objective();
    await f.keyResult(other.id);
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await f.keyResult(o.objective_id, { title: `k${i}` }));
    const p1 = await t.json("GET", `/api/objectives/${o.objective_id}/key_results`, { query: { limit: "2" } });
    expect(p1.status).toBe(200);
    expect(p1.body.data).toEqual(made.slice(0, 2));
    const p2 = await t.json("GET", `/api/objectives/${o.id}/key_results`, {
      query: { limit: "2", cursor: p1.body.meta.next_cursor },
    });
    expect(p2.body).toEqual({ data: made.slice(2), meta: { next_cursor: null } });
    const missing = await t.json("GET", "/api/objectives/999999/key_results");
    expect(missing.status).toBe(404);
  });

  test("get by id and key; unknown → 404", async () => {
    const o = await f.objective();
    const kr = await f.keyResult(o.id, { target: 4, current: 1 });
    expect((await t.json("GET", `/api/key_results/${kr.id}`)).body).toEqual({ data: kr });
    expect((await t.json("GET", `/api/key_results/${kr.kr_id}`)).body).toEqual({ data: kr });
    const r = await t.json("GET", "/api/key_results/none-such");
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ errors: { detail: "Not Found" } });
  });

  test("update: current moves progress; traced with the changes", async () => {
    const o = await f.objective();
    const kr = await f.keyResult(o.id, { target: 8, current: 2 });
    const r = await t.json("PATCH", `/api/key_results/${kr.kr_id}`, {
      body: { key_result: { current: 6, title: "New" } },
    });
    expect(r.status).toBe(200);
    expect(r.body.data).toMatchObject({
      current: 6,
      target: 8,
      progress: 75,
      title: "New",
      objective_id: o.objective_id,
    });
    const entries = (await traceOf(t, "key_result.updated")).filter((e) => e.data.kr_id === kr.kr_id);
    expect(entries.map((e) => e.data)).toEqual([
      { kr_id: kr.kr_id, objective_id: o.objective_id, changes: { title: "New", current: 6 } },
    ]);
    expect((await t.json("GET", `/api/objectives/${o.id}`)).body.data.progress).toBe(75);
  });

  test("update: direct progress only without a target; a new target clears it", async () => {
    const o = await f.objective();
    const kr = await f.keyResult(o.id, { progress: 40 });
    const withTarget = await t.json("PATCH", `/api/key_results/${kr.id}`, { body: { target: 10, current: 1 } });
    expect(withTarget.body.data).toMatchObject({ target: 10, current: 1, progress: 10 });
    const entries = (await traceOf(t, "key_result.updated")).filter((e) => e.data.kr_id === kr.kr_id);
    expect(entries.at(-1)!.data.changes).toEqual({ target: 10, current: 1, progress: null });
    const refused = await t.json("PATCH", `/api/key_results/${kr.id}`, { body: { progress: 90 } });
    expect(refused.status).toBe(422);
    expect(refused.body).toEqual({
      errors: { progress: ["is computed from current and target; set target to null to set progress directly"] },
    });
    const direct = await t.json("PATCH", `/api/key_results/${kr.id}`, { body: { target: null, progress: 90 } });
    expect(direct.status).toBe(200);
    expect(direct.body.data).toMatchObject({ target: null, current: 1, progress: 90 });
  });

  test("update: keys and objective cannot change (the same ones are accepted)", async () => {
    const o = await f.objective();
    const other = await f.objective();
    const kr = await f.keyResult(o.id);
    for (const [body, errors] of [
      [{ kr_id: "renamed" }, { kr_id: ["cannot be changed"] }],
      [{ objective_id: other.objective_id }, { objective_id: ["cannot be changed"] }],
      [{ objective_id: other.id }, { objective_id: ["cannot be changed"] }],
      [{ objective_id: true }, { objective_id: ["has an invalid type or value"] }],
      [{ target: 0 }, { target: ["must be > 0"] }],
      [{ unit: "%" }, { unit: ["is not a known field"] }],
    ] as const) {
      const r = await t.json("PATCH", `/api/key_results/${kr.id}`, { body });
      expect(r.status, JSON.stringify(body)).toBe(422);
      expect(r.body).toEqual({ errors });
    }
    for (const same of [o.objective_id, o.id, String(o.id)]) {
      const r = await t.json("PATCH", `/api/key_results/${kr.id}`, { body: { objective_id: same, kr_id: kr.kr_id } });
      expect(r.status).toBe(200);
    }
    expect((await t.json("GET", `/api/key_results/${kr.id}`)).body.data).toEqual(kr);
    expect((await t.json("PATCH", "/api/key_results/nope", { body: { title: "x" } })).status).toBe(404);
  });

  test("delete: 204 and traced; refused while requirements point at it; unknown → 404", async () => {
    const o = await f.objective();
    const kr = await f.keyResult(o.id);
    const used = await f.keyResult(o.id);
    await f.requirement({ requirement_id: "REQ-ON-KR", kr_id: used.kr_id });
    const r = await t.req("DELETE", `/api/key_results/${kr.kr_id}`);
    expect(r.statusCode).toBe(204);
    expect((await t.json("GET", `/api/key_results/${kr.id}`)).status).toBe(404);
    const entries = (await traceOf(t, "key_result.deleted")).filter((e) => e.data.kr_id === kr.kr_id);
    expect(entries.map((e) => e.data)).toEqual([{ kr_id: kr.kr_id, objective_id: o.objective_id, title: kr.title }]);
    const refused = await t.json("DELETE", `/api/key_results/${used.id}`);
    expect(refused.status).toBe(422);
    expect(refused.body).toEqual({
      errors: { requirements: ["1 requirement still serves this key result: REQ-ON-KR"] },
    });
    expect((await t.json("GET", `/api/key_results/${used.id}`)).status).toBe(200);
    expect((await t.json("DELETE", "/api/key_results/nope")).status).toBe(404);
  });
});

describe("auth", () => {
  const routes: Array<[string, string, unknown?]> = [
    ["GET", "/api/objectives"],
    ["POST", "/api/objectives", { title: "t" }],
    ["GET", "/api/objectives/1"],
    ["PATCH", "/api/objectives/1", { title: "t" }],
    ["DELETE", "/api/objectives/1"],
    ["GET", "/api/objectives/1/key_results"],
    ["POST", "/api/objectives/1/key_results", { title: "t" }],
    ["GET", "/api/key_results/1"],
    ["PATCH", "/api/key_results/1", { title: "t" }],
    ["DELETE", "/api/key_results/1"],
  ];

  test.each(routes)("%s %s without a token → 401", async (method, url, body) => {
    const r = await t.json(method, url, { token: null, body });
    expect(r.status).toBe(401);
    expect(r.headers["www-authenticate"]).toBe("Bearer");
    expect(r.body).toEqual({ errors: { detail: "Unauthorized" } });
  });

  test("agent tokens have no rights here (403) and change nothing", async () => {
    const o = await f.objective();
    const kr = await f.keyResult(o.id);
    const agent = await t.agentToken("okr-agent");
    for (const [method, url, body] of routes) {
      const r = await t.json(
        method,
        url.replace("/objectives/1", `/objectives/${o.id}`).replace("/key_results/1", `/key_results/${kr.id}`),
        {
          token: agent,
          body,
        },
      );
      expect(r.status, `${method} ${url}`).toBe(403);
      expect(r.body).toEqual({ errors: { detail: "Forbidden" } });
    }
    expect((await t.json("GET", `/api/objectives/${o.id}`)).body.data).toMatchObject({
      title: o.title,
      key_results: [kr],
    });
  });

  test("members have every right here", async () => {
    const o = await f.objective();
    const kr = await t.json("POST", `/api/objectives/${o.id}/key_results`, { token: t.member, body: { title: "m" } });
    expect(kr.status).toBe(201);
    expect(
      (await t.json("PATCH", `/api/key_results/${kr.body.data.id}`, { token: t.member, body: { current: 1 } })).status,
    ).toBe(200);
    expect((await t.req("DELETE", `/api/key_results/${kr.body.data.id}`, { token: t.member })).statusCode).toBe(204);
    expect((await t.req("DELETE", `/api/objectives/${o.id}`, { token: t.member })).statusCode).toBe(204);
  });
});
