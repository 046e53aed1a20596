// `npm run bench`: for each backend (embedded PGlite, and PostgreSQL when BENCH_DATABASE_URL is set) seed a
// fresh database, measure the two ceilings (bare Fastify hello-world; bare Fastify doing one INSERT per
// request on the same database), start the real server as a separate process, run every scenario after a
// warm-up, print the table and write bench/results/<date>-<backend>.json. Settings: bench/config.ts.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { createScratchDatabase } from "../test/fixtures/scratch-database.js";
import { openDatabase } from "../src/db/client.js";
import { runMigrations } from "../src/db/migrate.js";
import { loadBenchConfig, type Backend, type BenchConfig } from "./config.js";
import { measureDispatch, type DispatchResult } from "./dispatch.js";
import { load, sequential, type LoadResult, type RequestSpec } from "./load.js";
import { resultsFile, root, sampleRss, startProcess, type Proc } from "./procs.js";
import { seed, type Seeded } from "./seed.js";

const log = (m: string) => process.stderr.write(`${m}\n`);

export interface Row {
  name: string;
  kind: "load" | "latency" | "dispatch";
  connections: number;
  rps: number | null;
  p50: number | null;
  p99: number | null;
  peakRssMb: number | null;
  errors: number;
  non2xx: number;
  ceiling: "hello" | "insert" | null;
  ratio: number | null;
  target: string | null;
  met: boolean | null;
  extra?: Record<string, unknown>;
}

interface BackendResults {
  backend: Backend;
  date: string;
  finishedAt: string;
  machine: Record<string, unknown>;
  settings: Omit<BenchConfig, "databaseUrl"> & { databaseUrl: string | null };
  seedSeconds: number;
  ceilings: { hello: LoadResult & { peakRssMb: number }; insert: LoadResult & { peakRssMb: number } };
  rows: Row[];
  server: {
    rssAtEndMb: number;
    rssAfterRunMb: number;
    settleS: number;
    peakRssMb: number | null;
    pgliteThread: string;
  };
  totalSeconds: number;
}

const cleanups: Array<() => Promise<void>> = [];
async function cleanup() {
  while (cleanups.length > 0) await cleanups.pop()!().catch((err) => log(`cleanup: ${String(err)}`));
}
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    log(`\n${sig}: stopping processes and dropping the benchmark database…`);
    void cleanup().finally(() => process.exit(130));
  });
}

function machine(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? "unknown",
    cores: cpus.length,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    loadAverageAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

function serverArgv(cfg: BenchConfig): string[] {
  // BENCH_SERVER_NODE_ARGS: extra node flags for the server alone, e.g. "--cpu-prof --cpu-prof-dir=bench/results/tmp".
  const extra = (process.env.BENCH_SERVER_NODE_ARGS ?? "").split(/\s+/).filter(Boolean);
  return [
    ...extra,
    ...(cfg.server === "dist" ? ["dist/main.js", "serve"] : ["--import", "tsx", "src/main.ts", "serve"]),
  ];
}

function makeApi(url: string, token: string) {
  return async (method: string, p: string, body?: unknown) => {
    // On a loaded machine the server's load shedding (503) can answer a set-up request: wait and ask again.
    let r: Response;
    for (let attempt = 0; ; attempt++) {
      r = await fetch(url + p, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (r.status !== 503 || attempt >= 20) break;
      await r.arrayBuffer();
      await new Promise((res) => setTimeout(res, 500));
    }
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null };
  };
}

/**
 * Waits until the server has worked off what the last scenario left queued (the load generator stops sending,
 * but requests already received still run): /readyz reads the database, so it answers after the backlog.
 */
async function drain(url: string) {
  const deadline = Date.now() + 300_000;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(`${url}/readyz`);
      await r.arrayBuffer();
      if (r.status === 200) return;
    } catch {
      // busy: try again
    }
    await new Promise((res) => setTimeout(res, 200));
  }
}

function rr<T>(items: T[]): () => T {
  let i = 0;
  return () => items[i++ % items.length]!;
}

/** The requests of each load scenario, over the seeded data. */
function requestMakers(s: Seeded, cursors: string[], member: string) {
  const auth = (token: string) => ({ authorization: `Bearer ${token}` });
  const hb = rr(s.heartbeatAgents);
  const act = rr(s.heartbeatAgents);
  const rep = rr(s.reportTasks);
  const mis = rr(s.reportMissions);
  const task = rr(s.listTaskKeys);
  const cur = rr([null, ...cursors]);
  const words = s.vocabulary.slice(20, 180);
  let n = 0;
  const typo = (w: string) => (w.length > 5 ? w.slice(0, 2) + w[3] + w[2] + w.slice(4) : w);
  return {
    heartbeat: (): RequestSpec => {
      const a = hb();
      return {
        method: "POST",
        path: `/api/agents/${a.key}/activity`,
        headers: auth(a.token),
        body: { event: "heartbeat" },
      };
    },
    activity: (): RequestSpec => {
      const a = act();
      const body =
        ++n % 2 ? { event: "task_start", context: { task_id: `bench-l-${n % 1000}` } } : { event: "task_complete" };
      return { method: "POST", path: `/api/agents/${a.key}/activity`, headers: auth(a.token), body };
    },
    report: (): RequestSpec => {
      const r = rep();
      const i = ++n;
      return {
        method: "POST",
        path: `/api/tasks/${r.task}/report`,
        headers: auth(r.token),
        body: {
          status: "in_progress",
          outputs: { progress: i % 100, step: `step-${i}` },
          logs: [{ message: `working on step ${i}`, level: "info" }, { message: `tests passed for step ${i}` }],
        },
      };
    },
    create: (): RequestSpec => ({
      method: "POST",
      path: `/api/missions/${mis()}/tasks`,
      headers: auth(member),
      body: { objective: `Benchmark task ${++n}`, priority: n % 4 },
    }),
    get: (): RequestSpec => ({ method: "GET", path: `/api/tasks/${task()}`, headers: auth(member) }),
    list: (): RequestSpec => {
      const c = cur();
      return {
        method: "GET",
        path: `/api/missions/${s.listMission}/tasks?limit=50${c ? `&cursor=${c}` : ""}`,
        headers: auth(member),
      };
    },
    matrix: (): RequestSpec => ({ method: "GET", path: "/api/traceability", headers: auth(member) }),
    search: (): RequestSpec => {
      const i = ++n;
      const pick = (k: number) => words[(i * 7919 + k * 104729) % words.length]!;
      const q =
        i % 3 === 0 ? `${pick(1)} ${typo(pick(2))}` : i % 3 === 1 ? `${pick(1)} ${pick(2)} ${pick(3)}` : pick(1);
      return { method: "POST", path: "/api/knowledge/search", headers: auth(member), body: { query: q, limit: 5 } };
    },
  };
}

function row(
  name: string,
  kind: Row["kind"],
  connections: number,
  r: LoadResult | null,
  peakRssMb: number | null,
): Row {
  return {
    name,
    kind,
    connections,
    rps: r?.rps ?? null,
    p50: r?.p50 ?? null,
    p99: r?.p99 ?? null,
    peakRssMb,
    errors: r?.errors ?? 0,
    non2xx: r?.non2xx ?? 0,
    ceiling: null,
    ratio: null,
    target: null,
    met: null,
    extra: r ? { requests: r.requests, statusCodes: r.statusCodes, meanMs: r.mean } : undefined,
  };
}

/** Applies the issue's targets (PostgreSQL unless said) to the rows, in place. */
function judge(backend: Backend, rows: Row[], hello: number, insert: number) {
  const ratio = (r: Row, c: "hello" | "insert") => {
    r.ceiling = c;
    r.ratio = r.rps === null ? null : r.rps / (c === "hello" ? hello : insert);
  };
  const clean = (r: Row) => r.errors === 0 && r.non2xx === 0;
  for (const r of rows) {
    const base = r.name.replace(/ \[.*\]$/, "");
    if (r.name.endsWith("[main thread]")) {
      if (
        ["heartbeat", "list tasks", "get task"].includes(base) ||
        base.startsWith("mixed: heartbeat") ||
        base.startsWith("mixed: list")
      )
        ratio(r, "hello");
      if (base === "task report" || base.startsWith("mixed: report")) ratio(r, "insert");
      continue;
    }
    switch (base) {
      case "heartbeat":
        ratio(r, "hello");
        r.target = "≥ 40% hello, p99 ≤ 20 ms";
        r.met = clean(r) && r.ratio! >= 0.4 && r.p99! <= 20;
        break;
      case "task report":
        ratio(r, "insert");
        if (backend === "postgres") {
          r.target = "≥ 50% insert, p99 ≤ 30 ms";
          r.met = clean(r) && r.ratio! >= 0.5 && r.p99! <= 30;
        } else {
          r.target = "≥ 50% insert";
          r.met = clean(r) && r.ratio! >= 0.5;
        }
        break;
      case "get task":
      case "list tasks":
        ratio(r, "hello");
        if (backend === "postgres") {
          r.target = "≥ 25% hello";
          r.met = clean(r) && r.ratio! >= 0.25;
        }
        break;
      case "activity":
      case "task create":
        ratio(r, "insert");
        break;
      case "traceability matrix":
        if (backend === "postgres") {
          r.target = "median < 1000 ms";
          r.met = clean(r) && r.p50! < 1000;
        }
        break;
      case "knowledge search":
        if (backend === "postgres") {
          r.target = "median < 50 ms";
          r.met = clean(r) && r.p50! < 50;
        }
        break;
      case "dispatch latency":
        if (backend === "postgres") {
          r.target = "median < bare spawn + 100 ms";
          const o = (r.extra as { overheadP50?: number } | undefined)?.overheadP50;
          r.met = r.errors === 0 && o !== undefined && o < 100;
        }
        break;
      default:
        if (base.startsWith("mixed: heartbeat") || base.startsWith("mixed: list")) ratio(r, "hello");
        if (base.startsWith("mixed: report")) ratio(r, "insert");
    }
  }
}

const f = (v: number | null | undefined, d = 1) =>
  v === null || v === undefined || Number.isNaN(v) ? "—" : v.toFixed(d);

export function table(res: BackendResults): string {
  const lines: string[] = [];
  const h = res.ceilings.hello;
  const i = res.ceilings.insert;
  lines.push(
    `Backend: ${res.backend}   (${res.date}, ${res.machine.cores} cores ${res.machine.cpu}, load average at start ${JSON.stringify(res.machine.loadAverageAtStart)})`,
  );
  lines.push(
    `Ceilings: hello-world ${f(h.rps, 0)} req/s (p50 ${f(h.p50, 2)} ms, p99 ${f(h.p99, 2)} ms); ` +
      `one INSERT ${f(i.rps, 0)} req/s (p50 ${f(i.p50, 2)} ms, p99 ${f(i.p99, 2)} ms)`,
  );
  const head = ["scenario", "conns", "req/s", "p50 ms", "p99 ms", "peak RSS MB", "ratio", "target", "result"];
  const body = res.rows.map((r) => [
    r.name,
    String(r.connections),
    f(r.rps, 0),
    r.kind === "dispatch" ? `${f(r.p50, 1)}` : f(r.p50, 2),
    f(r.p99, 2),
    f(r.peakRssMb, 0),
    r.ratio === null ? "—" : `${(r.ratio * 100).toFixed(1)}% ${r.ceiling}`,
    r.target ?? "—",
    r.met === null ? "—" : r.met ? "met" : "MISSED",
  ]);
  const widths = head.map((_, c) => Math.max(head[c]!.length, ...body.map((b) => b[c]!.length)));
  const fmt = (cells: string[]) =>
    cells.map((c, k) => (k === 0 || k >= 7 ? c.padEnd(widths[k]!) : c.padStart(widths[k]!))).join("  ");
  lines.push(fmt(head));
  lines.push(widths.map((w) => "-".repeat(w)).join("  "));
  for (const b of body) lines.push(fmt(b));
  const d = res.rows.find((r) => r.kind === "dispatch")?.extra as Partial<DispatchResult> | undefined;
  if (d)
    lines.push(
      `Dispatch: median ${f(d.dispatchP50)} ms vs bare spawn ${f(d.bareP50)} ms → ${f(d.overheadP50)} ms above (p99 ${f(d.dispatchP99)} / ${f(d.bareP99)} ms, ${d.samples} samples)`,
    );
  const rssTarget =
    res.backend === "postgres" ? ` (target < 250 MB: ${res.server.rssAfterRunMb < 250 ? "met" : "MISSED"})` : "";
  lines.push(
    `Server RSS after the run: ${f(res.server.rssAtEndMb, 0)} MB at once, ${f(res.server.rssAfterRunMb, 0)} MB after ${res.server.settleS} s idle${rssTarget}; ` +
      `peak ${f(res.server.peakRssMb, 0)} MB. PGlite thread: ${res.server.pgliteThread}.`,
  );
  for (const r of res.rows) {
    if (r.errors || r.non2xx)
      lines.push(`! ${r.name}: ${r.errors} errors, ${r.non2xx} non-2xx ${JSON.stringify(r.extra?.statusCodes ?? {})}`);
  }
  return lines.join("\n");
}

/** The same results as a Markdown table, for bench/README.md. */
export function markdown(res: BackendResults): string {
  const h = res.ceilings.hello;
  const i = res.ceilings.insert;
  const m = res.machine;
  const out: string[] = [];
  out.push(`### ${res.backend} (${res.date})`);
  out.push("");
  out.push(
    `${m.cores} × ${m.cpu}, ${m.memoryGb} GB, ${m.os}, Node ${m.node}` +
      `${m.postgres ? `, PostgreSQL ${m.postgres}` : ""}${m.pglite ? `, PGlite ${m.pglite}` : ""}; ` +
      `load average at start ${JSON.stringify(m.loadAverageAtStart)}, at end ${JSON.stringify(m.loadAverageAtEnd)}. ` +
      `${res.settings.connections} connections, ${res.settings.warmupS} s warm-up + ${res.settings.durationS} s per scenario.`,
  );
  out.push("");
  out.push(
    `Ceilings: hello-world **${f(h.rps, 0)} req/s** (p50 ${f(h.p50, 2)} ms, p99 ${f(h.p99, 2)} ms); ` +
      `one INSERT **${f(i.rps, 0)} req/s** (p50 ${f(i.p50, 2)} ms, p99 ${f(i.p99, 2)} ms).`,
  );
  out.push("");
  out.push("| scenario | conns | req/s | p50 ms | p99 ms | peak RSS MB | ratio | target | result |");
  out.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |");
  for (const r of res.rows) {
    out.push(
      `| ${r.name} | ${r.connections} | ${f(r.rps, 0)} | ${f(r.p50, 2)} | ${f(r.p99, 2)} | ${f(r.peakRssMb, 0)} | ` +
        `${r.ratio === null ? "—" : `${(r.ratio * 100).toFixed(1)}% ${r.ceiling}`} | ${r.target ?? "—"} | ` +
        `${r.met === null ? "—" : r.met ? "met" : "**missed**"} |`,
    );
  }
  const d = res.rows.find((r) => r.kind === "dispatch")?.extra as Partial<DispatchResult> | undefined;
  out.push("");
  if (d)
    out.push(
      `Dispatch: median ${f(d.dispatchP50)} ms against a bare spawn's ${f(d.bareP50)} ms: **${f(d.overheadP50)} ms** above.`,
    );
  out.push(
    `Server RSS after the run: ${f(res.server.rssAtEndMb, 0)} MB at once, **${f(res.server.rssAfterRunMb, 0)} MB** after ` +
      `${res.server.settleS} s idle; peak ${f(res.server.peakRssMb, 0)} MB.`,
  );
  return out.join("\n");
}

async function runBackend(cfg: BenchConfig, backend: Backend): Promise<BackendResults> {
  const started = Date.now();
  const m = machine();
  const work = path.join(root, "bench/results/tmp", `${new Date().toISOString().replace(/[:.]/g, "-")}-${backend}`);
  fs.mkdirSync(work, { recursive: true });
  if (!cfg.keepData) cleanups.push(async () => fs.rmSync(work, { recursive: true, force: true }));

  let databaseUrl: string | null = null;
  if (backend === "postgres") {
    const created = await createScratchDatabase(cfg.databaseUrl!, "mc_bench");
    databaseUrl = created.url;
    if (!cfg.keepData) cleanups.push(() => created.drop());
    const c = new pg.Client({ connectionString: databaseUrl });
    await c.connect();
    m.postgres = (await c.query("SHOW server_version")).rows[0].server_version;
    await c.end();
  } else {
    m.pglite = JSON.parse(
      fs.readFileSync(path.join(root, "node_modules/@electric-sql/pglite/package.json"), "utf8"),
    ).version;
  }
  const dataDir = path.join(work, "data");

  log(`\n== ${backend}: seeding`);
  const t0 = Date.now();
  const database = await openDatabase({ databaseUrl, dataDir });
  await runMigrations(database);
  const seeded = await seed((sql, params) => database.query(sql, params), cfg, log);
  await database.close();
  const seedSeconds = (Date.now() - t0) / 1000;
  log(`  seeded in ${seedSeconds.toFixed(1)} s`);

  const dbEnv: Record<string, string> = databaseUrl ? { DATABASE_URL: databaseUrl } : {};
  const ceiling = async (name: "hello" | "insert") => {
    const env: Record<string, string> =
      name === "hello"
        ? {}
        : databaseUrl
          ? { DATABASE_URL: databaseUrl }
          : { PGLITE_DIR: path.join(work, "ceiling-pglite") };
    const p = await startProcess({ argv: ["--import", "tsx", `bench/ceilings/${name}.ts`], env, readyPath: "/" });
    try {
      const stopRss = sampleRss(p.pid);
      let k = 0;
      const r = await load({
        url: p.url,
        connections: cfg.connections,
        durationS: cfg.durationS,
        warmupS: cfg.warmupS,
        next: () =>
          name === "hello"
            ? { method: "GET", path: "/" }
            : { method: "POST", path: "/", body: { agent: `a-${++k % 500}`, n: k } },
      });
      const peak = stopRss();
      log(
        `  ceiling ${name}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms${r.non2xx || r.errors ? ` (${r.errors} errors, ${r.non2xx} non-2xx)` : ""}`,
      );
      return { ...r, peakRssMb: peak };
    } finally {
      await p.stop();
    }
  };
  log(`== ${backend}: ceilings`);
  const hello = await ceiling("hello");
  const insert = await ceiling("insert");

  const adminToken = `bench-admin-${randomBytes(12).toString("hex")}`;
  if (cfg.keepData) {
    // Everything needed to start the server on this data again and send the same requests by hand.
    fs.writeFileSync(
      path.join(work, "seeded.json"),
      JSON.stringify({ adminToken, databaseUrl, dataDir, ...seeded }, null, 2),
    );
  }
  const rows: Row[] = [];
  const want = (name: string) => cfg.only === null || cfg.only.some((o) => name.startsWith(o));
  let pgliteThread = "n/a";
  let rssAfterRunMb = 0;
  let rssAtEndMb = 0;
  let peakRssMb: number | null = null;

  const runServer = async (extraEnv: Record<string, string>, mainThread: boolean) => {
    const server: Proc = await startProcess({
      argv: serverArgv(cfg),
      env: {
        ...dbEnv,
        MC_DATA_DIR: dataDir,
        MC_ADMIN_TOKEN: adminToken,
        LOG_LEVEL: cfg.logLevel,
        // The per-token rate limit stays on (its bookkeeping is part of every request) but so high that the
        // load generator, which sends far more per token than any client, never reaches it.
        MC_RATE_LIMIT: "1000000000",
        ...extraEnv,
      },
      readyPath: "/readyz",
    });
    const stopper = () => server.stop();
    cleanups.push(stopper);
    const api = makeApi(server.url, adminToken);
    const suffix = mainThread ? " [main thread]" : "";
    try {
      // Cursors into the listed mission: the list scenario reads pages all through it, not only the first.
      const cursors: string[] = [];
      let cursor: string | null = null;
      for (let page = 0; ; page++) {
        const r: { status: number; body: any } = await api(
          "GET",
          `/api/missions/${seeded.listMission}/tasks?limit=50${cursor ? `&cursor=${cursor}` : ""}`,
        );
        if (r.status !== 200) throw new Error(`listing tasks: ${r.status} ${JSON.stringify(r.body)}`);
        cursor = r.body.meta.next_cursor;
        if (!cursor) break;
        if (page % 10 === 9) cursors.push(cursor);
      }
      const mk = requestMakers(seeded, cursors, seeded.memberToken);
      // A fresh process compiles and optimizes its code paths on first use: each route gets a little traffic
      // before anything is measured (besides each scenario's own warm-up).
      if (cfg.serverWarmupS > 0) {
        log(`  server warm-up: ${cfg.serverWarmupS} s across the routes`);
        const routes = [mk.activity, mk.heartbeat, mk.get, mk.list, mk.report, mk.search];
        const each = Math.max(1, Math.round(cfg.serverWarmupS / routes.length));
        for (const next of routes) await load({ url: server.url, connections: 10, durationS: each, warmupS: 0, next });
        await drain(server.url);
      }

      const loadRow = async (name: string, next: () => RequestSpec, ceilingConns = cfg.connections) => {
        if (!want(name)) return;
        log(`  ${name}${suffix}: ${ceilingConns} connections, ${cfg.warmupS} s warm-up + ${cfg.durationS} s`);
        const stopRss = sampleRss(server.pid);
        const r = await load({
          url: server.url,
          connections: ceilingConns,
          durationS: cfg.durationS,
          warmupS: cfg.warmupS,
          between: () => drain(server.url),
          next,
        });
        rows.push(row(name + suffix, "load", ceilingConns, r, stopRss()));
        await drain(server.url);
        log(
          `    ${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms${r.non2xx || r.errors ? `, ${r.errors} errors, ${r.non2xx} non-2xx ${JSON.stringify(r.statusCodes)}` : ""}`,
        );
      };
      const latencyRow = async (name: string, next: () => RequestSpec) => {
        if (!want(name)) return;
        log(`  ${name}${suffix}: 1 client, sequential, ${cfg.durationS} s`);
        const stopRss = sampleRss(server.pid);
        const r = await sequential({ url: server.url, durationS: cfg.durationS, warmupCount: 2, minSamples: 5, next });
        const out = row(name + suffix, "latency", 1, r, stopRss());
        await drain(server.url);
        out.extra = { ...out.extra, samples: r.samples.length };
        rows.push(out);
        log(
          `    median ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms over ${r.samples.length} requests${r.non2xx || r.errors ? `, ${r.errors} errors, ${r.non2xx} non-2xx` : ""}`,
        );
      };
      const mixed = async () => {
        if (!want("mixed")) return;
        const c = cfg.connections;
        const split = {
          report: Math.max(1, Math.round(c * 0.6)),
          heartbeat: Math.max(1, Math.round(c * 0.2)),
          list: Math.max(1, Math.round(c * 0.2)),
        };
        log(
          `  mixed${suffix}: reports ${split.report} + heartbeats ${split.heartbeat} + lists ${split.list} connections at once`,
        );
        const stopRss = sampleRss(server.pid);
        const go = (conns: number, next: () => RequestSpec) =>
          load({ url: server.url, connections: conns, durationS: cfg.durationS, warmupS: cfg.warmupS, next });
        const [rep, hb, li] = await Promise.all([
          go(split.report, mk.report),
          go(split.heartbeat, mk.heartbeat),
          go(split.list, mk.list),
        ]);
        const peak = stopRss();
        await drain(server.url);
        rows.push(row(`mixed: report${suffix}`, "load", split.report, rep, peak));
        rows.push(row(`mixed: heartbeat${suffix}`, "load", split.heartbeat, hb, peak));
        rows.push(row(`mixed: list tasks${suffix}`, "load", split.list, li, peak));
        for (const [n, r] of [
          ["report", rep],
          ["heartbeat", hb],
          ["list", li],
        ] as const) {
          log(
            `    ${n}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms${r.non2xx || r.errors ? `, ${r.errors} errors, ${r.non2xx} non-2xx` : ""}`,
          );
        }
      };

      if (mainThread) {
        await loadRow("heartbeat", mk.heartbeat);
        await loadRow("list tasks", mk.list);
        await loadRow("task report", mk.report);
        await mixed();
        return;
      }
      await loadRow("heartbeat", mk.heartbeat);
      await loadRow("get task", mk.get);
      await loadRow("list tasks", mk.list);
      await latencyRow("traceability matrix", mk.matrix);
      await latencyRow("knowledge search", mk.search);
      await loadRow("knowledge search (load)", mk.search);
      await loadRow("task report", mk.report);
      // Agents are heartbeating steadily here, as in production; activity (which makes each agent's next
      // heartbeat a write again) comes after.
      await mixed();
      await loadRow("activity", mk.activity);
      await loadRow("task create", mk.create);
      if (want("dispatch latency")) {
        log(`  dispatch latency: ${cfg.dispatchSamples} samples`);
        const stopRss = sampleRss(server.pid);
        const d = await measureDispatch(api, cfg.dispatchSamples, log);
        const r = row("dispatch latency", "dispatch", 1, null, stopRss());
        r.p50 = d.dispatchP50;
        r.p99 = d.dispatchP99;
        r.errors = d.errors;
        r.extra = { ...d };
        rows.push(r);
        log(
          `    median ${d.dispatchP50.toFixed(1)} ms vs bare spawn ${d.bareP50.toFixed(1)} ms (${d.overheadP50.toFixed(1)} ms above)`,
        );
      }
      // The memory the server holds after the whole run: at once, and after it has been idle for a while
      // (V8 gives memory back to the system only once the process is idle).
      peakRssMb = server.peakRssMb();
      rssAtEndMb = server.rssMb();
      await new Promise((r) => setTimeout(r, cfg.settleS * 1000));
      rssAfterRunMb = server.rssMb();
      pgliteThread =
        backend === "pglite"
          ? extraEnv.MC_PGLITE_WORKER === "0"
            ? "request thread"
            : "worker thread (default)"
          : "n/a";
    } finally {
      cleanups.splice(cleanups.indexOf(stopper), 1);
      await server.stop();
    }
  };

  log(`== ${backend}: scenarios`);
  await runServer({}, false);
  if (backend === "pglite" && cfg.compareMainThread) {
    log(`== ${backend}: again with PGlite on the request thread (MC_PGLITE_WORKER=0)`);
    await runServer({ MC_PGLITE_WORKER: "0" }, true);
  }

  judge(backend, rows, hello.rps, insert.rps);
  const date = new Date().toISOString().slice(0, 10);
  return {
    backend,
    date,
    finishedAt: new Date().toISOString(),
    machine: { ...m, loadAverageAtEnd: os.loadavg().map((x) => Math.round(x * 100) / 100) },
    settings: { ...cfg, databaseUrl: cfg.databaseUrl ? cfg.databaseUrl.replace(/\/\/[^@/]*@/, "//…@") : null },
    seedSeconds,
    ceilings: { hello, insert },
    rows,
    server: { rssAtEndMb, rssAfterRunMb, settleS: cfg.settleS, peakRssMb, pgliteThread },
    totalSeconds: (Date.now() - started) / 1000,
  };
}

async function main() {
  const cfg = loadBenchConfig();
  if (cfg.backends.length === 0)
    throw new Error("no backend to run (BENCH_BACKENDS=postgres needs BENCH_DATABASE_URL)");
  if (!process.env.BENCH_DATABASE_URL) log("BENCH_DATABASE_URL is not set: PostgreSQL is skipped.");
  const t0 = Date.now();
  if (cfg.server === "dist") {
    log("== building (npm run build)");
    execFileSync("npm", ["run", "build"], { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
  }
  const outDir = path.join(root, "bench/results");
  fs.mkdirSync(outDir, { recursive: true });
  const tables: string[] = [];
  try {
    for (const backend of cfg.backends) {
      const res = await runBackend(cfg, backend);
      await cleanup();
      const file = resultsFile(outDir, `${res.date}-${backend}`);
      fs.writeFileSync(file, `${JSON.stringify(res, null, 2)}\n`);
      fs.writeFileSync(file.replace(/\.json$/, ".md"), `${markdown(res)}\n`);
      const t = table(res);
      tables.push(t);
      log(`\n${t}\nwritten to ${path.relative(root, file)}`);
    }
  } finally {
    await cleanup();
  }
  process.stdout.write(`\n${tables.join("\n\n")}\n\nTotal ${((Date.now() - t0) / 60_000).toFixed(1)} min.\n`);
}

main().catch(async (err: unknown) => {
  log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  await cleanup();
  process.exit(1);
});
