// `npm run bench:peer`: Mission Control against its closest peer, Paperclip (npm paperclipai, pinned below), on
// the same machine and the same PostgreSQL, one server under load at a time (issue 22). Paperclip is installed
// into a scratch folder outside the repository (never a dependency of ours), onboarded with DATABASE_URL
// pointing at a scratch database on the benchmark's PostgreSQL (its embedded PostgreSQL refuses to run as root)
// and run on its own port, 3100, in its no-auth loopback mode. Mission Control runs as `node dist/main.js serve`
// (the current tree's build) on PostgreSQL (another scratch database) and on PGlite (a scratch data directory).
//
// All three servers are seeded through their APIs with the same amounts: a listed container (a Paperclip company,
// a Mission Control mission) of PEER_LIST_TASKS tasks, and a written one (creates, and PEER_STATUS_TASKS tasks
// whose status is flipped). Then, for PEER_ROUNDS rounds, every scenario runs on each server in turn (the order
// rotates each round) with autocannon (bench/load.ts): the result is the median of the rounds' req/s, p50, p99.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { createScratchDatabase } from "../test/fixtures/scratch-database.js";
import { fetchSpec, load, type LoadResult, type RequestSpec } from "./load.js";
import { resultsFile, root, sampleRss, startProcess, type Proc } from "./procs.js";

const PAPERCLIP_VERSION = "2026.817.0";
const PAPERCLIP_PORT = 3100;

const log = (m: string) => process.stderr.write(`${m}\n`);
const env = (name: string, def: string) => process.env[name] || def;
const int = (name: string, def: number) => {
  const n = Number(env(name, String(def)));
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number (got ${process.env[name]})`);
  return n;
};

type ServerName = "paperclip" | "mc-postgres" | "mc-pglite";
const ALL_SERVERS: ServerName[] = ["paperclip", "mc-postgres", "mc-pglite"];

const cfg = {
  databaseUrl: env("PEER_DATABASE_URL", env("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")),
  dir: env("PEER_DIR", path.join(os.tmpdir(), "mc-peer")),
  servers: env("PEER_SERVERS", ALL_SERVERS.join(","))
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean) as ServerName[],
  scenarios: process.env.PEER_ONLY ? process.env.PEER_ONLY.split(",").map((s) => s.trim()) : null,
  rounds: int("PEER_ROUNDS", 3),
  durationS: int("BENCH_DURATION_S", 10),
  warmupS: int("BENCH_WARMUP_S", 3),
  connections: int("BENCH_CONNECTIONS", 50),
  fewConnections: int("PEER_FEW_CONNECTIONS", 8),
  listTasks: int("PEER_LIST_TASKS", 1300),
  statusTasks: int("PEER_STATUS_TASKS", 500),
  seedConcurrency: int("PEER_SEED_CONCURRENCY", 8),
  build: env("PEER_BUILD", "1") !== "0",
  /** The Mission Control checkout to build and run (a worktree of a given commit, say); default this one. */
  mcRoot: path.resolve(env("PEER_MC_ROOT", root)),
  keep: env("PEER_KEEP", "0") === "1",
  /** ANALYZE the PostgreSQL databases after seeding (1), or leave them without planner statistics (0). */
  analyze: env("PEER_ANALYZE", "1") !== "0",
};
for (const s of cfg.servers) if (!ALL_SERVERS.includes(s)) throw new Error(`PEER_SERVERS: unknown server "${s}"`);

const cleanups: Array<() => Promise<void>> = [];
async function cleanup() {
  while (cleanups.length > 0) await cleanups.pop()!().catch((err) => log(`cleanup: ${String(err)}`));
}
for (const sig of ["SIGINT", "SIGTERM"] as const)
  process.on(sig, () => {
    log(`\n${sig}: stopping the servers and dropping the scratch databases…`);
    void cleanup().finally(() => process.exit(130));
  });

// ---------------------------------------------------------------------------------------------------------------
// The servers under test, behind one interface: seed through the API, then make the scenarios' requests.

interface Target {
  name: ServerName;
  url: string;
  pid: number;
  /** The PostgreSQL database it runs on (null: PGlite). */
  databaseUrl: string | null;
  /** Answers once the server has worked off what the last scenario left queued. */
  drain(): Promise<void>;
  stop(): Promise<void>;
  /** Creates the listed and the written container and their tasks; returns what the requests need. */
  seed(): Promise<void>;
  /** Reads the status of every task in the status pool (the load generator may stop with flips in flight). */
  syncStatuses(): Promise<void>;
  create(): RequestSpec;
  status(): RequestSpec;
  listPage(): RequestSpec;
  listSame(): RequestSpec;
  get(): RequestSpec;
  version: string;
}

async function call(url: string, method: string, p: string, headers: Record<string, string>, body?: unknown) {
  // Load shedding (503, Mission Control's under-pressure) or Paperclip's list limiter (429) on a loaded
  // machine: set-up requests wait and ask again.
  let r: Response;
  for (let attempt = 0; ; attempt++) {
    r = await fetch(url + p, {
      method,
      headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if ((r.status !== 503 && r.status !== 429) || attempt >= 30) break;
    await r.arrayBuffer();
    await new Promise((res) => setTimeout(res, 500));
  }
  const text = await r.text();
  let parsed: any = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${text.slice(0, 300)}`);
  return parsed;
}

/** Runs `fn(i)` for i in [0, n) with at most `k` at a time, in order of i. */
async function pool<T>(n: number, k: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(k, n) }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}

async function waitFor(url: string, timeoutMs: number, proc?: ChildProcess, output?: () => string) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc && (proc.exitCode !== null || proc.signalCode !== null))
      throw new Error(`exited early: ${output?.().slice(-3000)}`);
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      if (r.status === 200) return;
    } catch {
      // not listening yet, or busy
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

const rr = <T>(items: T[]) => {
  let i = 0;
  return () => items[i++ % items.length]!;
};
const title = (kind: string, i: number) => `Peer ${kind} task ${i}`;
const DESCRIPTION = "Benchmark task: implement the endpoint, add its tests and update the API reference.";

/** A pool of tasks whose status flips between two states: each request a real change. */
class Flipper {
  private state = new Map<string, boolean>();
  private next: () => string;
  constructor(
    ids: string[],
    private readonly a: string,
    private readonly b: string,
  ) {
    this.next = rr(ids);
    for (const id of ids) this.state.set(id, false);
  }
  set(id: string, status: string) {
    this.state.set(id, status === this.b);
  }
  /** The next task and the status that changes it. */
  flip(): [string, string] {
    const id = this.next();
    const atB = !this.state.get(id);
    this.state.set(id, atB);
    return [id, atB ? this.b : this.a];
  }
}

async function installPaperclip(): Promise<string> {
  const pkgDir = path.join(cfg.dir, `paperclipai-${PAPERCLIP_VERSION}`);
  const bin = path.join(pkgDir, "node_modules/paperclipai/dist/index.js");
  if (!fs.existsSync(bin)) {
    log(`== installing paperclipai@${PAPERCLIP_VERSION} into ${pkgDir}`);
    fs.mkdirSync(pkgDir, { recursive: true });
    fs.writeFileSync(path.join(pkgDir, "package.json"), '{"name":"mc-peer-scratch","private":true}\n');
    execFileSync("npm", ["install", "--no-audit", "--no-fund", "--save-exact", `paperclipai@${PAPERCLIP_VERSION}`], {
      cwd: pkgDir,
      stdio: ["ignore", 2, 2],
    });
  }
  return bin;
}

function spawnLogged(argv: string[], extraEnv: Record<string, string>, logFile: string): ChildProcess {
  const out = fs.openSync(logFile, "a");
  const child = spawn(process.execPath, argv, {
    cwd: path.dirname(logFile),
    env: { ...process.env, ...extraEnv },
    stdio: ["ignore", out, out],
    detached: true, // its own process group, so stopping it stops whatever it started
  });
  fs.closeSync(out);
  return child;
}

async function stopGroup(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((res) => child.once("exit", () => res()));
  try {
    process.kill(-child.pid!, "SIGTERM");
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // gone
    }
  }, 20_000);
  await exited;
  clearTimeout(timer);
}

async function paperclip(work: string): Promise<Target> {
  const bin = await installPaperclip();
  const db = await createScratchDatabase(cfg.databaseUrl, "mc_peer_paperclip");
  if (!cfg.keep) cleanups.push(() => db.drop());
  const dataDir = path.join(work, "paperclip");
  fs.mkdirSync(dataDir, { recursive: true });
  const logFile = path.join(work, "paperclip.log");
  const output = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : "");
  const pcEnv = {
    DATABASE_URL: db.url,
    PAPERCLIP_TELEMETRY_DISABLED: "1",
    DO_NOT_TRACK: "1",
    PAPERCLIP_OPEN_ON_LISTEN: "false",
  };
  const base = `http://127.0.0.1:${PAPERCLIP_PORT}`;
  try {
    const r = await fetch(`${base}/api/health`);
    await r.arrayBuffer();
    throw new Error(`something already listens on port ${PAPERCLIP_PORT}: stop it first`);
  } catch (err) {
    if (String(err).includes("already listens")) throw err;
  }
  // `onboard --yes` writes the config (external PostgreSQL from DATABASE_URL), migrates, and starts the server:
  // stopped once it answers, then started the ordinary way with `run`.
  log("== paperclip: onboard");
  const onboard = spawnLogged([bin, "onboard", "--yes", "--no-install-service", "-d", dataDir], pcEnv, logFile);
  await waitFor(`${base}/api/health`, 180_000, onboard, output);
  await stopGroup(onboard);
  log("== paperclip: run");
  const server = spawnLogged([bin, "run", "-d", dataDir], pcEnv, logFile);
  cleanups.push(() => stopGroup(server));
  await waitFor(`${base}/api/health`, 180_000, server, output);
  // The server process is the one listening on the port (the CLI may run it in-process or as a child).
  const pid = listeningPid(PAPERCLIP_PORT) ?? server.pid!;
  const health = await call(base, "GET", "/api/health", {});

  const h = {};
  let listCompany = "";
  let writeCompany = "";
  let listIds: string[] = [];
  let flipper: Flipper | null = null;
  const offsets: number[] = [];
  let n = 0;
  return {
    name: "paperclip",
    url: base,
    pid,
    databaseUrl: db.url,
    version: String(health.version),
    drain: () => waitFor(`${base}/api/health`, 300_000),
    stop: () => stopGroup(server),
    async seed() {
      listCompany = (await call(base, "POST", "/api/companies", h, { name: "Peer list" })).id;
      writeCompany = (await call(base, "POST", "/api/companies", h, { name: "Peer write" })).id;
      const mk = (company: string, kind: string) => (i: number) =>
        call(base, "POST", `/api/companies/${company}/issues`, h, {
          title: title(kind, i),
          description: DESCRIPTION,
          status: "todo",
        }).then((x: any) => String(x.id));
      listIds = await pool(cfg.listTasks, cfg.seedConcurrency, mk(listCompany, "list"));
      const statusIds = await pool(cfg.statusTasks, cfg.seedConcurrency, mk(writeCompany, "status"));
      flipper = new Flipper(statusIds, "todo", "backlog");
      for (let o = 0; o < cfg.listTasks; o += 50) offsets.push(o);
    },
    async syncStatuses() {
      for (let o = 0; ; o += 500) {
        const page: any[] = await call(base, "GET", `/api/companies/${writeCompany}/issues?limit=500&offset=${o}`, h);
        for (const it of page) flipper!.set(String(it.id), String(it.status));
        if (page.length < 500) break;
      }
    },
    create: () => ({
      method: "POST",
      path: `/api/companies/${writeCompany}/issues`,
      body: { title: title("created", ++n), description: DESCRIPTION, status: "todo" },
    }),
    status: () => {
      const [id, status] = flipper!.flip();
      return { method: "PATCH", path: `/api/issues/${id}`, body: { status } };
    },
    listPage: (() => {
      let i = 0;
      return (): RequestSpec => ({
        method: "GET",
        path: `/api/companies/${listCompany}/issues?limit=50&offset=${offsets[i++ % offsets.length]}`,
      });
    })(),
    listSame: () => ({ method: "GET", path: `/api/companies/${listCompany}/issues?limit=50&offset=0` }),
    get: (() => {
      let i = 0;
      return (): RequestSpec => ({ method: "GET", path: `/api/issues/${listIds[i++ % listIds.length]}` });
    })(),
  };
}

/** The pid listening on a TCP port of 127.0.0.1, from /proc (null when it cannot be told). */
function listeningPid(port: number): number | null {
  try {
    const hex = port.toString(16).toUpperCase().padStart(4, "0");
    const line = fs
      .readFileSync("/proc/net/tcp", "utf8")
      .split("\n")
      .find((l) => l.includes(`:${hex} `) && l.trim().split(/\s+/)[3] === "0A");
    if (!line) return null;
    const inode = line.trim().split(/\s+/)[9];
    for (const p of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
      try {
        for (const fd of fs.readdirSync(`/proc/${p}/fd`))
          if (fs.readlinkSync(`/proc/${p}/fd/${fd}`) === `socket:[${inode}]`) return Number(p);
      } catch {
        // not ours to read, or gone
      }
    }
  } catch {
    // no /proc
  }
  return null;
}

async function missionControl(work: string, backend: "postgres" | "pglite"): Promise<Target> {
  const dbEnv: Record<string, string> = {};
  if (backend === "postgres") {
    const db = await createScratchDatabase(cfg.databaseUrl, "mc_peer_mc");
    if (!cfg.keep) cleanups.push(() => db.drop());
    dbEnv.DATABASE_URL = db.url;
  }
  const admin = `peer-admin-${randomBytes(12).toString("hex")}`;
  const extra = (process.env.BENCH_SERVER_NODE_ARGS ?? "").split(/\s+/).filter(Boolean);
  log(`== mc-${backend}: start`);
  const server: Proc = await startProcess({
    argv: [...extra, "dist/main.js", "serve"],
    cwd: cfg.mcRoot,
    env: {
      ...dbEnv,
      MC_DATA_DIR: path.join(work, `mc-${backend}`),
      MC_ADMIN_TOKEN: admin,
      LOG_LEVEL: env("BENCH_LOG_LEVEL", "warn"),
      // As in `npm run bench`: the per-token limiter runs on every request but is set out of the load's way.
      MC_RATE_LIMIT: "1000000000",
    },
    readyPath: "/readyz",
  });
  cleanups.push(() => server.stop());
  const h = { authorization: `Bearer ${admin}` };
  const health = await call(server.url, "GET", "/readyz", {});
  let listKeys: string[] = [];
  let flipper: Flipper | null = null;
  const cursors: Array<string | null> = [null];
  let n = 0;
  const run = randomBytes(3).toString("hex");
  return {
    name: `mc-${backend}`,
    url: server.url,
    pid: server.pid,
    databaseUrl: dbEnv.DATABASE_URL ?? null,
    version: String(
      health?.version ?? JSON.parse(fs.readFileSync(path.join(cfg.mcRoot, "package.json"), "utf8")).version,
    ),
    drain: () => waitFor(`${server.url}/readyz`, 300_000),
    stop: () => server.stop(),
    async seed() {
      await call(server.url, "POST", "/api/missions", h, { mission_id: "peer-list", goal: "Peer list" });
      await call(server.url, "POST", "/api/missions", h, { mission_id: "peer-write", goal: "Peer write" });
      // The contract's task has no description: the objective carries the title and the description.
      const mk = (mission: string, kind: string) => (i: number) =>
        call(server.url, "POST", `/api/missions/${mission}/tasks`, h, {
          objective: `${title(kind, i)}. ${DESCRIPTION}`,
        }).then((x: any) => String(x.data.task_id));
      listKeys = await pool(cfg.listTasks, cfg.seedConcurrency, mk("peer-list", "list"));
      const statusKeys = await pool(cfg.statusTasks, cfg.seedConcurrency, mk("peer-write", "status"));
      flipper = new Flipper(statusKeys, "pending", "blocked");
      for (let cursor: string | null = null; ;) {
        const r: any = await call(
          server.url,
          "GET",
          `/api/missions/peer-list/tasks?limit=50${cursor ? `&cursor=${cursor}` : ""}`,
          h,
        );
        cursor = r.meta.next_cursor;
        if (!cursor) break;
        cursors.push(cursor);
      }
    },
    async syncStatuses() {
      for (let cursor: string | null = null; ;) {
        const r: any = await call(
          server.url,
          "GET",
          `/api/missions/peer-write/tasks?limit=500${cursor ? `&cursor=${cursor}` : ""}`,
          h,
        );
        for (const t of r.data) flipper!.set(String(t.task_id), String(t.status));
        cursor = r.meta.next_cursor;
        if (!cursor) break;
      }
    },
    create: () => ({
      method: "POST",
      path: "/api/missions/peer-write/tasks",
      headers: h,
      body: { objective: `${title(`created-${run}`, ++n)}. ${DESCRIPTION}` },
    }),
    status: () => {
      const [key, status] = flipper!.flip();
      return { method: "PATCH", path: `/api/tasks/${key}`, headers: h, body: { status } };
    },
    listPage: (() => {
      const next = rr(cursors);
      return (): RequestSpec => {
        const c = next();
        return { method: "GET", path: `/api/missions/peer-list/tasks?limit=50${c ? `&cursor=${c}` : ""}`, headers: h };
      };
    })(),
    listSame: () => ({ method: "GET", path: "/api/missions/peer-list/tasks?limit=50", headers: h }),
    get: (() => {
      let i = 0;
      return (): RequestSpec => ({ method: "GET", path: `/api/tasks/${listKeys[i++ % listKeys.length]}`, headers: h });
    })(),
  };
}

// ---------------------------------------------------------------------------------------------------------------

interface Scenario {
  name: string;
  connections: number;
  next: (t: Target) => () => RequestSpec;
  before?: (t: Target) => Promise<void>;
}

const SCENARIOS: Scenario[] = [
  { name: "create", connections: cfg.connections, next: (t) => t.create },
  {
    name: "status change",
    connections: cfg.connections,
    next: (t) => t.status,
    before: (t) => t.syncStatuses(),
  },
  { name: "list, a different page each", connections: cfg.connections, next: (t) => t.listPage },
  { name: "list, identical pages", connections: cfg.connections, next: (t) => t.listSame },
  {
    name: `list, a different page each, ${cfg.fewConnections} conns`,
    connections: cfg.fewConnections,
    next: (t) => t.listPage,
  },
  { name: "get one", connections: cfg.connections, next: (t) => t.get },
];

interface Sample extends LoadResult {
  round: number;
  peakRssMb: number;
  load: number[];
  bytes: number;
}

const median = (xs: number[]) => {
  const s = [...xs].filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const loadavg = () => os.loadavg().map((x) => Math.round(x * 100) / 100);

/** The size of one answer to this scenario's request (a sample: bodies differ a little). */
async function sampleBytes(t: Target, next: () => RequestSpec): Promise<number> {
  return (await (await fetchSpec(t.url, next())).arrayBuffer()).byteLength;
}

async function main() {
  const started = Date.now();
  const date = new Date().toISOString();
  const loadAtStart = loadavg();
  if (cfg.build && cfg.servers.some((s) => s.startsWith("mc-"))) {
    log("== building (npm run build)");
    execFileSync("npm", ["run", "build"], { cwd: cfg.mcRoot, stdio: ["ignore", 2, 2] });
  }
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: cfg.mcRoot }).toString().trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src"], { cwd: cfg.mcRoot }).toString().trim();
    if (dirty) commit += " (src/ has uncommitted changes)";
  } catch {
    // not a git checkout
  }
  const work = path.join(cfg.dir, `run-${date.replace(/[:.]/g, "-")}`);
  fs.mkdirSync(work, { recursive: true });
  if (!cfg.keep) cleanups.push(async () => fs.rmSync(work, { recursive: true, force: true }));

  const targets: Target[] = [];
  for (const s of cfg.servers) {
    const t =
      s === "paperclip"
        ? await paperclip(work)
        : await missionControl(work, s === "mc-postgres" ? "postgres" : "pglite");
    const t0 = Date.now();
    log(`== ${t.name}: seeding ${cfg.listTasks} + ${cfg.statusTasks} tasks through the API`);
    await t.seed();
    log(`  seeded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    if (cfg.analyze && t.databaseUrl) {
      // What autovacuum does within a minute of such a load on a default PostgreSQL (the benchmark's server may
      // run with autovacuum off): without statistics the planner reads and sorts a whole mission (or company)
      // for every page. PGlite has no autovacuum, and is measured as Mission Control leaves it.
      const c = new pg.Client({ connectionString: t.databaseUrl });
      await c.connect();
      await c.query("ANALYZE");
      await c.end();
      log("  ANALYZE done");
    }
    targets.push(t);
  }

  const samples: Record<string, Record<string, Sample[]>> = {};
  const scenarios = SCENARIOS.filter((s) => cfg.scenarios === null || cfg.scenarios.some((o) => s.name.startsWith(o)));
  for (let round = 1; round <= cfg.rounds; round++) {
    const order = targets.map((_, i) => targets[(i + round - 1) % targets.length]!);
    for (const sc of scenarios) {
      for (const t of order) {
        await t.drain();
        await sc.before?.(t);
        const next = sc.next(t);
        const bytes = await sampleBytes(t, next);
        const stopRss = sampleRss(t.pid);
        const r = await load({
          url: t.url,
          connections: sc.connections,
          durationS: cfg.durationS,
          warmupS: cfg.warmupS,
          next,
          between: () => t.drain(),
        });
        const s: Sample = { ...r, round, peakRssMb: stopRss(), load: loadavg(), bytes };
        ((samples[sc.name] ??= {})[t.name] ??= []).push(s);
        const odd = Object.entries(r.statusCodes).filter(([c]) => !c.startsWith("2"));
        log(
          `  round ${round} ${sc.name} · ${t.name}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(1)} ms, p99 ` +
            `${r.p99.toFixed(1)} ms${odd.length ? ` (non-2xx: ${odd.map(([c, k]) => `${k}×${c}`).join(", ")})` : ""}` +
            `${r.errors ? ` (${r.errors} errors)` : ""} · load ${s.load[0]}`,
        );
      }
    }
  }

  const summary = scenarios.map((sc) => {
    const per: Record<string, unknown> = {};
    for (const t of targets) {
      const xs = samples[sc.name]?.[t.name] ?? [];
      per[t.name] = {
        rps: median(xs.map((x) => x.rps)),
        p50: median(xs.map((x) => x.p50)),
        p99: median(xs.map((x) => x.p99)),
        bytes: median(xs.map((x) => x.bytes)),
        non2xx: xs.reduce((a, x) => a + x.non2xx, 0),
        errors: xs.reduce((a, x) => a + x.errors, 0),
        rounds: xs.map((x) => Math.round(x.rps)),
      };
    }
    return { scenario: sc.name, connections: sc.connections, servers: per };
  });
  const result = {
    date,
    finishedAt: new Date().toISOString(),
    totalSeconds: Math.round((Date.now() - started) / 1000),
    missionControlCommit: commit,
    machine: {
      cpu: os.cpus()[0]?.model ?? "unknown",
      cores: os.cpus().length,
      memoryGb: Math.round(os.totalmem() / 2 ** 30),
      os: `${os.type()} ${os.release()}`,
      node: process.version,
      loadAverageAtStart: loadAtStart,
      loadAverageAtEnd: loadavg(),
    },
    versions: Object.fromEntries(targets.map((t) => [t.name, t.version])),
    settings: { ...cfg, databaseUrl: cfg.databaseUrl.replace(/\/\/[^@]*@/, "//…@") },
    summary,
    targets: judge(summary),
    samples,
  };
  await cleanup();
  const outDir = path.resolve(env("PEER_RESULTS_DIR", path.join(root, "bench/results")));
  fs.mkdirSync(outDir, { recursive: true });
  const file = resultsFile(outDir, `${date.slice(0, 10)}-peer`);
  fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  const md = markdown(result);
  fs.writeFileSync(file.replace(/\.json$/, ".md"), `${md}\n`);
  process.stdout.write(`\n${md}\n\nwritten: ${path.relative(root, file)} (and .md)\n`);
}

type Summary = Array<{ scenario: string; connections: number; servers: Record<string, any> }>;

const TARGETS: Array<{ scenario: string; server: ServerName; min: number }> = [
  { scenario: "create", server: "mc-postgres", min: 30 },
  { scenario: "status change", server: "mc-postgres", min: 30 },
  { scenario: "list, a different page each", server: "mc-postgres", min: 10 },
  { scenario: "create", server: "mc-pglite", min: 10 },
  { scenario: "status change", server: "mc-pglite", min: 10 },
  { scenario: "list, a different page each", server: "mc-pglite", min: 5 },
];

function judge(summary: Summary) {
  return TARGETS.flatMap((t) => {
    const row = summary.find((s) => s.scenario === t.scenario);
    const mc = row?.servers[t.server];
    const pc = row?.servers.paperclip;
    if (!mc || !pc) return [];
    const ratio = mc.rps / pc.rps;
    // No 2xx answer from Paperclip in the measured seconds (too short a run) judges nothing.
    if (!Number.isFinite(ratio)) return [{ ...t, ratio: NaN, met: false }];
    return [{ ...t, ratio, met: mc.non2xx === 0 && mc.errors === 0 && ratio >= t.min }];
  });
}

function markdown(res: any): string {
  const f = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : "—");
  const servers = Object.keys(res.versions) as ServerName[];
  const out: string[] = [];
  out.push(
    `Mission Control ${res.missionControlCommit} against Paperclip ${res.versions.paperclip ?? "—"}, ${res.date}: ` +
      `${res.machine.cores} × ${res.machine.cpu}, Node ${res.machine.node}; load average at start ` +
      `[${res.machine.loadAverageAtStart.join(", ")}], at end [${res.machine.loadAverageAtEnd.join(", ")}]. ` +
      `${res.settings.rounds} rounds, ${res.settings.warmupS} s warm-up + ${res.settings.durationS} s each; medians ` +
      `(req/s of 2xx answers; the rounds' req/s in brackets). PostgreSQL databases ` +
      `${res.settings.analyze === false ? "left without planner statistics" : res.settings.analyze ? "ANALYZEd after seeding" : "not ANALYZEd (autovacuum off)"}.`,
    "",
  );
  out.push(
    `| operation | conns | ${servers.join(" | ")} | ${servers
      .filter((s) => s !== "paperclip")
      .map((s) => `${s}/paperclip`)
      .join(" | ")} |`,
  );
  out.push(
    `| --- | ---: | ${servers.map(() => "---").join(" | ")} | ${servers
      .filter((s) => s !== "paperclip")
      .map(() => "---:")
      .join(" | ")} |`,
  );
  for (const row of res.summary as Summary) {
    const cell = (s: ServerName) => {
      const x = row.servers[s];
      if (!x) return "—";
      const bad = x.non2xx + x.errors;
      return (
        `${f(x.rps)} req/s, p50 ${f(x.p50, 1)}, p99 ${f(x.p99, 1)} ms, ${f(x.bytes / 1024, 1)} KB [${x.rounds.join(", ")}]` +
        (bad ? `; **${x.non2xx} non-2xx, ${x.errors} errors**` : "")
      );
    };
    const pc = row.servers.paperclip;
    const ratios = servers
      .filter((s) => s !== "paperclip")
      .map((s) => (pc && row.servers[s] ? `${f(row.servers[s].rps / pc.rps, 1)}×` : "—"));
    out.push(`| ${row.scenario} | ${row.connections} | ${servers.map(cell).join(" | ")} | ${ratios.join(" | ")} |`);
  }
  if (res.targets.length) {
    out.push("", "| target (issue 22) | ratio | result |", "| --- | ---: | --- |");
    for (const t of res.targets)
      out.push(
        `| ${t.server} ${t.scenario} ≥ ${t.min}× Paperclip | ${f(t.ratio, 1)}× | ${t.met ? "met" : "**missed**"} |`,
      );
  }
  return out.join("\n");
}

main().catch(async (err) => {
  log(`bench:peer failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  await cleanup();
  process.exit(1);
});
