// The real server as a process: first start, restart on the same data, signals, start-up failures, the
// token CLI, and two processes starting at once on one PostgreSQL database.
import fs from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, describe, expect, test, vi } from "vitest";

// Each test starts real server processes (several seconds each on a busy machine).
vi.setConfig({ testTimeout: 180_000 });
import { call, runCli, scratchDirs, startServer } from "../fixtures/server-process.js";
import { migratedDataDir } from "../fixtures/data-dir-template.js";
import { jsonRequestHead, rawConnection } from "../fixtures/raw-http.js";

const scratch = scratchDirs("mc-server-");
const tmpDir = scratch.make;
afterAll(scratch.cleanup);

/**
 * A POST on a connection of its own, sent in two parts: the headers and the start of the body now, the rest on
 * `finish()`, which resolves with the answer once the server has closed the connection.
 */
function postInTwoParts(url: string, token: string, route: string, body: unknown) {
  const payload = Buffer.from(JSON.stringify(body));
  const c = rawConnection(url, jsonRequestHead(url, "POST", route, token, payload.length));
  void c.connected.then(() => c.socket.write(payload.subarray(0, 5)));
  return {
    async finish(): Promise<{ status: number; connection: string | undefined; body: any }> {
      await c.connected;
      c.socket.write(payload.subarray(5));
      await c.closed;
      const [head = "", text = ""] = c.received().split("\r\n\r\n");
      const [statusLine, ...headers] = head.split("\r\n");
      const connection = headers.find((h) => /^connection:/i.test(h))?.replace(/^connection:\s*/i, "");
      return { status: Number(statusLine!.split(" ")[1]), connection, body: JSON.parse(text) };
    },
  };
}

describe("embedded database", () => {
  test("first start creates and prints an admin token once; data survives a restart; SIGTERM exits 0", async () => {
    // An empty database: migrated, never started (a brand-new directory is data-dir-lock.test.ts's).
    const dataDir = await migratedDataDir(tmpDir());
    const s1 = await startServer({ MC_DATA_DIR: dataDir });
    const file = path.join(dataDir, "admin-token");
    expect((fs.statSync(file).mode & 0o777).toString(8)).toBe("600");
    const token = fs.readFileSync(file, "utf8").trim();
    expect(token).toMatch(/^mc_/);
    expect(s1.output()).toContain(token);

    const created = await call(`${s1.url}/api/missions`, token, "POST", {
      mission: { mission_id: "persisted", goal: "survive" },
    });
    expect(created.status).toBe(201);
    expect(await s1.stop("SIGTERM")).toBe(0);

    const s2 = await startServer({ MC_DATA_DIR: dataDir });
    try {
      expect(s2.output()).not.toContain("mc_"); // no second token printed
      const got = await call(`${s2.url}/api/missions/persisted`, token);
      expect(got.status).toBe(200);
      expect(got.body.data.goal).toBe("survive");
      const trace = await call(`${s2.url}/api/missions/persisted/trace`, token);
      expect(trace.body.data.map((e: any) => e.event)).toEqual(["mission.created"]);
    } finally {
      expect(await s2.stop("SIGINT")).toBe(0);
    }
  });

  // Both servers here run with MC_ADMIN_TOKEN, on an empty database: they also show that no token is generated.
  test("a request in flight when SIGTERM arrives still gets its answer; with MC_ADMIN_TOKEN no token is generated", async () => {
    const dataDir = await migratedDataDir(tmpDir());
    // At info level the server logs each request as it comes in, and when it begins to shut down.
    const s = await startServer({ MC_DATA_DIR: dataDir, MC_ADMIN_TOKEN: "in-flight-admin-token", LOG_LEVEL: "info" });
    // One request surely in flight: the server has its headers, its body is not complete until the server closes.
    const slow = postInTwoParts(s.url, "in-flight-admin-token", "/api/missions", { goal: "slow" });
    await vi.waitFor(() => expect(s.output()).toContain('"url":"/api/missions"'), { timeout: 30_000, interval: 20 });
    const inflight = Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        call(`${s.url}/api/missions`, "in-flight-admin-token", "POST", { goal: `g${i}` }).catch(() => null),
      ),
    );
    await new Promise((r) => setTimeout(r, 5));
    const code = s.stop("SIGTERM");
    await vi.waitFor(() => expect(s.output()).toContain("shutting down"), { timeout: 30_000, interval: 20 });
    const last = await slow.finish();
    // Answered, and told the connection closes: kept alive, it would hold the exit until the client hung up.
    expect(last.connection).toBe("close");
    const results = [...(await inflight), last];
    expect(await code).toBe(0);
    // Each request was either served in full (201) or refused in the contract's shape (503), never cut off.
    const created = results.filter((r) => r?.status === 201).length;
    for (const r of results) {
      if (r === null || r.status === 201) continue;
      expect(r.status).toBe(503);
      expect(r.body).toEqual({ errors: { detail: "Server is shutting down" } });
    }
    // Everything acknowledged is there after a restart.
    const again = await startServer({ MC_DATA_DIR: dataDir, MC_ADMIN_TOKEN: "in-flight-admin-token" });
    try {
      const list = await call(`${again.url}/api/missions?limit=500`, "in-flight-admin-token");
      expect(list.body.data.length).toBeGreaterThanOrEqual(created);
      const failed = results.filter((r) => r !== null && r.status !== 201).length;
      expect(list.body.data.length).toBeLessThanOrEqual(results.length - failed);
      // No token was generated: none saved, and the configured one is the admin.
      expect(fs.existsSync(path.join(dataDir, "admin-token"))).toBe(false);
      expect((await call(`${again.url}/api/tokens`, "in-flight-admin-token")).status).toBe(200);
    } finally {
      await again.stop();
    }
  });

  test("a bad variable stops start-up with one line naming it, exit 1", async () => {
    const r = await runCli(["serve"], { PORT: "eighty", MC_DATA_DIR: tmpDir() });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('Invalid configuration: PORT must be an integer from 0 to 65535 (got "eighty")');
  });

  test("the token CLI creates a working token", async () => {
    const dataDir = await migratedDataDir(tmpDir());
    const r = await runCli(["token", "create", "--role", "member", "--name", "cli-made"], { MC_DATA_DIR: dataDir });
    expect(r.code).toBe(0);
    const secret = r.stdout.trim();
    expect(secret).toMatch(/^mc_[A-Za-z0-9_-]{43}$/);
    const s = await startServer({ MC_DATA_DIR: dataDir });
    try {
      expect((await call(`${s.url}/api/missions`, secret)).status).toBe(200);
      expect((await call(`${s.url}/api/tokens`, secret)).status).toBe(403);
      // A token already exists, so the first start made no admin token of its own.
      expect(fs.existsSync(path.join(dataDir, "admin-token"))).toBe(false);
    } finally {
      await s.stop();
    }
  });
});

describe.runIf(!!process.env.TEST_DATABASE_URL)("PostgreSQL", () => {
  test("two processes starting at once on an empty database both come up, with one bootstrap token", async () => {
    const base = process.env.TEST_DATABASE_URL!;
    const name = `mc_srv_${randomBytes(4).toString("hex")}`;
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const u = new URL(base);
    u.pathname = `/${name}`;
    const [d1, d2] = [tmpDir(), tmpDir()];
    try {
      const [a, b] = await Promise.all([
        startServer({ DATABASE_URL: u.toString(), MC_DATA_DIR: d1 }),
        startServer({ DATABASE_URL: u.toString(), MC_DATA_DIR: d2 }),
      ]);
      try {
        const files = [d1, d2].filter((d) => fs.existsSync(path.join(d, "admin-token")));
        expect(files).toHaveLength(1);
        const token = fs.readFileSync(path.join(files[0]!, "admin-token"), "utf8").trim();
        const created = await call(`${a.url}/api/missions`, token, "POST", { mission_id: "shared", goal: "one db" });
        expect(created.status).toBe(201);
        expect((await call(`${b.url}/api/missions/shared`, token)).status).toBe(200);
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  });
});
