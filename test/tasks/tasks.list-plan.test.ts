// A mission's page of tasks reads about a page, whatever plan the database caches for the statement: with the
// plan made without knowing the mission (a generic plan, what a prepared statement runs on after a few
// executions), a page must not walk the tasks of other missions. Both backends.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, type TestContext } from "../harness.js";
import { missionPageStatements } from "../../src/tasks/tasks.repo.js";
import { createMission, uniq } from "./helpers.js";
import { inOneSession, planNodes, rowsTouched, type PlanNode } from "../fixtures/query-plans.js";

let t: TestContext;
let small: { id: number; mission_id: string };
let lastIds: number[];
beforeAll(async () => {
  t = await createTestContext();
  small = await createMission(t, uniq("small"));
  const big = await createMission(t, uniq("big"));
  const insert = (mission: number, n: number, prefix: string) =>
    t.database.query(
      `INSERT INTO tasks (task_id, mission_id, objective, status)
       SELECT $1 || g, $2::int, 'o', 'pending' FROM generate_series(1, $3::int) g`,
      [prefix, mission, n],
    );
  await insert(small.id, 120, uniq("s-"));
  await insert(big.id, 20_000, uniq("b-"));
  await t.database.query("ANALYZE tasks");
  const ids = await t.database.query<{ id: number }>("SELECT id FROM tasks WHERE mission_id = $1 ORDER BY id", [
    small.id,
  ]);
  lastIds = ids.map((r) => Number(r.id));
}, 120_000);
afterAll(async () => {
  await t?.close();
});

let plans = 0;

/** The plan of the statement run with these literal values, under the plan a prepared statement settles on. */
async function genericPlan(text: string, literals: string[]): Promise<PlanNode[]> {
  return inOneSession(t.database, async ({ q }) => {
    // Its own name: on PGlite the session is the server's one connection, with the server's statements in it.
    const name = `page_plan_${++plans}`;
    await q("SET plan_cache_mode = force_generic_plan");
    await q(`PREPARE ${name} AS ${text}`);
    const [row] = await q(`EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE ${name}(${literals.join(", ")})`);
    const plan = (row!["QUERY PLAN"] as Array<{ Plan: PlanNode }>)[0]!.Plan;
    await q(`DEALLOCATE ${name}`);
    await q("RESET plan_cache_mode");
    return planNodes(plan);
  });
}

const literalsOf = (params: unknown[]) =>
  params.map((p) => (typeof p === "string" ? `'${p.replace(/'/g, "''")}'` : String(p)));

describe("a mission's page, with 20,000 tasks of another mission after its own", () => {
  test.each([
    ["the first page, by key", "key", 0],
    ["the last page, by key", "key", 100],
    ["the last page, by id", "id", 100],
  ] as const)("%s reads about a page", async (_name, by, at) => {
    const after = at === 0 ? 0 : lastIds[at - 1]!;
    const values = { mission: by === "key" ? small.mission_id : small.id, after };
    const { text, params } = missionPageStatements[by].get(51)!.bound(values);
    expect(rowsTouched(await genericPlan(text, literalsOf(params)))).toBeLessThan(500);
    // And the statement answers the page.
    const page = await missionPageStatements[by].get(51)!(t.database, values);
    expect(page[0]!.rows.map((r) => r.id)).toEqual(lastIds.slice(at, at + 51));
  });
});

// With their statistics, the empty or tiny tables a page names (agents, sprints, requirements and their links)
// get plans in which a sequential scan looks free; joined to each row, or read by a subquery per row, every row
// of the page started scans of them (51 each): twice PostgreSQL's work for a page, and a file-system call per
// scan start on PGlite. A page starts each scan of a table once.
describe("a page, with every table analyzed and the small ones empty", () => {
  test.each(["key", "id"] as const)("by %s, scans each table at most once", async (by) => {
    await t.database.query("ANALYZE");
    const values = { mission: by === "key" ? small.mission_id : small.id, after: lastIds[10]! };
    const { text, params } = missionPageStatements[by].get(51)!.bound(values);
    const scans = (await genericPlan(text, literalsOf(params))).filter((n) => n["Relation Name"] !== undefined);
    expect(scans.map((n) => n["Relation Name"])).toContain("tasks");
    expect(
      scans
        .filter((n) => n["Actual Loops"] > 1)
        .map((n) => `${n["Node Type"]} on ${n["Relation Name"]} × ${n["Actual Loops"]}`),
    ).toEqual([]);
  });
});

// A statement PostgreSQL cannot plan once for every execution (a LIMIT that is a parameter: it must assume a
// tenth of the rows) is planned anew on every execution, which cost as much as running the page. Each page
// statement, of every size, settles on the generic plan after the five first executions.
describe("a page's statement is planned once, not on every execution", () => {
  test.each(["key", "id"] as const)("by %s, every page size", async (by) => {
    await t.database.query("ANALYZE");
    const values = { mission: by === "key" ? small.mission_id : small.id, after: lastIds[3]! };
    const counts = await inOneSession(t.database, async ({ run, q }) => {
      const out: Array<[number, number]> = [];
      for (const [rows, statement] of missionPageStatements[by]) {
        const { text, params } = statement.bound(values);
        const name = `page_generic_${by}_${rows}_${++plans}`;
        for (let i = 0; i < 12; i++) {
          const [page] = (await run(name, text, params)) as Array<{ rows: unknown[] }>;
          expect(page!.rows.length).toBe(Math.min(rows, 116));
        }
        const [row] = await q(
          `SELECT generic_plans FROM pg_prepared_statements WHERE statement = $1
           ORDER BY generic_plans DESC LIMIT 1`,
          [text],
        );
        out.push([rows, Number(row!.generic_plans)]);
      }
      return out;
    });
    // After the five first executions PostgreSQL compares a generic plan with the custom ones and keeps it
    // when it costs no more; with a LIMIT parameter the generic plan never wins (it assumes a tenth of the
    // rows) and every execution is planned. A plan may still be made again now and then (new statistics
    // invalidate it), so the test asks for the generic plan to have been used, not for a count of plans. (The
    // statement the server prepared for itself, run fewer times by the tests above, has the same text.)
    expect(counts.map(([rows, generic]) => [rows, generic > 0])).toEqual(counts.map(([rows]) => [rows, true]));
  });
});
