import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { analyzeStaleTables, statisticsLoop } from "../../src/db/analyze.js";
import { createTestContext, waitFor, type TestContext } from "../harness.js";

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t.close();
});

const lastAnalyzed = async (table: string) =>
  (
    await t.database.query<{ at: string | null }>(
      "SELECT COALESCE(last_analyze, last_autoanalyze)::text AS at FROM pg_stat_user_tables WHERE relname = $1",
      [table],
    )
  )[0]?.at ?? null;

/** Passes until `table` is analyzed: PostgreSQL publishes a session's row counts up to a second late. */
async function passesUntil(table: string): Promise<string[]> {
  const seen: string[] = [];
  await waitFor(
    async () => {
      seen.push(...(await analyzeStaleTables(t.database)));
      return seen.includes(table);
    },
    15_000,
    `${table} analyzed`,
  );
  return seen;
}

describe("planner statistics", () => {
  test("tables that gained rows are analyzed; a pass with nothing changed analyzes nothing", async () => {
    expect(
      (await t.json("POST", "/api/missions", { body: { mission_id: "stats-m", goal: "statistics" } })).status,
    ).toBe(201);
    for (let i = 0; i < 60; i++) {
      const r = await t.json("POST", "/api/missions/stats-m/tasks", { body: { objective: `task ${i}` } });
      expect(r.status).toBe(201);
    }
    const analyzed = await passesUntil("public.tasks");
    expect(await lastAnalyzed("tasks")).not.toBeNull();
    // Statistics now exist: the planner knows the table's columns.
    const [stats] = await t.database.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stats WHERE schemaname = 'public' AND tablename = 'tasks'",
    );
    expect(stats!.n).toBeGreaterThan(0);
    expect(analyzed.filter((n) => n === "public.tasks")).toHaveLength(1);
    expect(await analyzeStaleTables(t.database)).not.toContain("public.tasks");
  });

  test("a table changed past the threshold is analyzed again", async () => {
    // 60 tasks: the threshold is 50 + 10 % = 56 changes; 100 creates are past it.
    for (let i = 0; i < 100; i++)
      await t.json("POST", "/api/missions/stats-m/tasks", { body: { objective: `b ${i}` } });
    await passesUntil("public.tasks");
  });

  test("the server's loop analyzes at start and then on its period; stop waits for the pass", async () => {
    const before = await lastAnalyzed("tasks");
    for (let i = 0; i < 100; i++)
      await t.json("POST", "/api/missions/stats-m/tasks", { body: { objective: `c ${i}` } });
    const warnings: unknown[] = [];
    const loop = statisticsLoop(t.database, { warn: (obj) => warnings.push(obj) }, 50);
    await loop.start();
    await waitFor(async () => (await lastAnalyzed("tasks")) !== before, 15_000, "tasks analyzed by the loop");
    await loop.stop();
    expect(warnings).toEqual([]);
  });
});
