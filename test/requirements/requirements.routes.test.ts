import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, type TestContext } from "../harness.js";
import type { components } from "../../src/client/schema.js";
import { taskRequirements } from "../../src/db/schema/index.js";
import { factory, traceOf, type Made } from "../okrs/factory.js";

let t: TestContext;
let f: ReturnType<typeof factory>;
let mission: Made;
beforeAll(async () => {
  t = await createTestContext();
  f = factory(t);
  mission = await f.mission();
});
afterAll(async () => {
  await t.close();
});

const TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

async function allRequirements() {
  return (await t.json("GET", "/api/requirements", { query: { limit: "500" } })).body
    .data as components["schemas"]["Requirement"][];
}

describe("create", () => {
  test("the reference's wrapped body: 201, Location, full shape, trace entry", async () => {
    const r = await t.json("POST", "/api/requirements", {
      body: {
        requirement: { requirement_id: "AC-CORE-01", title: "Mission Coordination", priority: "p1", horizon: "h1" },
      },
    });
    expect(r.status).toBe(201);
    expect(r.headers.location).toBe("/api/requirements/AC-CORE-01");
    expect(r.body).toEqual({
      data: {
        id: expect.any(Number),
        requirement_id: "AC-CORE-01",
        title: "Mission Coordination",
        description: null,
        priority: "p1",
        horizon: "h1",
        status: "proposed",
        objective_id: null,
        kr_id: null,
        task_count: 0,
        completed_task_count: 0,
        completion: 0,
        inserted_at: expect.stringMatching(TS),
        updated_at: expect.stringMatching(TS),
      },
    });
    const entries = (await traceOf(t, "requirement.created")).filter((e) => e.data.requirement_id === "AC-CORE-01");
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ actor: "admin:test-admin" });
    expect(entries[0]!.data).toEqual({
      requirement_id: "AC-CORE-01",
      title: "Mission Coordination",
      description: null,
      priority: "p1",
      horizon: "h1",
      status: "proposed",
      objective_id: null,
      kr_id: null,
    });
  });

  test("serving an objective and one of its key results, named by id or key", async () => {
    const o = await f.objective();
    const kr = await f.keyResult(o.id);
    const byKey = await f.requirement({ objective_id: o.objective_id, kr_id: kr.kr_id, status: "accepted" });
    expect(byKey).toMatchObject({ objective_id: o.objective_id, kr_id: kr.kr_id, status: "accepted" });
    const byId = await f.requirement({ objective_id: o.id, kr_id: kr.id });
    expect(byId).toMatchObject({ objective_id: o.objective_id, kr_id: kr.kr_id });
    const entries = (await traceOf(t, "requirement.created")).filter(
      (e) => e.data.requirement_id === byId.requirement_id,
    );
    expect(entries[0]!.data).toMatchObject({ objective_id: o.objective_id, kr_id: kr.kr_id });
  });

  test("a key result alone brings its objective along; generated key", async () => {
    const o = await f.objective();
    const kr = await f.keyResult(o.id);
    const r = await f.requirement({ kr_id: kr.kr_id });
    expect(r).toMatchObject({ objective_id: o.objective_id, kr_id: kr.kr_id });
    expect(r.requirement_id).toMatch(/^req-[a-z2-7]{10}$/);
  });

  test("key result of another objective, or with the objective explicitly null → 422, nothing created", async () => {
    const o1 = await f.objective();
    const o2 = await f.objective();
    const kr2 = await f.keyResult(o2.id);
    const before = (await allRequirements()).length;
    for (const body of [
      { title: "t", objective_id: o1.id, kr_id: kr2.id },
      { title: "t", objective_id: null, kr_id: kr2.kr_id },
    ]) {
      const r = await t.json("POST", "/api/requirements", { body });
      expect(r.status).toBe(422);
      expect(r.body).toEqual({ errors: { kr_id: ["must be a key result of the requirement's objective"] } });
    }
    expect((await allRequirements()).length).toBe(before);
  });

  const bad: Array<[string, unknown, Record<string, string[]>]> = [
    ["missing title", {}, { title: ["is required"] }],
    ["empty title", { title: "" }, { title: ["must NOT have fewer than 1 characters"] }],
    ["priority p4", { title: "t", priority: "p4" }, { priority: ["must be one of: p0, p1, p2, p3, null"] }],
    ["priority as a number", { title: "t", priority: 1 }, { priority: ["must be string or null"] }],
    ["upper-case priority", { title: "t", priority: "P1" }, { priority: ["must be one of: p0, p1, p2, p3, null"] }],
    ["horizon h4", { title: "t", horizon: "h4" }, { horizon: ["must be one of: h1, h2, h3, null"] }],
    [
      "unknown status",
      { title: "t", status: "open" },
      { status: ["must be one of: proposed, accepted, in_progress, done, rejected"] },
    ],
    ["unknown field", { title: "t", task_ids: [] }, { task_ids: ["is not a known field"] }],
    [
      "objective_id of the wrong type",
      { title: "t", objective_id: true },
      { objective_id: ["has an invalid type or value"] },
    ],
    ["kr_id malformed", { title: "t", kr_id: "a b" }, { kr_id: ["has an invalid type or value"] }],
    ["unknown objective", { title: "t", objective_id: "no-such-objective" }, { objective_id: ["does not exist"] }],
    ["unknown objective id", { title: "t", objective_id: 999999 }, { objective_id: ["does not exist"] }],
    ["unknown key result", { title: "t", kr_id: "no-such-kr" }, { kr_id: ["does not exist"] }],
    ["all-digit key", { title: "t", requirement_id: "42" }, { requirement_id: ["has an invalid format"] }],
  ];
  test.each(bad)("%s → 422 and nothing created", async (_n, body, errors) => {
    const before = (await allRequirements()).length;
    const r = await t.json("POST", "/api/requirements", { body });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
    expect((await allRequirements()).length).toBe(before);
  });

  test("duplicate key → 422", async () => {
    await f.requirement({ requirement_id: "REQ-DUP" });
    const r = await t.json("POST", "/api/requirements", { body: { title: "t", requirement_id: "REQ-DUP" } });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors: { requirement_id: ["has already been taken"] } });
  });
});

describe("get", () => {
  test("by id and key, with the counts of the tasks serving it", async () => {
    const r = await f.requirement();
    await f.task({ mission, status: "completed", requirements: [r.id] });
    await f.task({ mission, status: "completed", requirements: [r.id] });
    await f.task({ mission, status: "blocked", requirements: [r.id] });
    const byId = await t.json("GET", `/api/requirements/${r.id}`);
    expect(byId.status).toBe(200);
    expect(byId.body.data).toMatchObject({ task_count: 3, completed_task_count: 2, completion: 66.7 });
    expect((await t.json("GET", `/api/requirements/${r.requirement_id}`)).body).toEqual(byId.body);
  });

  test("a done requirement is complete whatever its tasks", async () => {
    const r = await f.requirement({ status: "done" });
    await f.task({ mission, status: "pending", requirements: [r.id] });
    expect((await t.json("GET", `/api/requirements/${r.id}`)).body.data).toMatchObject({
      task_count: 1,
      completion: 100,
    });
  });

  test.each(["999999", "nope", "bad key!", "0"])("unknown %s → 404", async (id) => {
    const r = await t.json("GET", `/api/requirements/${encodeURIComponent(id)}`);
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ errors: { detail: "Not Found" } });
  });
});

describe("list", () => {
  let o: any;
  let kr: any;
  const made: Record<string, any> = {};
  beforeAll(async () => {
    o = await f.objective({ objective_id: "LIST-O" });
    kr = await f.keyResult(o.id, { kr_id: "LIST-KR" });
    made.a = await f.requirement({ title: "list-a", priority: "p0", horizon: "h1", objective_id: o.id, kr_id: kr.id });
    made.b = await f.requirement({
      title: "list-b",
      priority: "p0",
      horizon: "h2",
      status: "done",
      objective_id: o.id,
    });
    made.c = await f.requirement({ title: "list-c", priority: "p3", horizon: "h2" });
  });

  const keysOf = (rows: any[]) => rows.filter((r) => r.title.startsWith("list-")).map((r) => r.title);

  test.each([
    [{}, ["list-a", "list-b", "list-c"]],
    [{ priority: "p0" }, ["list-a", "list-b"]],
    [{ horizon: "h2" }, ["list-b", "list-c"]],
    [{ status: "done" }, ["list-b"]],
    [{ priority: "p0", horizon: "h2" }, ["list-b"]],
    [{ objective_id: "LIST-O" }, ["list-a", "list-b"]],
    [{ kr_id: "LIST-KR" }, ["list-a"]],
    [{ objective_id: "no-such-objective" }, []],
    [{ objective_id: "0" }, []],
  ])("filter %j", async (query, expected) => {
    const r = await t.json("GET", "/api/requirements", { query: { ...query, limit: "500" } });
    expect(r.status).toBe(200);
    expect(keysOf(r.body.data)).toEqual(expected);
  });

  test("filter by integer objective id", async () => {
    const r = await t.json("GET", "/api/requirements", { query: { objective_id: String(o.id) } });
    expect(r.body).toEqual({ data: [made.a, made.b], meta: { next_cursor: null } });
  });

  test.each([
    [{ priority: "p9" }, { priority: ["must be one of: p0, p1, p2, p3"] }],
    [{ horizon: "later" }, { horizon: ["must be one of: h1, h2, h3"] }],
    [{ status: "open" }, { status: ["must be one of: proposed, accepted, in_progress, done, rejected"] }],
    [{ objective_id: "bad key!" }, { objective_id: ["has an invalid format"] }],
    [{ limit: "x" }, { limit: ["must be integer"] }],
    [{ cursor: "zzz" }, { cursor: ["is not a valid cursor"] }],
  ])("bad query %j → 422", async (query, errors) => {
    const r = await t.json("GET", "/api/requirements", { query });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
  });

  test("pagination walks every requirement once, oldest first", async () => {
    const all = await allRequirements();
    const seen: any[] = [];
    let cursor: string | null = null;
    do {
      const query: Record<string, string> = { limit: "4" };
      if (cursor) query.cursor = cursor;
      const r = await t.json("GET", "/api/requirements", { query });
      seen.push(...r.body.data);
      cursor = r.body.meta.next_cursor;
    } while (cursor);
    expect(seen).toEqual(all);
    expect(seen.map((r) => r.id)).toEqual([...seen.map((r) => r.id)].sort((a, b) => a - b));
  });
});

describe("update", () => {
  test("changes only the named fields and traces them", async () => {
    const r = await f.requirement({ description: "keep", priority: "p2" });
    const u = await t.json("PATCH", `/api/requirements/${r.requirement_id}`, {
      body: { requirement: { title: "New", priority: "p0", horizon: "h3", status: "in_progress" } },
    });
    expect(u.status).toBe(200);
    expect(u.body.data).toMatchObject({
      title: "New",
      priority: "p0",
      horizon: "h3",
      status: "in_progress",
      description: "keep",
    });
    const entries = (await traceOf(t, "requirement.updated")).filter((e) => e.data.requirement_id === r.requirement_id);
    expect(entries.map((e) => e.data)).toEqual([
      {
        requirement_id: r.requirement_id,
        changes: { title: "New", priority: "p0", horizon: "h3", status: "in_progress" },
      },
    ]);
  });

  test("the same values change nothing and write no entry", async () => {
    const r = await f.requirement({ priority: "p1" });
    const u = await t.json("PATCH", `/api/requirements/${r.id}`, {
      body: { priority: "p1", requirement_id: r.requirement_id },
    });
    expect(u.status).toBe(200);
    expect(u.body.data).toEqual(r);
    expect((await traceOf(t, "requirement.updated")).filter((e) => e.data.requirement_id === r.requirement_id)).toEqual(
      [],
    );
  });

  test("linking: a key result brings its objective; moving objective needs a matching key result", async () => {
    const o1 = await f.objective();
    const o2 = await f.objective();
    const kr1 = await f.keyResult(o1.id);
    const kr2 = await f.keyResult(o2.id);
    const r = await f.requirement();

    const linked = await t.json("PATCH", `/api/requirements/${r.id}`, { body: { kr_id: kr1.kr_id } });
    expect(linked.body.data).toMatchObject({ objective_id: o1.objective_id, kr_id: kr1.kr_id });
    const entries = (await traceOf(t, "requirement.updated")).filter((e) => e.data.requirement_id === r.requirement_id);
    expect(entries.at(-1)!.data.changes).toEqual({ objective_id: o1.objective_id, kr_id: kr1.kr_id });

    // Moving to o2 while keeping kr1, or pointing at kr2 while keeping o1: both contradict.
    for (const body of [{ objective_id: o2.id }, { kr_id: kr2.id }, { objective_id: null }]) {
      const bad = await t.json("PATCH", `/api/requirements/${r.id}`, { body: { ...body, title: "not applied" } });
      expect(bad.status, JSON.stringify(body)).toBe(422);
      expect(bad.body).toEqual({ errors: { kr_id: ["must be a key result of the requirement's objective"] } });
    }
    expect((await t.json("GET", `/api/requirements/${r.id}`)).body.data).toMatchObject({
      title: r.title,
      objective_id: o1.objective_id,
      kr_id: kr1.kr_id,
    });

    const moved = await t.json("PATCH", `/api/requirements/${r.id}`, {
      body: { objective_id: o2.objective_id, kr_id: kr2.id },
    });
    expect(moved.body.data).toMatchObject({ objective_id: o2.objective_id, kr_id: kr2.kr_id });
    const detached = await t.json("PATCH", `/api/requirements/${r.id}`, { body: { objective_id: null, kr_id: null } });
    expect(detached.body.data).toMatchObject({ objective_id: null, kr_id: null });
    const krOnly = await t.json("PATCH", `/api/requirements/${r.id}`, { body: { objective_id: o1.id } });
    expect(krOnly.body.data).toMatchObject({ objective_id: o1.objective_id, kr_id: null });
    const dropKr = await t.json("PATCH", `/api/requirements/${r.id}`, { body: { kr_id: kr1.id } });
    expect(dropKr.body.data).toMatchObject({ objective_id: o1.objective_id, kr_id: kr1.kr_id });
    const kept = await t.json("PATCH", `/api/requirements/${r.id}`, { body: { kr_id: null } });
    expect(kept.body.data).toMatchObject({ objective_id: o1.objective_id, kr_id: null });
  });

  test.each([
    [{ requirement_id: "renamed" }, { requirement_id: ["cannot be changed"] }],
    [{ priority: "p5" }, { priority: ["must be one of: p0, p1, p2, p3, null"] }],
    [{ horizon: 2 }, { horizon: ["must be string or null"] }],
    [{ objective_id: "ghost" }, { objective_id: ["does not exist"] }],
    [{ kr_id: 999999 }, { kr_id: ["does not exist"] }],
    [{ task_count: 3 }, { task_count: ["is not a known field"] }],
  ])("%j → 422 and nothing changes", async (body, errors) => {
    const r = await f.requirement();
    const u = await t.json("PATCH", `/api/requirements/${r.id}`, { body: { ...body, title: "not applied" } });
    expect(u.status).toBe(422);
    expect(u.body).toEqual({ errors });
    expect((await t.json("GET", `/api/requirements/${r.id}`)).body.data).toEqual(r);
  });

  test("unknown requirement → 404", async () => {
    const r = await t.json("PATCH", "/api/requirements/nope", { body: { title: "x" } });
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ errors: { detail: "Not Found" } });
  });
});

describe("delete", () => {
  test("204, traced, gone", async () => {
    const r = await f.requirement();
    const d = await t.req("DELETE", `/api/requirements/${r.requirement_id}`);
    expect(d.statusCode).toBe(204);
    expect(d.body).toBe("");
    expect((await t.json("GET", `/api/requirements/${r.id}`)).status).toBe(404);
    const entries = (await traceOf(t, "requirement.deleted")).filter((e) => e.data.requirement_id === r.requirement_id);
    expect(entries.map((e) => e.data)).toEqual([{ requirement_id: r.requirement_id, title: r.title }]);
  });

  test("refused while tasks serve it; nothing changes", async () => {
    const r = await f.requirement();
    await f.task({ mission, key: "SERVES-1", requirements: [r.id] });
    await f.task({ mission, key: "SERVES-2", requirements: [r.id] });
    const d = await t.json("DELETE", `/api/requirements/${r.id}`);
    expect(d.status).toBe(422);
    expect(d.body).toEqual({ errors: { tasks: ["2 tasks still serve this requirement: SERVES-1, SERVES-2"] } });
    expect((await t.json("GET", `/api/requirements/${r.id}`)).body.data.task_count).toBe(2);
    expect((await traceOf(t, "requirement.deleted")).filter((e) => e.data.requirement_id === r.requirement_id)).toEqual(
      [],
    );
  });

  test("unknown requirement → 404", async () => {
    const d = await t.json("DELETE", "/api/requirements/nope");
    expect(d.status).toBe(404);
    expect(d.body).toEqual({ errors: { detail: "Not Found" } });
  });
});

describe("races", () => {
  test("deleting an objective while requirements are created for it: each pair ends consistent, never a 5xx", async () => {
    for (let i = 0; i < 10; i++) {
      const o = await f.objective();
      const kr = await f.keyResult(o.id);
      const [del, created] = await Promise.all([
        t.json("DELETE", `/api/objectives/${o.id}`),
        t.json("POST", "/api/requirements", { body: { title: "racer", kr_id: kr.id } }),
      ]);
      if (del.status === 204) {
        // The delete went first: the requirement found no key result to point at.
        expect(created.status).toBe(422);
        expect(created.body).toEqual({ errors: { kr_id: ["does not exist"] } });
      } else {
        expect(created.status).toBe(201);
        expect(del.status).toBe(422);
        expect(del.body.errors.requirements[0]).toMatch(/^1 requirement still serves this objective/);
        expect(created.body.data).toMatchObject({ objective_id: o.objective_id, kr_id: kr.kr_id });
      }
    }
  });

  test("deleting a key result while a requirement is created for it: never a 5xx", async () => {
    for (let i = 0; i < 10; i++) {
      const o = await f.objective();
      const kr = await f.keyResult(o.id);
      const [del, created] = await Promise.all([
        t.json("DELETE", `/api/key_results/${kr.id}`),
        t.json("POST", "/api/requirements", { body: { title: "racer", objective_id: o.id, kr_id: kr.kr_id } }),
      ]);
      expect([del.status, created.status]).toEqual(del.status === 204 ? [204, 422] : [422, 201]);
    }
  });

  test("deleting a requirement while a task is linked to it: refused, or the link fails; never a dangling link", async () => {
    for (let i = 0; i < 6; i++) {
      const r = await f.requirement();
      const task = await f.task({ mission });
      const [del, link] = await Promise.allSettled([
        t.json("DELETE", `/api/requirements/${r.id}`),
        t.database.db.insert(taskRequirements).values({ taskId: task.id, requirementId: r.id }),
      ]);
      const deleted = del.status === "fulfilled" ? del.value : null;
      expect(deleted).not.toBeNull();
      if (deleted!.status === 204) {
        expect(link.status).toBe("rejected");
      } else {
        expect(link.status).toBe("fulfilled");
        expect(deleted!.status).toBe(422);
        expect(deleted!.body).toEqual({ errors: { tasks: [`1 task still serves this requirement: ${task.key}`] } });
      }
    }
  });
});

describe("auth", () => {
  const routes: Array<[string, string, unknown?]> = [
    ["GET", "/api/requirements"],
    ["POST", "/api/requirements", { title: "t" }],
    ["GET", "/api/requirements/1"],
    ["PATCH", "/api/requirements/1", { title: "t" }],
    ["DELETE", "/api/requirements/1"],
  ];

  test.each(routes)("%s %s without a token → 401", async (method, url, body) => {
    const r = await t.json(method, url, { token: null, body });
    expect(r.status).toBe(401);
    expect(r.headers["www-authenticate"]).toBe("Bearer");
    expect(r.body).toEqual({ errors: { detail: "Unauthorized" } });
  });

  test("agent tokens have no rights here (403) and change nothing", async () => {
    const r = await f.requirement();
    const agent = await t.agentToken("req-agent");
    const before = (await allRequirements()).length;
    for (const [method, url, body] of routes) {
      const res = await t.json(method, url.replace("/requirements/1", `/requirements/${r.id}`), { token: agent, body });
      expect(res.status, `${method} ${url}`).toBe(403);
      expect(res.body).toEqual({ errors: { detail: "Forbidden" } });
    }
    expect((await allRequirements()).length).toBe(before);
    expect((await t.json("GET", `/api/requirements/${r.id}`)).body.data).toEqual(r);
  });

  test("members have every right here", async () => {
    const c = await t.json("POST", "/api/requirements", { token: t.member, body: { title: "m" } });
    expect(c.status).toBe(201);
    expect((await t.json("GET", "/api/requirements", { token: t.member })).status).toBe(200);
    expect(
      (await t.json("PATCH", `/api/requirements/${c.body.data.id}`, { token: t.member, body: { horizon: "h2" } }))
        .status,
    ).toBe(200);
    expect((await t.req("DELETE", `/api/requirements/${c.body.data.id}`, { token: t.member })).statusCode).toBe(204);
  });
});
