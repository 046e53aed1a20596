// One process per embedded data directory, with real processes: a second server, `token` and `migrate`
// are refused with one line while a server holds the directory; the holder is unaffected; a kill -9 of the
// holder leaves the directory usable at once; an agent process the holder started does not keep the lock.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, test, vi } from "vitest";
import { openDatabase } from "../../src/db/client.js";
import { DataDirInUseError, LOCK_FILE, lockDataDir } from "../../src/db/data-dir-lock.js";
import { migrationsApplied } from "../../src/db/migrate.js";
import { migratedDataDir } from "../fixtures/data-dir-template.js";
import { call, runCli, scratchDirs, startServer } from "../fixtures/server-process.js";

vi.setConfig({ testTimeout: 600_000 });
/** A server start on a busy machine can take a minute. */
const START_TIMEOUT_MS = 240_000;

const scratch = scratchDirs("mc-lock-");
const tmpDir = scratch.make;
afterAll(scratch.cleanup);

const ADMIN = "lock-test-admin-token-0123456789";
const ISO = "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z";
/** The one line a second opener prints, for a holder with this pid. */
const inUse = (dir: string, pid: number) =>
  new RegExp(
    `^data directory ${dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is in use by process ${pid} \\(started ${ISO}\\); ` +
      `use the running server's API \\(mc tokens …\\) or stop it first\\n$`,
  );

/**
 * A node process that takes the lock (through the real module, as built into dist/ for the server) and says so,
 * then waits to be killed.
 */
function lockHolder(dir: string, extra = "") {
  const code =
    `const { lockDataDir } = await import(${JSON.stringify(path.resolve("dist/db/data-dir-lock.js"))});` +
    `await lockDataDir(${JSON.stringify(dir)}); ${extra} process.stdout.write("locked\\n"); setInterval(() => {}, 1000);`;
  const proc = spawn(process.execPath, ["--input-type=module", "-e", code], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const locked = new Promise<void>((resolve, reject) => {
    proc.stdout.on("data", (d: Buffer) => d.toString().includes("locked") && resolve());
    proc.on("exit", (c) => reject(new Error(`lock holder exited ${c}`)));
  });
  const exited = new Promise<void>((resolve) => proc.on("exit", () => resolve()));
  return { proc, locked, exited };
}

describe("the lock itself", () => {
  test("a second opener in another process is refused, naming the holder; released on kill -9, taken at once", async () => {
    const dir = tmpDir();
    const holder = lockHolder(dir);
    await holder.locked;
    const started = JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), "utf8"));
    expect(started.pid).toBe(holder.proc.pid);

    const err = await lockDataDir(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataDirInUseError);
    expect((err as Error).message).toBe(
      `data directory ${dir} is in use by process ${holder.proc.pid} (started ${started.started_at}); use the running server's API (mc tokens …) or stop it first`,
    );
    // A refused opener leaves the holder's record alone.
    expect(JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), "utf8"))).toEqual(started);

    holder.proc.kill("SIGKILL");
    await holder.exited;
    // No waiting, no stale-lock clean-up: the kernel dropped the lock with the process.
    const lock = await lockDataDir(dir);
    expect(JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), "utf8")).pid).toBe(process.pid);
    lock.release();
    lock.release(); // idempotent
  });

  test("within one process too: a second open of the same directory is refused until the first is released", async () => {
    const dir = tmpDir();
    const a = await lockDataDir(dir);
    await expect(lockDataDir(dir)).rejects.toBeInstanceOf(DataDirInUseError);
    a.release();
    (await lockDataDir(dir)).release();
  });

  test("a child process of the holder does not inherit the lock: killing the holder frees it while the child lives", async () => {
    const dir = tmpDir();
    // The holder starts a long-lived child (as the runtime starts agents) after taking the lock.
    const holder = lockHolder(
      dir,
      `const c = (await import("node:child_process")).spawn("sleep", ["60"], { stdio: "ignore", detached: true }); c.unref(); process.stderr.write("");` +
        `(await import("node:fs")).writeFileSync(${JSON.stringify(path.join(dir, "child.pid"))}, String(c.pid));`,
    );
    await holder.locked;
    const childPid = Number(fs.readFileSync(path.join(dir, "child.pid"), "utf8"));
    try {
      holder.proc.kill("SIGKILL");
      await holder.exited;
      expect(() => process.kill(childPid, 0)).not.toThrow(); // still running
      (await lockDataDir(dir)).release();
    } finally {
      process.kill(childPid, "SIGKILL");
    }
  });
});

describe("openDatabase on a data directory", () => {
  test("a new directory is created and migrated by a child process, locked while open, with 32 MB of shared buffers", async () => {
    const dir = tmpDir();
    const db = await openDatabase({ databaseUrl: null, dataDir: dir });
    try {
      expect(fs.existsSync(path.join(dir, "pglite", "PG_VERSION"))).toBe(true);
      expect(await migrationsApplied(db)).toBe(true);
      expect((await db.query<{ shared_buffers: string }>("SHOW shared_buffers"))[0]!.shared_buffers).toBe("32MB");
      await db.query("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('yes');");
      await expect(openDatabase({ databaseUrl: null, dataDir: dir })).rejects.toBeInstanceOf(DataDirInUseError);
    } finally {
      await db.close();
    }
    // Closed: the lock is gone; the same directory opens on the request thread with another size.
    const again = await openDatabase({
      databaseUrl: null,
      dataDir: dir,
      pgliteThread: false,
      pgliteSharedBuffersMb: 16,
    });
    try {
      expect((await again.query<{ shared_buffers: string }>("SHOW shared_buffers"))[0]!.shared_buffers).toBe("16MB");
      expect(await again.query("SELECT v FROM kept")).toEqual([{ v: "yes" }]);
    } finally {
      await again.close();
    }
  });
});

// The servers start on copies of a migrated directory: creating one is the test above's.
describe("real server processes on one MC_DATA_DIR", () => {
  // One running server for both kinds of second opener: a second server, and the offline commands.
  test("a second server, token create, token list and migrate are refused with one line and exit 1, changing nothing; the first is unaffected and its data survive a restart", async () => {
    const dataDir = await migratedDataDir(tmpDir());
    const env = { MC_DATA_DIR: dataDir, MC_ADMIN_TOKEN: ADMIN };
    const first = await startServer(env, START_TIMEOUT_MS);
    try {
      expect(
        (await call(`${first.url}/api/missions`, ADMIN, "POST", { mission: { mission_id: "before", goal: "g" } }))
          .status,
      ).toBe(201);
      const tokensBefore = (await call(`${first.url}/api/tokens?limit=500`, ADMIN)).body.data;
      const commands = [
        ["serve"],
        ["token", "create", "--role", "member"],
        ["token", "list"],
        ["token", "revoke", "1"],
        ["migrate"],
      ];
      const refusals = await Promise.all(
        commands.map((args) => runCli(args, { ...env, HOST: "127.0.0.1", PORT: "0" })),
      );
      commands.forEach((args, i) => {
        const r = refusals[i]!;
        expect(r.code, args.join(" ")).toBe(1);
        expect(r.stderr, args.join(" ")).toMatch(inUse(dataDir, first.proc.pid!));
        expect(r.stdout, args.join(" ")).toBe("");
      });
      expect((await call(`${first.url}/api/tokens?limit=500`, ADMIN)).body.data).toEqual(tokensBefore);

      // The first goes on serving, reads and writes.
      expect(
        (await call(`${first.url}/api/missions`, ADMIN, "POST", { mission: { mission_id: "after", goal: "g" } }))
          .status,
      ).toBe(201);
      expect((await call(`${first.url}/api/missions/before`, ADMIN)).status).toBe(200);
      // The server's own API is the way to a token: one made there works at once.
      const made = await call(`${first.url}/api/tokens`, ADMIN, "POST", { role: "member", name: "via-api" });
      expect(made.status).toBe(201);
      expect((await call(`${first.url}/api/missions`, made.body.data.token)).status).toBe(200);
    } finally {
      expect(await first.stop()).toBe(0);
    }
    const again = await startServer(env, START_TIMEOUT_MS);
    try {
      for (const m of ["before", "after"])
        expect((await call(`${again.url}/api/missions/${m}`, ADMIN)).status).toBe(200);
      expect((await call(`${again.url}/api/trace/verify`, ADMIN)).body.data.valid).toBe(true);
    } finally {
      await again.stop();
    }
  });

  test("kill -9 of the server: the next start succeeds at once, with every acknowledged write", async () => {
    const dataDir = await migratedDataDir(tmpDir());
    const env = { MC_DATA_DIR: dataDir, MC_ADMIN_TOKEN: ADMIN };
    const s = await startServer(env, START_TIMEOUT_MS);
    for (let i = 0; i < 5; i++) {
      expect(
        (await call(`${s.url}/api/missions`, ADMIN, "POST", { mission: { mission_id: `m${i}`, goal: "g" } })).status,
      ).toBe(201);
    }
    expect(await s.stop("SIGKILL")).toBe(null);
    // No stale lock: the offline command and a new server both get the directory straight away.
    const listed = await runCli(["token", "list"], env);
    expect(listed).toMatchObject({ code: 0, stderr: "" });
    const next = await startServer(env, START_TIMEOUT_MS);
    try {
      const list = await call(`${next.url}/api/missions?limit=500`, ADMIN);
      expect(list.body.data.map((m: any) => m.mission_id).sort()).toEqual(["m0", "m1", "m2", "m3", "m4"]);
      const lock = JSON.parse(fs.readFileSync(path.join(dataDir, LOCK_FILE), "utf8"));
      expect(lock.pid).toBe(next.proc.pid);
    } finally {
      await next.stop();
    }
  });
});
