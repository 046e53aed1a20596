import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, type TestContext } from "../harness.js";
import type { components } from "../../src/client/schema.js";

type TraceEntry = components["schemas"]["TraceEntry"];
type Sprint = components["schemas"]["Sprint"];

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t.close();
});

const ZERO = {
  pending: 0,
  in_progress: 0,
  blocked: 0,
  pending_review: 0,
  rejected: 0,
  completed: 0,
  failed: 0,
  total: 0,
};

async function createSprint(body: Record<string, unknown> = {}) {
  const r = await t.json("POST", "/api/sprints", { body: { name: "Sprint", ...body } });
  expect(r.status).toBe(201);
  return r.body.data;
}

async function sprintTrace() {
  const r = await t.json("GET", "/api/trace", { query: { limit: "500" } });
  return (r.body.data as TraceEntry[]).filter((e) => e.event.startsWith("sprint."));
}

async function countSprints() {
  return (await t.database.query<{ n: number }>("SELECT count(*)::int AS n FROM sprints"))[0]!.n;
}

let missionId: number | null = null;
let taskN = 0;
/** Tasks are made directly in the table: this file tests sprints, not the tasks API. */
async function addTasks(sprintId: number | null, statuses: string[]) {
  if (missionId === null) missionId = (await t.json("POST", "/api/missions", { body: { goal: "g" } })).body.data.id;
  for (const status of statuses) {
    await t.database.query(
      "INSERT INTO tasks (task_id, mission_id, objective, status, sprint_id) VALUES ($1, $2, 'o', $3, $4)",
      [`sp-task-${++taskN}`, missionId, status, sprintId],
    );
  }
}

describe("create", () => {
  test("wrapped body as in the reference: 201, Location, every field, zero counts, trace entry", async () => {
    const r = await t.json("POST", "/api/sprints", {
      body: {
        sprint: {
          sprint_id: "sprint-1",
          name: "Sprint 1",
          goal: "MVP features",
          start_date: "2026-02-24",
          end_date: "2026-03-07",
        },
      },
    });
    expect(r.status).toBe(201);
    expect(r.headers.location).toBe("/api/sprints/sprint-1");
    expect(r.body.data).toEqual({
      id: expect.any(Number),
      sprint_id: "sprint-1",
      name: "Sprint 1",
      goal: "MVP features",
      start_date: "2026-02-24",
      end_date: "2026-03-07",
      status: "planned",
      task_counts: ZERO,
      inserted_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      updated_at: expect.stringMatching(/Z$/),
    });
    const trace = await sprintTrace();
    expect(trace).toHaveLength(1);
    expect(trace[0]).toMatchObject({
      event: "sprint.created",
      actor: "admin:test-admin",
      data: {
        sprint_id: "sprint-1",
        changes: {
          name: "Sprint 1",
          goal: "MVP features",
          start_date: "2026-02-24",
          end_date: "2026-03-07",
          status: "planned",
        },
      },
    });
  });

  test("bare body, only a name: key generated, no dates", async () => {
    const s = await createSprint({ status: "planned" });
    expect(s.sprint_id).toMatch(/^sprint-[a-z2-7]{10}$/);
    expect(s).toMatchObject({ goal: null, start_date: null, end_date: null, status: "planned" });
  });

  test.each([
    ["one-day sprint", "2026-03-01", "2026-03-01"],
    ["leap day", "2028-02-29", "2028-03-10"],
    ["only a start", "2026-03-01", null],
    ["only an end", null, "2026-03-01"],
  ])("%s is fine", async (_name, start, end) => {
    const s = await createSprint({ start_date: start, end_date: end });
    expect([s.start_date, s.end_date]).toEqual([start, end]);
  });

  const badDates: Array<[string, Record<string, unknown>, Record<string, string[]>]> = [
    ["30 February", { start_date: "2026-02-30" }, { start_date: ["must be a valid date"] }],
    ["29 February of a common year", { end_date: "2026-02-29" }, { end_date: ["must be a valid date"] }],
    ["month 13", { start_date: "2026-13-01" }, { start_date: ["must be a valid date"] }],
    ["day 00", { start_date: "2026-01-00" }, { start_date: ["must be a valid date"] }],
    ["31 April", { end_date: "2026-04-31" }, { end_date: ["must be a valid date"] }],
    ["year 0000", { start_date: "0000-01-01" }, { start_date: ["has an invalid format"] }],
    ["no zero padding", { start_date: "2026-2-1" }, { start_date: ["has an invalid format"] }],
    ["a timestamp", { start_date: "2026-02-01T00:00:00Z" }, { start_date: ["has an invalid format"] }],
    ["slashes", { start_date: "2026/02/01" }, { start_date: ["has an invalid format"] }],
    ["a number", { start_date: 20260201 }, { start_date: ["must be string or null"] }],
    [
      "end before start",
      { start_date: "2026-03-07", end_date: "2026-02-24" },
      { end_date: ["must not be before start_date"] },
    ],
  ];
  test.each(badDates)("%s → 422 and nothing created", async (_name, body, errors) => {
    const before = await countSprints();
    const r = await t.json("POST", "/api/sprints", { body: { name: "S", ...body } });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
    expect(await countSprints()).toBe(before);
  });

  const bad: Array<[string, unknown, Record<string, string[]>]> = [
    ["missing name", {}, { name: ["is required"] }],
    ["empty name", { name: "" }, { name: ["must NOT have fewer than 1 characters"] }],
    ["non-initial status", { name: "S", status: "active" }, { status: ["must be one of: planned"] }],
    ["unknown field", { name: "S", velocity: 3 }, { velocity: ["is not a known field"] }],
    ["all-digit key", { name: "S", sprint_id: "7" }, { sprint_id: ["has an invalid format"] }],
    ["goal wrong type", { name: "S", goal: 5 }, { goal: ["has an invalid type or value"] }],
  ];
  test.each(bad)("%s → 422 and nothing created", async (_name, body, errors) => {
    const before = await countSprints();
    const r = await t.json("POST", "/api/sprints", { body });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
    expect(await countSprints()).toBe(before);
  });

  test("duplicate key → 422", async () => {
    await createSprint({ sprint_id: "dup-sprint" });
    const r = await t.json("POST", "/api/sprints", { body: { sprint_id: "dup-sprint", name: "again" } });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors: { sprint_id: ["has already been taken"] } });
  });
});

describe("get and list", () => {
  test("task counts by status on get (by id or key)", async () => {
    const s = await createSprint();
    const other = await createSprint();
    await addTasks(s.id, [
      "pending",
      "pending",
      "in_progress",
      "completed",
      "failed",
      "blocked",
      "pending_review",
      "rejected",
    ]);
    await addTasks(other.id, ["completed"]);
    await addTasks(null, ["pending"]);
    const byKey = await t.json("GET", `/api/sprints/${s.sprint_id}`);
    expect(byKey.status).toBe(200);
    expect(byKey.body.data.task_counts).toEqual({
      pending: 2,
      in_progress: 1,
      blocked: 1,
      pending_review: 1,
      rejected: 1,
      completed: 1,
      failed: 1,
      total: 8,
    });
    expect((await t.json("GET", `/api/sprints/${s.id}`)).body).toEqual(byKey.body);
    expect((await t.json("GET", `/api/sprints/${other.id}`)).body.data.task_counts).toEqual({
      ...ZERO,
      completed: 1,
      total: 1,
    });
  });

  test.each(["999999", "no-such-sprint", "bad key!", "0"])("unknown %s → 404", async (id) => {
    const r = await t.json("GET", `/api/sprints/${encodeURIComponent(id)}`);
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ errors: { detail: "Not Found" } });
  });

  test("list: counts on every sprint in two queries however long the page, pagination, status filter", async () => {
    const made = [];
    for (let i = 0; i < 5; i++) {
      const s = await createSprint({ name: `list-${i}` });
      await addTasks(
        s.id,
        Array.from({ length: i }, () => "in_progress"),
      );
      made.push(s);
    }
    const statements: string[] = [];
    const proto = Object.getPrototypeOf(t.database.db._.session);
    const original = proto.prepareQuery;
    proto.prepareQuery = function (this: unknown, query: { sql: string }, ...rest: unknown[]) {
      statements.push(query.sql);
      return original.call(this, query, ...rest);
    };
    let all;
    try {
      all = await t.json("GET", "/api/sprints", { query: { limit: "500" } });
    } finally {
      proto.prepareQuery = original;
    }
    expect(all.status).toBe(200);
    expect(statements.filter((s) => /"tasks"/.test(s))).toHaveLength(1);
    const byKey = new Map((all.body.data as Sprint[]).map((s) => [s.sprint_id, s]));
    made.forEach((s, i) => expect(byKey.get(s.sprint_id)!.task_counts).toEqual({ ...ZERO, in_progress: i, total: i }));

    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const query: Record<string, string> = { limit: "2" };
      if (cursor) query.cursor = cursor;
      const r = await t.json("GET", "/api/sprints", { query });
      for (const s of r.body.data) expect(s.task_counts).toEqual(byKey.get(s.sprint_id)!.task_counts);
      seen.push(...r.body.data.map((s: any) => s.id));
      cursor = r.body.meta.next_cursor;
    } while (cursor);
    expect(seen).toEqual((all.body.data as Sprint[]).map((s) => s.id));

    await t.json("PATCH", `/api/sprints/${made[0].id}`, { body: { status: "active" } });
    const active = await t.json("GET", "/api/sprints", { query: { status: "active", limit: "500" } });
    expect(active.body.data.map((s: any) => s.sprint_id)).toContain(made[0].sprint_id);
    expect(active.body.data.every((s: any) => s.status === "active")).toBe(true);
  });

  test.each([
    [{ status: "open" }, { status: ["must be one of: planned, active, closed"] }],
    [{ limit: "0" }, { limit: ["must be >= 1"] }],
    [{ cursor: "zzz" }, { cursor: ["is not a valid cursor"] }],
  ])("bad query %j → 422", async (query, errors) => {
    const r = await t.json("GET", "/api/sprints", { query: query as Record<string, string> });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
  });
});

describe("update", () => {
  test("changes only the fields named; traced with the changes", async () => {
    const s = await createSprint({
      sprint_id: "upd-sprint",
      goal: "g",
      start_date: "2026-03-01",
      end_date: "2026-03-14",
    });
    const r = await t.json("PATCH", "/api/sprints/upd-sprint", {
      body: { sprint: { name: "Renamed", end_date: "2026-03-21" } },
    });
    expect(r.status).toBe(200);
    expect(r.body.data).toMatchObject({
      id: s.id,
      name: "Renamed",
      goal: "g",
      start_date: "2026-03-01",
      end_date: "2026-03-21",
      status: "planned",
      task_counts: ZERO,
    });
    const e = (await sprintTrace()).filter((x) => x.data.sprint_id === "upd-sprint");
    expect(e.map((x) => [x.event, x.data])).toEqual([
      ["sprint.created", expect.anything()],
      ["sprint.updated", { sprint_id: "upd-sprint", changes: { name: "Renamed", end_date: "2026-03-21" } }],
    ]);
  });

  test("null clears a date; a PATCH that changes nothing writes no entry", async () => {
    const s = await createSprint({ start_date: "2026-03-01", end_date: "2026-03-14" });
    const r = await t.json("PATCH", `/api/sprints/${s.id}`, { body: { end_date: null } });
    expect(r.body.data.end_date).toBeNull();
    const count = (await sprintTrace()).length;
    const same = await t.json("PATCH", `/api/sprints/${s.id}`, {
      body: { name: s.name, start_date: "2026-03-01", status: "planned" },
    });
    expect(same.status).toBe(200);
    expect((await sprintTrace()).length).toBe(count);
  });

  const badDates: Array<[string, Record<string, unknown>, Record<string, string[]>]> = [
    [
      "only the end, before the stored start",
      { end_date: "2026-02-28" },
      { end_date: ["must not be before start_date"] },
    ],
    [
      "only the start, after the stored end",
      { start_date: "2026-03-15" },
      { start_date: ["must not be after end_date"] },
    ],
    [
      "both, end before start",
      { start_date: "2026-04-10", end_date: "2026-04-01" },
      { end_date: ["must not be before start_date"] },
    ],
    ["an impossible date", { end_date: "2026-02-30" }, { end_date: ["must be a valid date"] }],
  ];
  test.each(badDates)("%s → 422 and nothing changes", async (_name, body, errors) => {
    const s = await createSprint({ start_date: "2026-03-01", end_date: "2026-03-14" });
    const r = await t.json("PATCH", `/api/sprints/${s.id}`, { body: { name: "changed too", ...body } });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
    expect((await t.json("GET", `/api/sprints/${s.id}`)).body.data).toEqual(s);
  });

  test("moving one date is fine when the other allows it, and clearing one lifts the constraint", async () => {
    const s = await createSprint({ start_date: "2026-03-01", end_date: "2026-03-14" });
    expect((await t.json("PATCH", `/api/sprints/${s.id}`, { body: { start_date: "2026-03-14" } })).status).toBe(200);
    expect((await t.json("PATCH", `/api/sprints/${s.id}`, { body: { end_date: null } })).status).toBe(200);
    expect((await t.json("PATCH", `/api/sprints/${s.id}`, { body: { start_date: "2027-01-01" } })).status).toBe(200);
  });

  test("racing PATCHes each moving one date cannot together put the end before the start", async () => {
    const s = await createSprint({ start_date: "2026-03-01", end_date: "2026-03-14" });
    const [a, b] = await Promise.all([
      t.json("PATCH", `/api/sprints/${s.id}`, { body: { start_date: "2026-03-10" } }),
      t.json("PATCH", `/api/sprints/${s.id}`, { body: { end_date: "2026-03-05" } }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 422]);
    const now = (await t.json("GET", `/api/sprints/${s.id}`)).body.data;
    expect(now.end_date >= now.start_date).toBe(true);
  });

  test("status moves through the state machine, each traced as sprint.status_changed", async () => {
    const s = await createSprint({ sprint_id: "life" });
    for (const [to, ok] of [
      ["active", true],
      ["planned", false],
      ["closed", true],
      ["planned", false],
      ["active", true],
      ["closed", true],
    ] as const) {
      const r = await t.json("PATCH", `/api/sprints/${s.id}`, { body: { status: to } });
      if (ok) {
        expect(r.status).toBe(200);
        expect(r.body.data.status).toBe(to);
      } else {
        expect(r.status).toBe(422);
        expect(r.body.errors.status[0]).toMatch(new RegExp(`^cannot move from \\w+ to ${to}$`));
      }
    }
    const moves = (await sprintTrace()).filter(
      (e) => e.event === "sprint.status_changed" && e.data.sprint_id === "life",
    );
    expect(moves.map((e) => [e.data.from, e.data.to])).toEqual([
      ["planned", "active"],
      ["active", "closed"],
      ["closed", "active"],
      ["active", "closed"],
    ]);
    const planned = await createSprint();
    expect((await t.json("PATCH", `/api/sprints/${planned.id}`, { body: { status: "closed" } })).status).toBe(200);
  });

  test("a rejected status move changes nothing else in the same PATCH", async () => {
    const s = await createSprint({ name: "keep" });
    const r = await t.json("PATCH", `/api/sprints/${s.id}`, { body: { name: "lost", status: "active" } });
    expect(r.status).toBe(200);
    const r2 = await t.json("PATCH", `/api/sprints/${s.id}`, { body: { name: "lost again", status: "planned" } });
    expect(r2.status).toBe(422);
    expect(r2.body).toEqual({ errors: { status: ["cannot move from active to planned"] } });
    expect((await t.json("GET", `/api/sprints/${s.id}`)).body.data.name).toBe("lost");
  });

  test.each([
    ["changing the key", { sprint_id: "other" }, { sprint_id: ["cannot be changed"] }],
    ["unknown status", { status: "done" }, { status: ["must be one of: planned, active, closed"] }],
    ["unknown field", { owner: "me" }, { owner: ["is not a known field"] }],
    ["empty name", { name: "" }, { name: ["must NOT have fewer than 1 characters"] }],
  ])("%s → 422", async (_name, body, errors) => {
    const s = await createSprint();
    const r = await t.json("PATCH", `/api/sprints/${s.id}`, { body });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
  });

  test("unknown sprint → 404", async () => {
    const r = await t.json("PATCH", "/api/sprints/ghost-sprint", { body: { name: "x" } });
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ errors: { detail: "Not Found" } });
  });
});

describe("auth", () => {
  const routes: Array<[string, string, unknown?]> = [
    ["GET", "/api/sprints"],
    ["POST", "/api/sprints", { name: "n" }],
    ["GET", "/api/sprints/1"],
    ["PATCH", "/api/sprints/1", { name: "n" }],
  ];
  test.each(routes)("%s %s without a token → 401", async (method, url, body) => {
    const r = await t.json(method, url, { token: null, body });
    expect(r.status).toBe(401);
    expect(r.headers["www-authenticate"]).toBe("Bearer");
    expect(r.body).toEqual({ errors: { detail: "Unauthorized" } });
  });

  test("members may do everything", async () => {
    const c = await t.json("POST", "/api/sprints", { token: t.member, body: { name: "by member" } });
    expect(c.status).toBe(201);
    expect((await t.json("GET", "/api/sprints", { token: t.member })).status).toBe(200);
    expect((await t.json("GET", `/api/sprints/${c.body.data.id}`, { token: t.member })).status).toBe(200);
    expect(
      (await t.json("PATCH", `/api/sprints/${c.body.data.id}`, { token: t.member, body: { goal: "x" } })).status,
    ).toBe(200);
  });

  test("agent tokens → 403 on every sprint route, and nothing changes", async () => {
    const token = await t.agentToken("sprint-agent");
    const s = await createSprint({ name: "untouched" });
    const before = await countSprints();
    for (const [method, url, body] of [
      ...routes,
      ["PATCH", `/api/sprints/${s.id}`, { name: "touched" }] as [string, string, unknown],
    ]) {
      const r = await t.json(method, url, { token, body });
      expect(r.status, `${method} ${url}`).toBe(403);
      expect(r.body).toEqual({ errors: { detail: "Forbidden" } });
    }
    expect(await countSprints()).toBe(before);
    expect((await t.json("GET", `/api/sprints/${s.id}`)).body.data.name).toBe("untouched");
  });
});
