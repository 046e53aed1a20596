// The matrix is read in a fixed number of set-based queries: the count is the same for a handful of rows
// and for many times more, with or without filters. Queries are counted with a Drizzle logger on a second
// Drizzle instance over the same connection, handed to the service through its ordinary deps.
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { Database, Db } from "../../src/db/client.js";
import * as schema from "../../src/db/schema/index.js";
import { keyResults, objectives, requirements, taskRequirements, tasks } from "../../src/db/schema/index.js";
import { createTraceabilityService } from "../../src/traceability/traceability.service.js";
import { createTestContext, type TestContext } from "../harness.js";
import { factory, type Made } from "../okrs/factory.js";

let t: TestContext;
const logged: string[] = [];

function counting(database: Database): Database {
  const logger = { logQuery: (query: string) => void logged.push(query) };
  const db =
    database.kind === "pglite"
      ? drizzlePglite(database.client!, { schema, logger })
      : drizzlePg(database.pool!, { schema, logger });
  return { ...database, db: db as unknown as Db };
}

beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t.close();
});

/** Adds `n` objectives, each with 2 key results and 3 requirements, and 4 tasks per requirement (some shared). */
async function grow(n: number, mission: Made, sprint: Made, tag: string) {
  const db = t.database.db;
  const objs = await db
    .insert(objectives)
    .values(Array.from({ length: n }, (_, i) => ({ objectiveId: `${tag}-o${i}`, title: `o${i}` })))
    .returning({ id: objectives.id });
  const krs = await db
    .insert(keyResults)
    .values(
      objs.flatMap((o, i) =>
        [0, 1].map((k) => ({ krId: `${tag}-kr${i}.${k}`, objectiveId: o.id, title: "kr", target: 10, current: k * 3 })),
      ),
    )
    .returning({ id: keyResults.id, objectiveId: keyResults.objectiveId });
  const reqs = await db
    .insert(requirements)
    .values(
      objs.flatMap((o, i) =>
        [0, 1, 2].map((k) => ({
          requirementId: `${tag}-r${i}.${k}`,
          title: "r",
          priority: `p${k}`,
          // One requirement in three has no objective, so orphans grow too.
          objectiveId: k === 2 ? null : o.id,
          krId: k === 0 ? krs.find((kr) => kr.objectiveId === o.id)!.id : null,
        })),
      ),
    )
    .returning({ id: requirements.id });
  const ts = await db
    .insert(tasks)
    .values(
      Array.from({ length: reqs.length * 4 }, (_, i) => ({
        taskId: `${tag}-t${i}`,
        missionId: mission.id,
        objective: "work",
        status: i % 3 === 0 ? ("completed" as const) : ("pending" as const),
        sprintId: i % 2 === 0 ? sprint.id : null,
      })),
    )
    .returning({ id: tasks.id });
  // Task i serves requirement i/4 and, every fifth one, the next requirement as well; every seventh serves none.
  const links = ts.flatMap((task, i) => {
    if (i % 7 === 0) return [];
    const r = Math.floor(i / 4);
    const out = [{ taskId: task.id, requirementId: reqs[r]!.id }];
    if (i % 5 === 0 && r + 1 < reqs.length) out.push({ taskId: task.id, requirementId: reqs[r + 1]!.id });
    return out;
  });
  await db.insert(taskRequirements).values(links);
}

test("the number of queries does not grow with the data, with or without filters", async () => {
  const f = factory(t);
  const mission = await f.mission({ mission_id: "QM" });
  const sprint = await f.sprint("QS");
  const service = createTraceabilityService({ database: counting(t.database) });
  const filters: Array<Record<string, string>> = [
    {},
    { objective_id: "small-o0" },
    { mission_id: "QM" },
    { sprint_id: String(sprint.id) },
    { objective_id: "small-o1", mission_id: "QM", sprint_id: "QS" },
  ];

  async function countFor(q: Record<string, string>) {
    logged.length = 0;
    const m = await service.matrix(q);
    return { queries: [...logged], m };
  }

  await grow(2, mission, sprint, "small");
  const small = [];
  for (const q of filters) small.push(await countFor(q));
  expect(small[0]!.m.stats.total_tasks).toBe(24);

  await grow(40, mission, sprint, "big");
  const big = [];
  for (const q of filters) big.push(await countFor(q));
  expect(big[0]!.m.stats.total_objectives).toBe(42);
  expect(big[0]!.m.stats.total_tasks).toBe(24 + 480);
  expect(big[0]!.m.unlinked_requirements.length).toBe(42);

  for (let i = 0; i < filters.length; i++) {
    expect(big[i]!.queries.length, JSON.stringify(filters[i])).toBe(small[i]!.queries.length);
    // Four reads (objectives, key results, requirements with counts, tasks with links), whatever the filters;
    // the transaction's settings (set_config) are not reads.
    const reads = big[i]!.queries.filter((q) => /^\s*select/i.test(q) && !/^\s*select set_config\(/i.test(q));
    expect(reads).toHaveLength(4);
  }
  // At most the transaction's own statements on top of the four reads.
  expect(small[0]!.queries.length).toBeLessThanOrEqual(7);
});
