// The matrix on hand-built fixtures whose every figure is worked out below by hand.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, type TestContext } from "../harness.js";
import { factory, type Made } from "../okrs/factory.js";
import type { TaskStatus } from "../../src/tasks/tasks.state.js";

const ZERO = {
  total_requirements: 0,
  linked_requirements: 0,
  requirement_coverage_pct: 0,
  delivered_requirements: 0,
  delivery_pct: 0,
  total_tasks: 0,
  completed_tasks: 0,
};
/** Per-priority figures, in the order the stats list them. */
const fig = (
  total_requirements: number,
  linked_requirements: number,
  requirement_coverage_pct: number,
  delivered_requirements: number,
  delivery_pct: number,
  total_tasks: number,
  completed_tasks: number,
) => ({
  total_requirements,
  linked_requirements,
  requirement_coverage_pct,
  delivered_requirements,
  delivery_pct,
  total_tasks,
  completed_tasks,
});

describe("empty database", () => {
  let t: TestContext;
  beforeAll(async () => {
    t = await createTestContext();
  });
  afterAll(async () => {
    await t.close();
  });

  test("an empty matrix with every figure 0", async () => {
    const r = await t.json("GET", "/api/traceability");
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      data: {
        objectives: [],
        unlinked_requirements: [],
        unlinked_tasks: [],
        stats: {
          total_objectives: 0,
          total_tasks: 0,
          linked_tasks: 0,
          unlinked_tasks: 0,
          task_coverage_pct: 0,
          completed_tasks: 0,
          total_requirements: 0,
          linked_requirements: 0,
          requirement_coverage_pct: 0,
          delivered_requirements: 0,
          delivery_pct: 0,
          by_priority: { p0: ZERO, p1: ZERO, p2: ZERO, p3: ZERO, none: ZERO },
        },
      },
    });
  });

  test("an empty CSV is its header", async () => {
    const r = await t.req("GET", "/api/traceability", { query: { format: "csv" } });
    expect(r.statusCode).toBe(200);
    expect(r.body).toBe(
      "objective_id,objective_title,objective_progress,objective_health,requirement_id,requirement_title," +
        "requirement_priority,requirement_horizon,requirement_status,kr_id,task_id,task_objective,task_status," +
        "mission_id,sprint_id,agent_id\r\n",
    );
  });
});

describe("hand-built fixture", () => {
  let t: TestContext;
  let ids: Record<string, number>;
  let m1: Made;

  // Objectives: O1 (key results K1 = 5/10 → 50, K2 = 30 set directly → progress 40, health set by hand),
  // O2 (no key results: requirements R3 = 100 and R4 = 0 → 50; its dates are long past → off_track),
  // O3 (nothing below it). Requirements: R1 (O1/K1, p0) ← T1 ✓, T2; R2 (O1, p1) ← T2, T3 ✓;
  // R3 (O2, p1) ← T4 ✓; R4 (O2, p2) no tasks; R5 (no objective, p0) ← T5; R6 (no objective, no priority).
  // Tasks T6 ✓ and T7 serve nothing. ✓ = completed. Missions: M1 = T1 T2 T3 T6, M2 = T4 T5 T7. Sprint S1 = T1 T4.
  beforeAll(async () => {
    t = await createTestContext({}, { listen: true });
    const f = factory(t);
    const o1 = await f.objective({ objective_id: "O1", title: "Revenue", health: "at_risk" });
    await f.keyResult(o1.id, { kr_id: "K1", target: 10, current: 5 });
    await f.keyResult(o1.id, { kr_id: "K2", progress: 30 });
    await f.objective({ objective_id: "O2", title: "Quality", start_date: "2020-01-01", end_date: "2020-12-31" });
    await f.objective({ objective_id: "O3", title: "Orphan objective" });
    const r1 = await f.requirement({
      requirement_id: "R1",
      title: "Login",
      objective_id: "O1",
      kr_id: "K1",
      priority: "p0",
      horizon: "h1",
    });
    const r2 = await f.requirement({
      requirement_id: "R2",
      title: "Billing",
      objective_id: "O1",
      priority: "p1",
      horizon: "h2",
    });
    const r3 = await f.requirement({
      requirement_id: "R3",
      title: "Tests",
      objective_id: "O2",
      priority: "p1",
      status: "accepted",
    });
    await f.requirement({ requirement_id: "R4", title: 'Export, "quoted"', objective_id: "O2", priority: "p2" });
    const r5 = await f.requirement({ requirement_id: "R5", title: "Loose", priority: "p0" });
    await f.requirement({ requirement_id: "R6", title: "=SUM(A1)" });
    m1 = await f.mission({ mission_id: "M1" });
    const m2 = await f.mission({ mission_id: "M2" });
    const s1 = await f.sprint("S1");
    const a1 = await f.agent("A1");
    const task = (
      key: string,
      mission: Made,
      status: TaskStatus,
      requirements: number[],
      extra: { sprint?: Made; agent?: Made; objective?: string } = {},
    ) => f.task({ key, mission, status, requirements, ...extra });
    const t1 = await task("T1", m1, "completed", [r1.id], { sprint: s1, agent: a1 });
    await task("T2", m1, "in_progress", [r1.id, r2.id]);
    await task("T3", m1, "completed", [r2.id], { objective: "do T3\nsecond line" });
    await task("T4", m2, "completed", [r3.id], { sprint: s1 });
    await task("T5", m2, "pending", [r5.id]);
    await task("T6", m1, "completed", []);
    await task("T7", m2, "pending", []);
    ids = { O1: o1.id, R1: r1.id, T1: t1.id, M1: m1.id, S1: s1.id };
  });
  afterAll(async () => {
    await t.close();
  });

  async function matrix(query: Record<string, string> = {}) {
    const r = await t.json("GET", "/api/traceability", { query });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body.data;
  }

  /** The tree, reduced to keys and the figures worked out above. */
  function shape(m: any) {
    return {
      objectives: m.objectives.map((o: any) => [
        o.objective_id,
        o.progress,
        o.health,
        o.key_results.map((k: any) => `${k.kr_id}=${k.progress}`),
        o.requirements.map((r: any) => [r.requirement_id, r.completion, r.tasks.map((x: any) => x.task_id)]),
      ]),
      unlinked_requirements: m.unlinked_requirements.map((r: any) => [
        r.requirement_id,
        r.tasks.map((x: any) => x.task_id),
      ]),
      unlinked_tasks: m.unlinked_tasks.map((x: any) => x.task_id),
    };
  }

  test("the whole tree: objectives, key results, requirements, tasks (several requirements per task), orphans", async () => {
    const m = await matrix();
    expect(shape(m)).toEqual({
      objectives: [
        [
          "O1",
          40,
          "at_risk",
          ["K1=50", "K2=30"],
          [
            ["R1", 50, ["T1", "T2"]],
            ["R2", 50, ["T2", "T3"]],
          ],
        ],
        [
          "O2",
          50,
          "off_track",
          [],
          [
            ["R3", 100, ["T4"]],
            ["R4", 0, []],
          ],
        ],
        ["O3", 0, null, [], []],
      ],
      unlinked_requirements: [
        ["R5", ["T5"]],
        ["R6", []],
      ],
      unlinked_tasks: ["T6", "T7"],
    });
  });

  test("records carry the same fields as their own routes, and tasks name their mission, sprint and agent by key", async () => {
    const m = await matrix();
    const o1 = m.objectives[0];
    const own = (await t.json("GET", "/api/objectives/O1")).body.data;
    const { requirements, ...rest } = o1;
    expect(rest).toEqual(own);
    const { tasks, ...r1 } = requirements[0];
    expect(r1).toEqual((await t.json("GET", "/api/requirements/R1")).body.data);
    expect(tasks[0]).toEqual({
      id: ids.T1,
      task_id: "T1",
      objective: "do T1",
      status: "completed",
      mission_id: "M1",
      sprint_id: "S1",
      agent_id: "A1",
    });
    expect(tasks[1]).toMatchObject({ task_id: "T2", status: "in_progress", sprint_id: null, agent_id: null });
  });

  test("stats: coverage, delivery, per priority; rounded to one decimal", async () => {
    const { stats } = await matrix();
    expect(stats).toEqual({
      total_objectives: 3,
      total_tasks: 7,
      linked_tasks: 5,
      unlinked_tasks: 2,
      task_coverage_pct: 71.4, // 5/7 = 71.43
      completed_tasks: 4,
      total_requirements: 6,
      linked_requirements: 4,
      requirement_coverage_pct: 66.7, // 4/6 = 66.67
      delivered_requirements: 1, // R3 only: R1 and R2 wait on T2, R5 on T5
      delivery_pct: 25,
      by_priority: {
        p0: fig(2, 2, 100, 0, 0, 3, 1), // R1, R5; tasks T1 T2 T5
        p1: fig(2, 2, 100, 1, 50, 3, 2), // R2, R3; tasks T2 T3 T4
        p2: fig(1, 0, 0, 0, 0, 0, 0), // R4
        p3: ZERO,
        none: fig(1, 0, 0, 0, 0, 0, 0), // R6
      },
    });
  });

  test("mission filter narrows tasks only; by key or integer id alike", async () => {
    const m = await matrix({ mission_id: "M1" });
    expect(shape(m)).toEqual({
      objectives: [
        [
          "O1",
          40,
          "at_risk",
          ["K1=50", "K2=30"],
          [
            ["R1", 50, ["T1", "T2"]],
            ["R2", 50, ["T2", "T3"]],
          ],
        ],
        // R3's completion still counts T4, which is on another mission.
        [
          "O2",
          50,
          "off_track",
          [],
          [
            ["R3", 100, []],
            ["R4", 0, []],
          ],
        ],
        ["O3", 0, null, [], []],
      ],
      unlinked_requirements: [
        ["R5", []],
        ["R6", []],
      ],
      unlinked_tasks: ["T6"],
    });
    expect(m.stats).toEqual({
      total_objectives: 3,
      total_tasks: 4,
      linked_tasks: 3,
      unlinked_tasks: 1,
      task_coverage_pct: 75,
      completed_tasks: 3,
      total_requirements: 6,
      linked_requirements: 2,
      requirement_coverage_pct: 33.3,
      delivered_requirements: 0,
      delivery_pct: 0,
      by_priority: {
        p0: fig(2, 1, 50, 0, 0, 2, 1),
        p1: fig(2, 1, 50, 0, 0, 2, 1),
        p2: fig(1, 0, 0, 0, 0, 0, 0),
        p3: ZERO,
        none: fig(1, 0, 0, 0, 0, 0, 0),
      },
    });
    expect(await matrix({ mission_id: String(ids.M1) })).toEqual(m);
  });

  test("sprint filter: a requirement is delivered when its tasks in scope are all completed", async () => {
    const m = await matrix({ sprint_id: "S1" });
    expect(shape(m).unlinked_tasks).toEqual([]);
    expect(m.objectives[0].requirements.map((r: any) => r.tasks.map((x: any) => x.task_id))).toEqual([["T1"], []]);
    expect(m.stats).toMatchObject({
      total_tasks: 2,
      linked_tasks: 2,
      task_coverage_pct: 100,
      completed_tasks: 2,
      linked_requirements: 2,
      requirement_coverage_pct: 33.3,
      delivered_requirements: 2,
      delivery_pct: 100,
      by_priority: { p0: fig(2, 1, 50, 1, 100, 1, 1), p1: fig(2, 1, 50, 1, 100, 1, 1) },
    });
    expect(await matrix({ sprint_id: String(ids.S1) })).toEqual(m);
  });

  test("objective filter narrows objectives, requirements and tasks to that objective's", async () => {
    const m = await matrix({ objective_id: "O1" });
    expect(shape(m)).toEqual({
      objectives: [
        [
          "O1",
          40,
          "at_risk",
          ["K1=50", "K2=30"],
          [
            ["R1", 50, ["T1", "T2"]],
            ["R2", 50, ["T2", "T3"]],
          ],
        ],
      ],
      unlinked_requirements: [],
      unlinked_tasks: [],
    });
    expect(m.stats).toEqual({
      total_objectives: 1,
      total_tasks: 3,
      linked_tasks: 3,
      unlinked_tasks: 0,
      task_coverage_pct: 100,
      completed_tasks: 2,
      total_requirements: 2,
      linked_requirements: 2,
      requirement_coverage_pct: 100,
      delivered_requirements: 0,
      delivery_pct: 0,
      by_priority: { p0: fig(1, 1, 100, 0, 0, 2, 1), p1: fig(1, 1, 100, 0, 0, 2, 1), p2: ZERO, p3: ZERO, none: ZERO },
    });
    expect(await matrix({ objective_id: String(ids.O1) })).toEqual(m);
  });

  test("filters combine", async () => {
    const m = await matrix({ objective_id: "O1", mission_id: "M2" });
    expect(shape(m).objectives).toEqual([
      [
        "O1",
        40,
        "at_risk",
        ["K1=50", "K2=30"],
        [
          ["R1", 50, []],
          ["R2", 50, []],
        ],
      ],
    ]);
    expect(m.stats).toMatchObject({
      total_objectives: 1,
      total_tasks: 0,
      task_coverage_pct: 0,
      total_requirements: 2,
      linked_requirements: 0,
    });
    const both = await matrix({ mission_id: "M1", sprint_id: "S1" });
    expect(both.stats).toMatchObject({ total_tasks: 1, linked_tasks: 1 });
  });

  test.each([
    [{ objective_id: "ghost" }, 0, 0, 0],
    [{ objective_id: "0" }, 0, 0, 0],
    [{ mission_id: "ghost" }, 3, 6, 0],
    [{ sprint_id: "99999" }, 3, 6, 0],
  ])("a filter naming nothing matches nothing: %j", async (query, objectives, requirements, tasks) => {
    const { stats } = await matrix(query);
    expect([stats.total_objectives, stats.total_requirements, stats.total_tasks]).toEqual([
      objectives,
      requirements,
      tasks,
    ]);
  });

  test.each([
    [{ objective_id: "bad key!" }, { objective_id: ["has an invalid format"] }],
    [{ mission_id: "" }, { mission_id: ["has an invalid format"] }],
    [{ sprint_id: "x".repeat(129) }, { sprint_id: ["has an invalid format"] }],
    [{ format: "xml" }, { format: ["must be one of: json, csv"] }],
  ])("bad query %j → 422", async (query, errors) => {
    const r = await t.json("GET", "/api/traceability", { query });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
  });

  test("CSV: one row per path, orphans on every level, quoting and formula-safe text", async () => {
    const r = await t.req("GET", "/api/traceability", { query: { format: "csv" } });
    expect(r.statusCode).toBe(200);
    expect(r.headers["content-type"]).toBe("text/csv; charset=utf-8");
    expect(r.headers["content-disposition"]).toBe('attachment; filename="traceability.csv"');
    expect(r.body.endsWith("\r\n")).toBe(true);
    const lines = r.body.slice(0, -2).split("\r\n");
    expect(lines).toEqual([
      "objective_id,objective_title,objective_progress,objective_health,requirement_id,requirement_title," +
        "requirement_priority,requirement_horizon,requirement_status,kr_id,task_id,task_objective,task_status," +
        "mission_id,sprint_id,agent_id",
      "O1,Revenue,40,at_risk,R1,Login,p0,h1,proposed,K1,T1,do T1,completed,M1,S1,A1",
      "O1,Revenue,40,at_risk,R1,Login,p0,h1,proposed,K1,T2,do T2,in_progress,M1,,",
      "O1,Revenue,40,at_risk,R2,Billing,p1,h2,proposed,,T2,do T2,in_progress,M1,,",
      'O1,Revenue,40,at_risk,R2,Billing,p1,h2,proposed,,T3,"do T3\nsecond line",completed,M1,,',
      "O2,Quality,50,off_track,R3,Tests,p1,,accepted,,T4,do T4,completed,M2,S1,",
      'O2,Quality,50,off_track,R4,"Export, ""quoted""",p2,,proposed,,,,,,,',
      "O3,Orphan objective,0,,,,,,,,,,,,,",
      ",,,,R5,Loose,p0,,proposed,,T5,do T5,pending,M2,,",
      ",,,,R6,'=SUM(A1),,,proposed,,,,,,,",
      ",,,,,,,,,,T6,do T6,completed,M1,,",
      ",,,,,,,,,,T7,do T7,pending,M2,,",
    ]);
    const filtered = await t.req("GET", "/api/traceability", { query: { format: "csv", objective_id: "O3" } });
    expect(filtered.body.split("\r\n")[1]).toBe("O3,Orphan objective,0,,,,,,,,,,,,,");
  });

  test("over real HTTP the answer is sent while it is written: chunked, JSON, the same matrix", async () => {
    const r = await fetch(`${t.url}/api/traceability?mission_id=M1`, {
      headers: { authorization: `Bearer ${t.member}` },
    });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(r.headers.get("transfer-encoding")).toBe("chunked");
    expect(r.headers.get("content-length")).toBeNull();
    expect(r.headers.get("x-request-id")).toBeTruthy();
    const text = await r.text();
    // Written as JSON.stringify writes it: no whitespace, and every piece joined where it belongs.
    expect(text).toBe(JSON.stringify(JSON.parse(text)));
    expect(JSON.parse(text)).toEqual({ data: await matrix({ mission_id: "M1" }) });
  });

  test("reading the matrix changes nothing and writes no trace entry", async () => {
    const before = (await t.json("GET", "/api/trace", { query: { limit: "500" } })).body.data.length;
    await matrix();
    await t.req("GET", "/api/traceability", { query: { format: "csv" } });
    expect((await t.json("GET", "/api/trace", { query: { limit: "500" } })).body.data.length).toBe(before);
  });

  test("auth: no token → 401, agent → 403 (in either format), member → 200", async () => {
    const none = await t.json("GET", "/api/traceability", { token: null });
    expect(none.status).toBe(401);
    expect(none.headers["www-authenticate"]).toBe("Bearer");
    expect(none.body).toEqual({ errors: { detail: "Unauthorized" } });
    const agent = await t.agentToken("matrix-agent");
    for (const query of [{}, { format: "csv" }] as Array<Record<string, string>>) {
      const r = await t.json("GET", "/api/traceability", { token: agent, query });
      expect(r.status).toBe(403);
      expect(r.body).toEqual({ errors: { detail: "Forbidden" } });
    }
    const member = await t.json("GET", "/api/traceability", { token: t.member });
    expect(member.status).toBe(200);
    expect(member.body.data.stats.total_tasks).toBe(7);
  });

  test("documented in the OpenAPI description, both formats", async () => {
    const doc = await t.json("GET", "/openapi.json", { token: null });
    const op = doc.body.paths["/api/traceability"].get;
    expect(op.summary).toBe("Get traceability matrix");
    expect(Object.keys(op.responses["200"].content).sort()).toEqual(["application/json", "text/csv"]);
    expect(op.parameters.map((p: any) => p.name).sort()).toEqual(["format", "mission_id", "objective_id", "sprint_id"]);
  });
});
