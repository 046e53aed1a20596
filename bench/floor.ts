// `npm run bench:floor` (issue 22): how close Mission Control's task create is to the floor of a traced write on
// this machine. Against one scratch PostgreSQL database each, one server at a time, alternating, at
// BENCH_CONNECTIONS connections (50): Mission Control's `POST /api/missions/:id/tasks` (dist/main.js; run
// `npm run build` first), and bench/ceilings/traced-write.ts, a bare Fastify process that does only what a
// traced write must (insert the row, append its entry to the one chain: head row locked, hash computed in SQL,
// entry inserted, NOTIFY queued; commit), as a transaction of four round trips and as one statement. Prints the
// medians over FLOOR_ROUNDS rounds (3) and writes bench/results/<date>-floor.json.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { load, type LoadResult } from "./load.js";
import { root, startProcess, type Proc } from "./procs.js";

const base = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const rounds = Number(process.env.FLOOR_ROUNDS ?? 3);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const durationS = Number(process.env.BENCH_DURATION_S ?? 10);
const warmupS = Number(process.env.BENCH_WARMUP_S ?? 3);
const ADMIN = `floor-admin-${Date.now()}-${Math.random().toString(36).slice(2)}`;

async function scratch(tag: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `mc_floor_${tag}_${Date.now().toString(36)}`;
  const c = new pg.Client({ connectionString: base });
  await c.connect();
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  const u = new URL(base);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const d = new pg.Client({ connectionString: base });
      await d.connect();
      await d.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await d.end();
    },
  };
}

interface Subject {
  name: string;
  start(): Promise<Proc>;
  request(proc: Proc, n: number): { path: string; headers?: Record<string, string>; body: unknown };
  setup?(proc: Proc): Promise<void>;
}

let seq = 0;
const subjects: Subject[] = [
  {
    name: "mission control create",
    start: async () =>
      startProcess({
        argv: ["dist/main.js", "serve"],
        env: {
          DATABASE_URL: dbs.mc.url,
          MC_ADMIN_TOKEN: ADMIN,
          LOG_LEVEL: "warn",
          MC_RATE_LIMIT: "100000000",
          MC_MAX_EVENT_LOOP_DELAY_MS: "0",
          MC_DATA_DIR: path.join(os.tmpdir(), "mc-floor-unused"),
        },
        readyPath: "/readyz",
      }),
    async setup(proc) {
      const r = await fetch(`${proc.url}/api/missions`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
        body: JSON.stringify({ mission_id: "floor", goal: "floor" }),
      });
      if (r.status !== 201 && r.status !== 422) throw new Error(`mission: ${r.status} ${await r.text()}`);
    },
    request: () => ({
      path: "/api/missions/floor/tasks",
      headers: { authorization: `Bearer ${ADMIN}` },
      body: { objective: `floor task ${++seq}` },
    }),
  },
  ...(["0", "1"] as const).map((one): Subject => ({
    name: one === "1" ? "floor: one statement" : "floor: transaction",
    start: () =>
      startProcess({
        argv: ["--import", "tsx", "bench/ceilings/traced-write.ts"],
        env: { DATABASE_URL: one === "1" ? dbs.floor1.url : dbs.floor.url, FLOOR_ONE_STATEMENT: one },
        readyPath: "/",
      }),
    request: () => {
      const n = ++seq;
      return { path: "/", body: { key: `k${n}-${Math.random().toString(36).slice(2)}`, body: `floor task ${n}` } };
    },
  })),
];

const dbs = { mc: await scratch("mc"), floor: await scratch("tx"), floor1: await scratch("one") };
const results: Record<string, LoadResult[]> = {};
try {
  for (let round = 1; round <= rounds; round++) {
    for (const s of round % 2 ? subjects : [...subjects].reverse()) {
      const proc = await s.start();
      try {
        await s.setup?.(proc);
        const r = await load({
          url: proc.url,
          connections,
          durationS,
          warmupS,
          next: () => ({ method: "POST", ...s.request(proc, 0) }),
        });
        (results[s.name] ??= []).push(r);
        const load1 = os.loadavg()[0]!.toFixed(1);
        console.log(
          `round ${round} ${s.name}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms` +
            `${r.non2xx || r.errors ? `, ${r.non2xx} non-2xx, ${r.errors} errors` : ""} · load ${load1}`,
        );
      } finally {
        await proc.stop();
      }
    }
  }
} finally {
  for (const d of Object.values(dbs)) await d.drop().catch(() => {});
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const summary = Object.fromEntries(
  Object.entries(results).map(([k, rs]) => [
    k,
    { rps: median(rs.map((r) => r.rps)), p99: median(rs.map((r) => r.p99)) },
  ]),
);
console.log(JSON.stringify(summary, null, 2));
const out = path.join(root, "bench/results", `${new Date().toISOString().slice(0, 10)}-floor.json`);
fs.writeFileSync(
  out,
  JSON.stringify({ at: new Date().toISOString(), connections, durationS, warmupS, rounds, summary, results }, null, 2),
);
console.log(`written: ${path.relative(process.cwd(), out)}`);
