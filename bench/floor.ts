// `npm run bench:floor` (issue 22): how close Mission Control is to the floor of each request the peer targets
// are set on, per backend. For each backend (FLOOR_BACKENDS: postgres,pglite), one server at a time, the order
// reversed every round, at BENCH_CONNECTIONS connections (50), FLOOR_ROUNDS rounds (3) of BENCH_WARMUP_S +
// BENCH_DURATION_S (3 + 10):
// - Mission Control (dist/main.js, built by the npm script when stale): create (`POST /api/missions/:id/tasks`), status
//   change (`PATCH /api/tasks/:id`, pending ↔ blocked over 500 tasks, a real change each time: the statuses are
//   read back before each run), list (`GET /api/missions/:id/tasks?limit=50`, a different page of 1,300 each),
//   get (`GET /api/tasks/:id`, over the 1,300),
//   heartbeat (`POST /api/agents/:id/activity`, 20 agents, each with its own agent token);
// - bench/ceilings/floor-server.ts, a bare Fastify process doing only what each must (the traced create as a
//   transaction and as one statement, the traced status change as one statement, the page as one statement, a
//   task by its key as one statement, a heartbeat kept in memory), and the get and the heartbeat again with the
//   contract's per-request work on top (token hashed and looked up, request id, body and answer schemas);
// - bench/ceilings/hello.ts, the hello-world ceiling the standing targets are ratios to, once per round.
// The same objective text and fields on both sides of the list; CPU per request of the server (and of its main
// thread) and of the whole machine, from /proc. FLOOR_ONLY (name parts) picks subjects; FLOOR_MC_ENV (JSON)
// adds settings to Mission Control's. Prints the medians and writes bench/results/<date>-floor[-N].json.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { createScratchDatabase } from "../test/fixtures/scratch-database.js";
import { fetchSpec, load, type LoadResult, type RequestSpec } from "./load.js";
import { call, cpuMs, resultsFile, root, startProcess, type Proc } from "./procs.js";

const base = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const backends = (process.env.FLOOR_BACKENDS ?? "postgres,pglite").split(",") as Array<"postgres" | "pglite">;
const rounds = Number(process.env.FLOOR_ROUNDS ?? 3);
// FLOOR_PIN=1: each server (all its threads) on CPU 1, this process and its load generator on CPU 0, so a
// server's rate is what one core of it does, with less of the two cores' scheduling noise; PostgreSQL floats.
const pin = process.env.FLOOR_PIN === "1";
if (pin) execFileSync("taskset", ["-apc", "0", String(process.pid)]);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const durationS = Number(process.env.BENCH_DURATION_S ?? 10);
const warmupS = Number(process.env.BENCH_WARMUP_S ?? 3);
const ADMIN = `floor-admin-${Date.now()}-${Math.random().toString(36).slice(2)}`;
const H = { authorization: `Bearer ${ADMIN}` };
const work = fs.mkdtempSync(path.join(os.tmpdir(), "mc-floor-"));

interface Store {
  /** A scratch database's URL (PostgreSQL), or a scratch data directory (PGlite). */
  url: string | null;
  dir: string | null;
  drop(): Promise<void>;
}

async function store(backend: "postgres" | "pglite", tag: string): Promise<Store> {
  if (backend === "pglite") return { url: null, dir: path.join(work, tag), drop: async () => {} };
  const db = await createScratchDatabase(base, `mc_floor_${tag}`);
  return { url: db.url, dir: null, drop: db.drop };
}

/** A store made when a subject first starts on it (none for subjects FLOOR_ONLY leaves out). */
function lazyStore(backend: "postgres" | "pglite", tag: string) {
  let made: Promise<Store> | null = null;
  return {
    get: () => (made ??= store(backend, tag)),
    drop: async () => void (made && (await (await made).drop())),
  };
}
type LazyStore = ReturnType<typeof lazyStore>;

/** Agents heartbeating, each with its own token, on both sides. */
const AGENTS = 20;

/** The floor's listed rows carry the same text (bench/ceilings/floor-server.ts). */
const objective = (n: number) =>
  `Listed task ${n}: ${Array(4).fill("implement the login page and its tests").join(" ")}`;

async function checkpoint() {
  const c = new pg.Client({ connectionString: base });
  await c.connect();
  await c.query("CHECKPOINT");
  await c.end();
  await new Promise((r) => setTimeout(r, 1_000));
}

interface Subject {
  name: string;
  start(): Promise<Proc>;
  /** Called before each measured run (and its warm-up), the server started. */
  before?(proc: Proc): Promise<void>;
  next(proc: Proc): RequestSpec;
}

function missionControl(backend: "postgres" | "pglite", lazy: LazyStore): Subject[] {
  const start = async () => {
    const db = await lazy.get();
    return startProcess({
      argv: ["dist/main.js", "serve"],
      env: {
        ...(db.url ? { DATABASE_URL: db.url, MC_DATA_DIR: path.join(work, "mc-unused") } : { MC_DATA_DIR: db.dir! }),
        MC_ADMIN_TOKEN: ADMIN,
        LOG_LEVEL: "warn",
        MC_RATE_LIMIT: "100000000",
        MC_MAX_EVENT_LOOP_DELAY_MS: "0",
        // e.g. {"MC_PGLITE_WORKER":"false"}: Mission Control's own settings for a comparison.
        ...(JSON.parse(process.env.FLOOR_MC_ENV ?? "{}") as Record<string, string>),
      },
      readyPath: "/readyz",
    });
  };
  let seeded = false;
  const listed: string[] = [];
  let got = 0;
  const statuses = new Map<string, string>();
  const cursors: Array<string | null> = [null];
  let seq = 0;
  let flip = 0;
  let page = 0;
  async function seed(url: string) {
    if (seeded) return;
    for (const [id, n] of [
      ["floor-list", 1300],
      ["floor-write", 500],
      ["floor-create", 0],
    ] as const) {
      await call(url, "POST", "/api/missions", H, { mission_id: id, goal: id });
      for (let i = 0; i < n; i += 10) {
        await Promise.all(
          Array.from({ length: 10 }, (_, k) =>
            call(url, "POST", `/api/missions/${id}/tasks`, H, { objective: objective(i + k + 1) }),
          ),
        );
      }
    }
    for (let c: string | null = null; ;) {
      const r = await call(url, "GET", `/api/missions/floor-list/tasks?limit=50${c ? `&cursor=${c}` : ""}`, H);
      for (const t of r.data) listed.push(String(t.task_id));
      c = r.meta.next_cursor;
      if (!c) break;
      cursors.push(c);
    }
    seeded = true;
  }
  async function readStatuses(url: string) {
    for (let c: string | null = null; ;) {
      const r = await call(url, "GET", `/api/missions/floor-write/tasks?limit=500${c ? `&cursor=${c}` : ""}`, H);
      for (const t of r.data) statuses.set(String(t.task_id), String(t.status));
      c = r.meta.next_cursor;
      if (!c) break;
    }
  }
  let keys: string[] = [];
  /** Agents with a token each, for the heartbeat. */
  const beaters: Array<{ key: string; token: string }> = [];
  let beat = 0;
  async function seedAgents(url: string) {
    for (let i = beaters.length; i < AGENTS; i++) {
      const key = `floor-agent-${i}`;
      await call(url, "POST", "/api/agents", H, { agent_id: key });
      const t = await call(url, "POST", "/api/tokens", H, { role: "agent", agent_id: key });
      beaters.push({ key, token: String(t.data.token) });
    }
  }
  return [
    {
      name: `${backend}: mission control heartbeat`,
      start,
      before: (p) => seedAgents(p.url),
      next: () => {
        const a = beaters[beat++ % beaters.length]!;
        return {
          method: "POST",
          path: `/api/agents/${a.key}/activity`,
          headers: { authorization: `Bearer ${a.token}` },
          body: { event: "heartbeat" },
        };
      },
    },
    {
      name: `${backend}: mission control create`,
      start,
      before: (p) => seed(p.url),
      next: () => ({
        method: "POST",
        path: "/api/missions/floor-create/tasks",
        headers: H,
        body: { objective: `floor task ${++seq}` },
      }),
    },
    {
      name: `${backend}: mission control status change`,
      start,
      before: async (p) => {
        await seed(p.url);
        // PATCHes cut off at the end of the warm-up may still be running.
        await new Promise((r) => setTimeout(r, 1_000));
        await readStatuses(p.url);
        keys = [...statuses.keys()];
      },
      next: () => {
        const key = keys[flip++ % keys.length]!;
        const status = statuses.get(key) === "blocked" ? "pending" : "blocked";
        statuses.set(key, status);
        return { method: "PATCH", path: `/api/tasks/${key}`, headers: H, body: { status } };
      },
    },
    {
      name: `${backend}: mission control list`,
      start,
      before: (p) => seed(p.url),
      next: () => {
        const c = cursors[page++ % cursors.length];
        return { method: "GET", path: `/api/missions/floor-list/tasks?limit=50${c ? `&cursor=${c}` : ""}`, headers: H };
      },
    },
    {
      name: `${backend}: mission control get`,
      start,
      before: (p) => seed(p.url),
      next: () => ({ method: "GET", path: `/api/tasks/${listed[got++ % listed.length]}`, headers: H }),
    },
  ];
}

function floors(backend: "postgres" | "pglite", lazy: LazyStore): Subject[] {
  const start = (one: boolean) => async () => {
    const db = await lazy.get();
    return startProcess({
      argv: ["--import", "tsx", "bench/ceilings/floor-server.ts"],
      env: {
        ...(db.url ? { FLOOR_DATABASE_URL: db.url } : { FLOOR_DATA_DIR: db.dir! }),
        FLOOR_ONE_STATEMENT: one ? "1" : "0",
      },
      readyPath: "/page",
    });
  };
  let seq = 0;
  let row = 0;
  let page = 0;
  let beat = 0;
  const flips = new Map<number, string>();
  const create = () => {
    const n = ++seq;
    return { method: "POST" as const, path: "/", body: { key: `k${n}`, body: `floor task ${n}` } };
  };
  return [
    { name: `${backend}: floor create, transaction`, start: start(false), next: create },
    { name: `${backend}: floor create, one statement`, start: start(true), next: create },
    {
      name: `${backend}: floor status change, one statement`,
      start: start(true),
      next: () => {
        const id = (row++ % 500) + 1;
        const status = flips.get(id) === "blocked" ? "pending" : "blocked";
        flips.set(id, status);
        return { method: "PATCH", path: `/rows/${id}`, body: { status } };
      },
    },
    {
      name: `${backend}: floor list`,
      start: start(true),
      // The 1,300 rows' ids are 1..1300: 26 pages.
      next: () => ({ method: "GET", path: `/page?after=${(page++ % 26) * 50}` }),
    },
    {
      name: `${backend}: floor get`,
      start: start(true),
      next: () => ({ method: "GET", path: `/tasks/task-${(page++ % 1300) + 1}` }),
    },
    {
      name: `${backend}: floor get, with the contract's request work`,
      start: start(true),
      next: () => {
        const n = page++;
        return {
          method: "GET",
          path: `/contract/tasks/task-${(n % 1300) + 1}`,
          headers: { authorization: `Bearer floor-token-${n % AGENTS}` },
        };
      },
    },
    {
      name: `${backend}: floor heartbeat`,
      start: start(true),
      next: () => ({
        method: "POST",
        path: `/agents/floor-agent-${beat++ % AGENTS}/activity`,
        body: { event: "heartbeat" },
      }),
    },
    {
      name: `${backend}: floor heartbeat, with the contract's request work`,
      start: start(true),
      next: () => {
        const i = beat++ % AGENTS;
        return {
          method: "POST",
          path: `/contract/agents/floor-agent-${i}/activity`,
          headers: { authorization: `Bearer floor-token-${i}` },
          body: { event: "heartbeat" },
        };
      },
    },
  ];
}

const stores: LazyStore[] = [];
// The hello-world ceiling in the same run: the standing targets are ratios to it.
const subjects: Subject[] = [
  {
    name: "hello",
    start: () => startProcess({ argv: ["--import", "tsx", "bench/ceilings/hello.ts"], env: {}, readyPath: "/" }),
    next: () => ({ method: "GET", path: "/" }),
  },
];
for (const b of backends) {
  const mc = lazyStore(b, `mc_${b}`);
  const fl = lazyStore(b, `fl_${b}`);
  stores.push(mc, fl);
  subjects.push(...missionControl(b, mc), ...floors(b, fl));
}
type Result = LoadResult & {
  cpuMsPerRequest: number;
  mainThreadCpuMsPerRequest: number;
  machineCpuMsPerRequest: number;
  responseBytes: number;
};
const results: Record<string, Result[]> = {};
// FLOOR_ONLY: run only the subjects whose name contains one of these (comma-separated).
const only = process.env.FLOOR_ONLY?.split(",");
// The hello-world ceiling always runs: it is what the ratios are to.
if (only) {
  const kept = subjects.filter((s) => s.name === "hello" || only.some((o) => s.name.includes(o)));
  subjects.splice(0, subjects.length, ...kept);
}
try {
  for (let round = 1; round <= rounds; round++) {
    for (const s of round % 2 ? subjects : [...subjects].reverse()) {
      // The last subject's writes are not flushed in this one's window.
      if (backends.includes("postgres")) await checkpoint();
      const proc = await s.start();
      try {
        if (pin) execFileSync("taskset", ["-apc", "1", String(proc.pid)], { stdio: "ignore" });
        await s.before?.(proc);
        let cpu0 = cpuMs(proc.pid);
        const measured = await load({
          url: proc.url,
          connections,
          durationS,
          warmupS,
          between: async () => {
            await s.before?.(proc);
            cpu0 = cpuMs(proc.pid);
          },
          next: () => s.next(proc),
        });
        const cpu1 = cpuMs(proc.pid);
        // Over the measured run only (the requests cut off at its end count too, a few of thousands).
        const r: Result = {
          ...measured,
          cpuMsPerRequest: (cpu1.process - cpu0.process) / Math.max(1, measured.requests),
          mainThreadCpuMsPerRequest: (cpu1.main - cpu0.main) / Math.max(1, measured.requests),
          machineCpuMsPerRequest: (cpu1.machine - cpu0.machine) / Math.max(1, measured.requests),
          // One answer more, after the run, for its size.
          responseBytes: (await (await fetchSpec(proc.url, s.next(proc))).arrayBuffer()).byteLength,
        };
        (results[s.name] ??= []).push(r);
        const load1 = os.loadavg()[0]!.toFixed(1);
        console.log(
          `round ${round} ${s.name}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, CPU ms/req: server ${r.cpuMsPerRequest.toFixed(2)}, its main thread ${r.mainThreadCpuMsPerRequest.toFixed(2)}, machine ${r.machineCpuMsPerRequest.toFixed(2)}; ${r.responseBytes} B` +
            `${r.non2xx || r.errors ? `, ${r.non2xx} non-2xx ${JSON.stringify(r.statusCodes)}, ${r.errors} errors` : ""} · load ${load1}`,
        );
      } finally {
        await proc.stop();
      }
    }
  }
} finally {
  for (const d of stores) await d.drop().catch(() => {});
  fs.rmSync(work, { recursive: true, force: true });
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const hello = results.hello ? median(results.hello.map((r) => r.rps)) : null;
const summary = Object.fromEntries(
  Object.entries(results).map(([k, rs]) => {
    const rps = median(rs.map((r) => r.rps));
    return [
      k,
      {
        rps,
        // The median's share of the same run's hello-world median.
        ofHello: hello === null ? null : Number((rps / hello).toFixed(3)),
        p99: median(rs.map((r) => r.p99)),
        cpuMsPerRequest: median(rs.map((r) => r.cpuMsPerRequest)),
        non2xx: rs.reduce((n, r) => n + r.non2xx, 0),
      },
    ];
  }),
);
console.log(JSON.stringify(summary, null, 2));
const out = resultsFile(path.join(root, "bench/results"), `${new Date().toISOString().slice(0, 10)}-floor`);
fs.writeFileSync(
  out,
  JSON.stringify(
    {
      at: new Date().toISOString(),
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version },
      connections,
      durationS,
      warmupS,
      rounds,
      pinned: pin,
      mcEnv: JSON.parse(process.env.FLOOR_MC_ENV ?? "{}") as Record<string, string>,
      summary,
      results,
    },
    null,
    2,
  ),
);
console.log(`written: ${path.relative(process.cwd(), out)}`);
