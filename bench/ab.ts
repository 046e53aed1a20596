// `npm run bench:ab` (issue 22): this checkout against another commit, on one scratch PostgreSQL database, the
// load alternated between the two servers pair by pair (the order reversed every pair), so that a change too
// small for this machine's run-to-run noise can still be seen pair by pair. AB_BASE (a commit, default HEAD)
// is checked out into a temporary git worktree (node_modules linked from here) and built with this checkout.
// Both servers get the same seeding and the same mixed warm-up traffic before anything is measured: the one
// that seeded the data and served a mix of routes otherwise ran ~9 % slower than the other (measured with
// both running the same build). Per pair: req/s, and CPU per request of the server and of the whole machine
// from /proc. AB_PIN=1 pins the servers to CPU 1 and the load generator to CPU 0 (server-bound throughput).
// Settings: AB_PATHS (heartbeat,get,list,status,create), AB_PAIRS (4), AB_DURATION_S (8), AB_WARMUP_S (2),
// AB_ENV / AB_ENV_BASE / AB_ENV_HEAD (JSON: settings for both / the base / this checkout), AB_NODE_ARGS.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createScratchDatabase } from "../test/fixtures/scratch-database.js";
import { load, type RequestSpec } from "./load.js";
import { call, cpuMs, root, startProcess, type Proc } from "./procs.js";

const ADMIN = "mc_admin_probe_0123456789abcdef";
const H = { authorization: `Bearer ${ADMIN}` };
const baseRef = process.env.AB_BASE ?? "HEAD";
const paths = (process.env.AB_PATHS ?? "heartbeat").split(",");
const pairs = Number(process.env.AB_PAIRS ?? 4);
const durationS = Number(process.env.AB_DURATION_S ?? 8);
const warmupS = Number(process.env.AB_WARMUP_S ?? 2);
const extraEnv = JSON.parse(process.env.AB_ENV ?? "{}") as Record<string, string>;
const extraEnvHead = JSON.parse(process.env.AB_ENV_HEAD ?? "{}") as Record<string, string>;
const extraEnvBase = JSON.parse(process.env.AB_ENV_BASE ?? "{}") as Record<string, string>;

const work = fs.mkdtempSync(path.join(os.tmpdir(), "mc-ab-"));
const baseDir = path.join(work, "base");
const build = (dir: string) =>
  execFileSync(process.execPath, ["scripts/build-if-stale.mjs", "--server-only", "--quiet"], {
    cwd: dir,
    stdio: "inherit",
  });
const nodeArgs = (process.env.AB_NODE_ARGS ?? "").split(/\s+/).filter(Boolean);
const servers: Array<[string, Proc]> = [];
const pin = process.env.AB_PIN === "1";
if (pin) execFileSync("taskset", ["-apc", "0", String(process.pid)]);
let db: { url: string; drop(): Promise<void> } | null = null;
// Ctrl-C: the servers, the scratch database and the worktree go too.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void cleanUp().finally(() => process.exit(130)));
}
try {
  execFileSync("git", ["worktree", "add", "--detach", baseDir, baseRef], { cwd: root, stdio: "ignore" });
  fs.symlinkSync(path.join(root, "node_modules"), path.join(baseDir, "node_modules"));
  build(baseDir);
  build(root);
  db = await createScratchDatabase(
    process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
    "mc_ab",
  );
  const start = (dir: string, env: Record<string, string>) =>
    startProcess({
      cwd: dir,
      argv: [...nodeArgs, "dist/main.js", "serve"],
      env: {
        DATABASE_URL: db!.url,
        MC_DATA_DIR: path.join(work, "unused"),
        MC_ADMIN_TOKEN: ADMIN,
        LOG_LEVEL: "warn",
        MC_RATE_LIMIT: "100000000",
        MC_MAX_EVENT_LOOP_DELAY_MS: "0",
        ...extraEnv,
        ...env,
      },
      readyPath: "/readyz",
    });
  servers.push([`base ${baseRef}`, await start(baseDir, extraEnvBase)]);
  servers.push(["this checkout", await start(root, extraEnvHead)]);
  if (pin) for (const [, s] of servers) execFileSync("taskset", ["-apc", "1", String(s.pid)]);
  const url = servers[0]![1].url;
  await call(url, "POST", "/api/missions", H, { mission_id: "ab", goal: "ab" });
  const keys: string[] = [];
  for (let i = 0; i < 1300; i += 10) {
    const made = await Promise.all(
      Array.from({ length: 10 }, (_, k) =>
        call(url, "POST", "/api/missions/ab/tasks", H, { objective: `task ${i + k}` }),
      ),
    );
    for (const m of made) keys.push(m.data.task_id);
  }
  const cursors: Array<string | null> = [null];
  for (let c: string | null = null; ;) {
    const r = await call(url, "GET", `/api/missions/ab/tasks?limit=50${c ? `&cursor=${c}` : ""}`, H);
    c = r.meta.next_cursor;
    if (!c) break;
    cursors.push(c);
  }
  const beaters: Array<{ key: string; token: string }> = [];
  for (let i = 0; i < 20; i++) {
    const key = `ab-agent-${i}`;
    await call(url, "POST", "/api/agents", H, { agent_id: key });
    const t = await call(url, "POST", "/api/tokens", H, { role: "agent", agent_id: key });
    beaters.push({ key, token: String(t.data.token) });
  }
  let n = 0;
  const status = new Map<string, string>();
  const gen: Record<string, () => RequestSpec> = {
    heartbeat: () => {
      const a = beaters[n++ % beaters.length]!;
      return {
        method: "POST",
        path: `/api/agents/${a.key}/activity`,
        headers: { authorization: `Bearer ${a.token}` },
        body: { event: "heartbeat" },
      };
    },
    get: () => ({ method: "GET", path: `/api/tasks/${keys[n++ % keys.length]}`, headers: H }),
    list: () => {
      const c = cursors[n++ % cursors.length];
      return { method: "GET", path: `/api/missions/ab/tasks?limit=50${c ? `&cursor=${c}` : ""}`, headers: H };
    },
    status: () => {
      const k = keys[n++ % 500]!;
      const s = status.get(k) === "blocked" ? "pending" : "blocked";
      status.set(k, s);
      return { method: "PATCH", path: `/api/tasks/${k}`, headers: H, body: { status: s } };
    },
    create: () => ({ method: "POST", path: "/api/missions/ab/tasks", headers: H, body: { objective: `c ${n++}` } }),
  };
  // The same mixed traffic through both before anything is measured: the first server also seeded the data,
  // and a server that has served a mix of routes runs each one slower than one that has served only the
  // measured route (the probe favoured the second server by ~9 % before this).
  for (const [, proc] of servers) {
    for (const g of Object.keys(gen)) {
      if (g === "status") continue;
      await load({ url: proc.url, connections: 50, durationS: 1, warmupS: 0, next: gen[g]! });
    }
  }
  const rows: Record<string, Record<string, Array<{ rps: number; cpu: number; mcpu: number }>>> = {};
  for (const p of paths) {
    for (let i = 0; i < pairs; i++) {
      const order = i % 2 ? [...servers].reverse() : servers;
      for (const [name, proc] of order) {
        if (p === "status") {
          // Read back the statuses: a real change each time.
          for (const k of keys.slice(0, 500))
            status.set(k, (await call(proc.url, "GET", `/api/tasks/${k}`, H)).data.status);
        }
        let c0 = cpuMs(proc.pid);
        const r = await load({
          url: proc.url,
          connections: 50,
          durationS,
          warmupS,
          between: async () => {
            c0 = cpuMs(proc.pid);
          },
          next: gen[p]!,
        });
        const c1 = cpuMs(proc.pid);
        const row = {
          rps: r.rps,
          cpu: (c1.process - c0.process) / r.requests,
          mcpu: (c1.machine - c0.machine) / r.requests,
        };
        ((rows[p] ??= {})[name] ??= []).push(row);
        console.log(
          `${p} pair ${i + 1} ${name}: ${r.rps.toFixed(0)} req/s, server ${row.cpu.toFixed(3)} ms/req, machine ${row.mcpu.toFixed(3)}${r.non2xx ? ` non2xx ${r.non2xx} ${JSON.stringify(r.statusCodes)}` : ""}`,
        );
      }
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  for (const [p, by] of Object.entries(rows)) {
    for (const [name, rs] of Object.entries(by)) {
      console.log(
        `== ${p} ${name}: median ${med(rs.map((r) => r.rps)).toFixed(0)} req/s, server ${med(rs.map((r) => r.cpu)).toFixed(3)} ms/req, machine ${med(rs.map((r) => r.mcpu)).toFixed(3)}`,
      );
    }
    // Pair by pair: how often this checkout did better, the way to read a change smaller than the noise.
    const [base, head] = servers.map(([name]) => by[name]!);
    const faster = head!.filter((h, i) => h.mcpu < base![i]!.mcpu).length;
    console.log(`== ${p}: this checkout used less machine CPU a request in ${faster} of ${head!.length} pairs`);
  }
} finally {
  await cleanUp();
}

/** Each step on its own: one that fails does not leave the others undone. */
async function cleanUp() {
  const steps: Array<() => unknown> = [
    ...servers.map(
      ([, s]) =>
        () =>
          s.stop(),
    ),
    () => db?.drop(),
    () => {
      if (fs.existsSync(baseDir))
        execFileSync("git", ["worktree", "remove", "--force", baseDir], { cwd: root, stdio: "ignore" });
    },
    () => execFileSync("git", ["worktree", "prune"], { cwd: root, stdio: "ignore" }),
    () => fs.rmSync(work, { recursive: true, force: true }),
  ];
  for (const step of steps) {
    try {
      await step();
    } catch (err) {
      console.error(`clean-up: ${(err as Error).message}`);
    }
  }
}
