// The runtime across process deaths: kill -9 of the server mid-run and recovery on restart; several
// servers on one PostgreSQL database, with a dispatch crossing processes and a takeover after the owner dies.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, describe, expect, test } from "vitest";
import { migratedDataDir } from "../fixtures/data-dir-template.js";
import { startServer, type ServerProcess } from "../fixtures/server-process.js";
import { waitFor } from "../harness.js";

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/agents");
const ADMIN = "recovery-test-admin-token";
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mc-recovery-"));
const servers: ServerProcess[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop("SIGKILL");
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function start(env: Record<string, string>) {
  const s = await startServer({ MC_ADMIN_TOKEN: ADMIN, ...env });
  servers.push(s);
  return s;
}

/** The answer's status and parsed JSON body, which the assertions read as the API documents it. */
async function api(base: string, method: string, url: string, body?: unknown): Promise<{ status: number; body: any }> {
  const r = await fetch(`${base}${url}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: r.status, body: await r.json() };
}

function alive(pid: number) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const pidsIn = (file: string) =>
  fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim().split("\n").filter(Boolean).map(Number) : [];

async function seed(base: string, name: string, pidFile: string, tokenFile?: string) {
  expect((await api(base, "POST", "/api/missions", { mission_id: name, goal: "survive crashes" })).status).toBe(201);
  const agent = await api(base, "POST", "/api/agents", {
    agent_id: `${name}-agent`,
    adapter_module: "command",
    config: {
      command: [process.execPath, path.join(fixtures, "hang.mjs")],
      env: { PID_FILE: pidFile, ...(tokenFile ? { TOKEN_FILE: tokenFile } : {}) },
    },
  });
  expect(agent.status).toBe(201);
  expect((await api(base, "POST", `/api/missions/${name}/agents`, { agent_id: `${name}-agent` })).status).toBe(201);
  const task = await api(base, "POST", `/api/missions/${name}/tasks`, {
    task_id: `${name}-task`,
    objective: "run long",
    agent_id: `${name}-agent`,
  });
  expect(task.status).toBe(201);
  return `${name}-task`;
}

describe("kill -9 of the server", () => {
  test("on restart the tree comes back, the orphaned run is ended, the task is blocked as interrupted and dispatched again", async () => {
    const dataDir = await migratedDataDir(fs.mkdtempSync(path.join(tmp, "data-")));
    const pidFile = path.join(tmp, "kill9.pids");
    const tokenFile = path.join(tmp, "kill9.tokens");
    const s1 = await start({ MC_DATA_DIR: dataDir });
    const key = await seed(s1.url, "crashy", pidFile, tokenFile);
    expect((await api(s1.url, "POST", "/api/missions/crashy/start")).status).toBe(200);
    expect((await api(s1.url, "POST", `/api/tasks/${key}/execute`)).status).toBe(202);
    const [first] = await waitFor(() => (pidsIn(pidFile).length >= 1 ? pidsIn(pidFile) : null));
    await s1.stop("SIGKILL");
    expect(alive(first!)).toBe(true); // its own process group outlived the server

    const s2 = await start({ MC_DATA_DIR: dataDir });
    await waitFor(() => !alive(first!), 10_000, "the orphaned agent to be ended");
    await waitFor(() => pidsIn(pidFile).length >= 2, 10_000, "the task to run again");
    const task = await waitFor(async () => {
      const r = await api(s2.url, "GET", `/api/tasks/${key}`);
      return r.body.data.status === "in_progress" ? r.body.data : null;
    });
    expect(task.logs.map((l: any) => l.message)).toContain(
      "interrupted: the server running this task stopped; it will be dispatched again",
    );
    const moves = (await api(s2.url, "GET", `/api/trace?task_id=${key}&event=task.status_changed`)).body.data.map(
      (e: any) => `${e.data.from}>${e.data.to}`,
    );
    expect(moves).toEqual(["pending>in_progress", "in_progress>blocked", "blocked>in_progress"]);
    const recovered = (await api(s2.url, "GET", `/api/trace?task_id=${key}&event=dispatch.recovered`)).body.data;
    expect(recovered).toHaveLength(1);
    // The orphan's run token died with its run (revoked by the recovery); the new run has its own.
    const [orphanToken, newToken] = fs.readFileSync(tokenFile, "utf8").trim().split("\n");
    const asRun = (token: string) =>
      fetch(`${s2.url}/api/tasks/${key}`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
    expect(await asRun(orphanToken!)).toBe(401);
    expect(await asRun(newToken!)).toBe(200);
    // Only one run at a time: the second process is the only one alive.
    expect(pidsIn(pidFile).filter(alive)).toHaveLength(1);
    await api(s2.url, "PATCH", "/api/missions/crashy", { status: "cancelled" });
    await waitFor(() => pidsIn(pidFile).every((p) => !alive(p)), 10_000, "processes gone after cancel");
    expect(await s2.stop("SIGTERM")).toBe(0);
  }, 180_000);
});

describe.runIf(!!process.env.TEST_DATABASE_URL)("several servers on one PostgreSQL database", () => {
  test("a dispatch through one server reaches the owner; when the owner dies another takes the mission over", async () => {
    const base = process.env.TEST_DATABASE_URL!;
    const name = `mc_multi_${randomBytes(4).toString("hex")}`;
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const u = new URL(base);
    u.pathname = `/${name}`;
    const env = { DATABASE_URL: u.toString(), MC_LEASE_TTL_S: "2" };
    try {
      const [a, b] = await Promise.all([
        start({ ...env, MC_DATA_DIR: path.join(tmp, "a") }),
        start({ ...env, MC_DATA_DIR: path.join(tmp, "b") }),
      ]);
      const pidFile = path.join(tmp, "multi.pids");
      const key = await seed(a.url, "shared", pidFile);
      // Started through A: A holds the lease and runs the tree.
      expect((await api(a.url, "POST", "/api/missions/shared/start")).status).toBe(200);
      expect((await api(a.url, "GET", "/api/missions/shared")).body.data.runtime.running).toBe(true);
      expect((await api(b.url, "GET", "/api/missions/shared")).body.data.runtime.running).toBe(false);
      // Executed through B: the dispatch reaches A's worker.
      expect((await api(b.url, "POST", `/api/tasks/${key}/execute`)).status).toBe(202);
      const [first] = await waitFor(() => (pidsIn(pidFile).length >= 1 ? pidsIn(pidFile) : null));
      const running = (await api(a.url, "GET", "/api/missions/shared")).body.data.runtime;
      expect(running.workers[0]).toMatchObject({ state: "running", current_task_id: key });

      await a.stop("SIGKILL");
      // B takes the mission over within the lease TTL, ends the orphan and runs the task again.
      await waitFor(
        async () => (await api(b.url, "GET", "/api/missions/shared")).body.data.runtime.running,
        10_000,
        "takeover",
      );
      await waitFor(() => !alive(first!), 10_000, "the orphan of the dead owner to be ended");
      await waitFor(() => pidsIn(pidFile).length >= 2, 10_000, "the task to run again on B");
      const t = await waitFor(async () => {
        const r = await api(b.url, "GET", `/api/tasks/${key}`);
        return r.body.data.status === "in_progress" ? r.body.data : null;
      });
      expect(t.status).toBe("in_progress");
      expect(pidsIn(pidFile).filter(alive)).toHaveLength(1);
      await api(b.url, "POST", "/api/missions/shared/pause");
      await waitFor(() => pidsIn(pidFile).every((p) => !alive(p)), 10_000, "processes gone after pause");
      await b.stop("SIGTERM");
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  }, 180_000);
});
