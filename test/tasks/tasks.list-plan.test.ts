// A mission's page of tasks reads about a page, whatever plan the database caches for the statement: with the
// plan made without knowing the mission (a generic plan, what a prepared statement runs on after a few
// executions), a page must not walk the tasks of other missions. Both backends.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, type TestContext } from "../harness.js";
import { missionPageById, missionPageByKey } from "../../src/tasks/tasks.repo.js";
import { createMission, uniq } from "./helpers.js";

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

interface PlanNode {
  "Node Type": string;
  "Actual Rows": number;
  "Actual Loops": number;
  "Rows Removed by Filter"?: number;
  Plans?: PlanNode[];
}
const nodes = (p: PlanNode): PlanNode[] => [p, ...(p.Plans ?? []).flatMap(nodes)];

/** Runs the statements in one session (PREPARE and EXECUTE must share it). */
async function inOneSession<T>(fn: (q: (text: string) => Promise<Array<Record<string, unknown>>>) => Promise<T>) {
  const pool = t.database.pool;
  if (!pool) return fn((text) => t.database.query(text));
  const c = await pool.connect();
  try {
    return await fn(async (text) => (await c.query(text)).rows);
  } finally {
    c.release();
  }
}

let plans = 0;

/** The rows the plan's scans touched (returned or filtered out) for the statement with these literal values. */
async function rowsTouched(text: string, literals: string[]) {
  return inOneSession(async (q) => {
    // Its own name: on PGlite the session is the server's one connection, with the server's statements in it.
    const name = `page_plan_${++plans}`;
    await q("SET plan_cache_mode = force_generic_plan");
    await q(`PREPARE ${name} AS ${text}`);
    const [row] = await q(`EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE ${name}(${literals.join(", ")})`);
    const plan = (row!["QUERY PLAN"] as Array<{ Plan: PlanNode }>)[0]!.Plan;
    await q(`DEALLOCATE ${name}`);
    await q("RESET plan_cache_mode");
    return nodes(plan)
      .filter((n) => n["Node Type"].includes("Scan"))
      .reduce((sum, n) => sum + (n["Actual Rows"] + (n["Rows Removed by Filter"] ?? 0)) * n["Actual Loops"], 0);
  });
}

describe("a mission's page, with 20,000 tasks of another mission after its own", () => {
  test.each([
    ["the first page, by key", "key", 0],
    ["the last page, by key", "key", 100],
    ["the last page, by id", "id", 100],
  ] as const)("%s reads about a page", async (_name, by, at) => {
    const after = at === 0 ? 0 : lastIds[at - 1]!;
    const values = { mission: by === "key" ? small.mission_id : small.id, after, limit: 51 };
    const { text, params } = (by === "key" ? missionPageByKey : missionPageById).bound(values);
    const literals = params.map((p) => (typeof p === "string" ? `'${p.replace(/'/g, "''")}'` : String(p)));
    expect(await rowsTouched(text, literals)).toBeLessThan(500);
    // And the statement answers the page.
    const page = await (by === "key" ? missionPageByKey : missionPageById)(t.database, values);
    expect(page.map((r) => r.id)).toEqual(lastIds.slice(at, at + 51));
  });
});
