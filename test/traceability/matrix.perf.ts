// Measures GET /api/traceability at the size the issue sets (1,000 objectives, 10,000 requirements,
// 100,000 tasks) on PostgreSQL, through the whole HTTP path (validation, queries, tree, serialization).
// Not part of the test run (it takes about a minute to load the data); run by hand:
//   TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx tsx test/traceability/matrix.perf.ts
// It creates a scratch database on that server and drops it afterwards. Wall times include the database's
// work; "server CPU" is this process's own share (validation, decoding rows, building the tree, serializing).
import { SYSTEM, createTestDb } from "../harness.js";
import { buildApp } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import { createTokensService } from "../../src/tokens/tokens.service.js";

const OBJECTIVES = 1_000;
const REQUIREMENTS = 10_000;
const TASKS = 100_000;
const RUNS = 5;

async function main() {
  if (!process.env.TEST_DATABASE_URL) throw new Error("set TEST_DATABASE_URL to a PostgreSQL server");
  const testDb = await createTestDb();
  const { database } = testDb;
  try {
    const t0 = Date.now();
    // Fresh database: identity ids start at 1, so the generated foreign keys below are valid.
    await database.query(`
      INSERT INTO missions (mission_id, goal) SELECT 'm-' || i, 'goal' FROM generate_series(1, 10) i;
      INSERT INTO sprints (sprint_id, name) SELECT 's-' || i, 'sprint' FROM generate_series(1, 20) i;
      INSERT INTO objectives (objective_id, title, start_date, end_date)
        SELECT 'o-' || i, 'Objective ' || i, DATE '2026-01-01', DATE '2026-12-31' FROM generate_series(1, ${OBJECTIVES}) i;
      INSERT INTO key_results (kr_id, objective_id, title, target, current)
        SELECT 'kr-' || i, (i - 1) % ${OBJECTIVES} + 1, 'KR ' || i, 100, i % 100 FROM generate_series(1, ${OBJECTIVES * 3}) i;
      INSERT INTO requirements (requirement_id, title, priority, horizon, status, objective_id, kr_id)
        SELECT 'r-' || i, 'Requirement ' || i,
               (ARRAY['p0','p1','p2','p3',NULL])[i % 5 + 1], 'h' || (i % 3 + 1), 'accepted',
               CASE WHEN i % 10 = 0 THEN NULL ELSE (i - 1) % ${OBJECTIVES} + 1 END,
               CASE WHEN i % 10 = 0 OR i % 2 = 0 THEN NULL ELSE (i - 1) % ${OBJECTIVES} + 1 END
        FROM generate_series(1, ${REQUIREMENTS}) i;
      INSERT INTO tasks (task_id, mission_id, objective, status, sprint_id)
        SELECT 't-' || i, i % 10 + 1, 'Task ' || i,
               (ARRAY['pending','in_progress','completed','completed','blocked'])[i % 5 + 1],
               CASE WHEN i % 3 = 0 THEN NULL ELSE i % 20 + 1 END
        FROM generate_series(1, ${TASKS}) i;
      INSERT INTO task_requirements (task_id, requirement_id)
        SELECT i, (i - 1) % ${REQUIREMENTS} + 1 FROM generate_series(1, ${TASKS}) i WHERE i % 10 <> 0;
      INSERT INTO task_requirements (task_id, requirement_id)
        SELECT i, i % ${REQUIREMENTS} + 1 FROM generate_series(1, ${TASKS}) i WHERE i % 5 = 1;
      ANALYZE;
    `);
    console.log(`loaded in ${Date.now() - t0} ms`);

    const config = loadConfig({ MC_DATA_DIR: "/tmp/mc-perf-unused", LOG_LEVEL: "silent", DATABASE_URL: testDb.url! });
    const app = await buildApp({ config, database });
    await app.ready();
    const tokens = createTokensService({ database, adminToken: null });
    const token = (await tokens.create({ role: "member", name: "perf" }, SYSTEM)).token;

    for (const [label, url] of [
      ["json", "/api/traceability"],
      ["csv", "/api/traceability?format=csv"],
      ["json, one mission", "/api/traceability?mission_id=m-3"],
      ["json, one objective", "/api/traceability?objective_id=o-7"],
    ] as const) {
      const times: number[] = [];
      const cpu: number[] = [];
      let bytes = 0;
      for (let i = 0; i < RUNS; i++) {
        const start = process.hrtime.bigint();
        const cpu0 = process.cpuUsage();
        const r = await app.inject({ method: "GET", url, headers: { authorization: `Bearer ${token}` } });
        times.push(Number(process.hrtime.bigint() - start) / 1e6);
        const used = process.cpuUsage(cpu0);
        cpu.push((used.user + used.system) / 1e3);
        if (r.statusCode !== 200) throw new Error(`${url}: ${r.statusCode} ${r.body.slice(0, 200)}`);
        bytes = r.rawPayload.length;
      }
      times.sort((a, b) => a - b);
      cpu.sort((a, b) => a - b);
      // Wall time depends on what else the machine is doing; the server process's own CPU time does less so.
      console.log(
        `${label}: wall median ${times[Math.floor(RUNS / 2)]!.toFixed(0)} ms (min ${times[0]!.toFixed(0)}, ` +
          `max ${times[RUNS - 1]!.toFixed(0)}), server CPU median ${cpu[Math.floor(RUNS / 2)]!.toFixed(0)} ms, ` +
          `${(bytes / 1e6).toFixed(1)} MB`,
      );
    }
    await app.close();
  } finally {
    await testDb.drop();
  }
}

await main();
