// Overload: a flood beyond capacity is answered 503 with Retry-After (never queued without bound, never
// half-served), a token over its rate is answered 429 with Retry-After while other tokens go on, the process's
// memory stays bounded while a flood of large bodies arrives, and once the flood stops everything is served
// normally. Floods: MC_SOAK_FLOOD_REQUESTS requests (400; `npm run test:soak`: 4000).
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, test, vi } from "vitest";
import { fingerprint, isErrorShape, send, type Reply } from "../security/openapi.js";
import { startLiveApp, type LiveApp } from "../security/server.js";
import { startServer } from "../fixtures/server-process.js";
import { migratedDataDir } from "../fixtures/data-dir-template.js";
import { backend, waitFor } from "../harness.js";
import { soak } from "./soak.js";

vi.setConfig({ testTimeout: 300_000, hookTimeout: 120_000 });

const apps: LiveApp[] = [];
afterAll(async () => {
  for (const a of apps) await a.close();
});

async function live(env: Record<string, string>) {
  const a = await startLiveApp(env);
  apps.push(a);
  return a;
}

/** Writes `text` on a new connection and hangs up `ms` later, whatever the server has answered. */
function sendAndHangUp(a: LiveApp, text: string, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const sock = net.connect(Number(new URL(a.base).port), "127.0.0.1", () => {
      sock.write(text);
      setTimeout(() => {
        sock.destroy();
        resolve();
      }, ms);
    });
  });
}

function expectRefusal(r: Reply, status: 429 | 503) {
  expect(r.status).toBe(status);
  expect(isErrorShape(r.json)).toBe(true);
  const retry = Number(r.headers.get("retry-after"));
  expect(Number.isInteger(retry) && retry >= 1).toBe(true);
  expect(r.headers.get("x-request-id")).toBeTruthy();
}

describe("more requests at once than the server serves", () => {
  test("the excess is answered 503 with Retry-After at once, nothing is half-applied, and service resumes", async () => {
    const a = await live({ MC_MAX_IN_FLIGHT: "4", MC_RATE_LIMIT: "0" });
    const agent = (await a.call("POST", "/api/agents", { body: { agent_id: "flooder" } })).json.data.agent_id;
    const token = await a.agentToken(agent);
    expect((await a.call("POST", "/api/missions", { body: { mission_id: "flood", goal: "g" } })).status).toBe(201);
    await a.call("POST", "/api/missions/flood/agents", { body: { agent_id: agent } });
    expect(
      (
        await a.call("POST", "/api/missions/flood/tasks", {
          body: { task_id: "flood-t", objective: "o", agent_id: agent },
        })
      ).status,
    ).toBe(201);

    const n = soak.floodRequests;
    // Up to 256 connections at once (file descriptors are finite): 64 times what the server takes.
    const pool = new http.Agent({ keepAlive: true, maxSockets: 256 });
    const replies = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        send(a.base, "POST", "/api/tasks/flood-t/report", {
          token,
          body: { logs: [{ message: `flood-${i}` }] },
          timeoutMs: 120_000,
          agent: pool,
        }),
      ),
    );
    pool.destroy();
    const served = replies.flatMap((r, i) => (r.status === 200 ? [i] : []));
    const refused = replies.filter((r) => r.status === 503);
    expect(served.length + refused.length).toBe(n);
    expect(refused.length).toBeGreaterThan(0);
    expect(served.length).toBeGreaterThan(0);
    for (const r of refused) {
      expectRefusal(r, 503);
      expect(r.json).toEqual({ errors: { detail: "The server is busy; retry later" } });
    }

    // Exactly the served reports were applied: each one's log line is there, and no refused one's is.
    const logs: string[] = [];
    for (let cursor: string | null = ""; cursor !== null;) {
      const page = await a.call("GET", `/api/tasks/flood-t/logs?limit=500${cursor ? `&cursor=${cursor}` : ""}`);
      logs.push(...page.json.data.map((l: any) => l.message));
      cursor = page.json.meta.next_cursor;
    }
    expect(logs.sort()).toEqual(served.map((i) => `flood-${i}`).sort());
    const reported = await a.call("GET", `/api/trace?task_id=flood-t&event=task.reported&limit=500`);
    expect(reported.json.data.length).toBe(Math.min(served.length, 500));

    // After the flood: served normally, one request after another.
    for (let i = 0; i < 20; i++) expect((await send(a.base, "GET", "/api/tasks/flood-t", { token })).status).toBe(200);
    // Health checks are never refused.
    expect((await send(a.base, "GET", "/healthz")).status).toBe(200);
  });

  test("every kind of answer gives its slot back, a client that hangs up mid-body too", async () => {
    const a = await live({ MC_MAX_IN_FLIGHT: "1", MC_RATE_LIMIT: "0" });
    const kinds: Array<[number, () => Promise<Reply>]> = [
      [200, () => a.call("GET", "/api/missions")],
      [201, () => a.call("POST", "/api/missions", { body: { goal: "g" } })],
      [404, () => a.call("GET", "/api/missions/none")],
      [400, () => a.call("POST", "/api/missions", { raw: "{" })],
      [401, () => a.call("GET", "/api/missions", { token: null })],
      [403, () => a.call("GET", "/api/tokens", { token: a.member })],
      [413, () => a.call("POST", "/api/missions", { raw: JSON.stringify({ goal: "x".repeat(2 * 1024 * 1024) }) })],
      [415, () => a.call("POST", "/api/missions", { raw: "goal", contentType: "text/plain" })],
      [422, () => a.call("POST", "/api/missions", { body: {} })],
    ];
    for (let round = 0; round < 3; round++) {
      for (const [status, req] of kinds) expect((await req()).status, `round ${round}, the ${status}`).toBe(status);
      // A client that announces a body and goes away before sending it.
      await sendAndHangUp(
        a,
        `POST /api/missions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${a.admin}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"goal":`,
        50,
      );
      // The server learns of the hang-up a moment later; then its slot is free again.
      await waitFor(
        async () => (await a.call("GET", "/api/missions")).status === 200,
        10_000,
        "the slot of the aborted request",
      );
    }
  });

  test("requests pipelined behind a stream give their slots back when the client goes away", async () => {
    const a = await live({ MC_MAX_IN_FLIGHT: "2", MC_RATE_LIMIT: "0" });
    for (let round = 0; round < 3; round++) {
      // The event stream never ends, so the two requests after it on the connection are served but their
      // answers wait, with no socket, until the client hangs up.
      const get = (p: string) => `GET ${p} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${a.admin}\r\n\r\n`;
      await sendAndHangUp(a, get("/api/events") + get("/api/missions") + get("/api/missions"), 300);
      await waitFor(
        async () => (await a.call("GET", "/api/missions")).status === 200,
        10_000,
        `round ${round}: the slots of the pipelined requests`,
      );
      // Both slots are free: two requests at once are served.
      const both = await Promise.all([a.call("GET", "/api/missions"), a.call("GET", "/api/missions")]);
      expect(both.map((r) => r.status)).toEqual([200, 200]);
    }
  });

  test("under memory pressure requests are answered 503 with Retry-After; health checks still answer", async () => {
    // A heap limit far below what any process uses: the server is always "under pressure".
    const a = await live({ MC_MAX_HEAP_MB: "1" });
    const r = await waitFor(
      async () => {
        const x = await a.call("GET", "/api/missions");
        return x.status === 503 ? x : null;
      },
      30_000,
      "a 503 under pressure",
    );
    expectRefusal(r, 503);
    expect(r.json).toEqual({ errors: { detail: "The server is overloaded; retry later" } });
    expect((await a.call("GET", "/healthz")).status).toBe(200);
    expect((await a.call("GET", "/readyz")).status).toBe(200);
  });
});

describe("per-token rate limits", () => {
  test("a token over its rate gets 429 with Retry-After and changes nothing; other tokens go on; its window ends", async () => {
    const limit = 5;
    const a = await live({ MC_RATE_LIMIT: String(limit), MC_RATE_LIMIT_WINDOW_S: "2" });
    const agent = (await a.call("POST", "/api/agents", { body: { agent_id: "chatty" } })).json.data.agent_id;
    const token = await a.agentToken(agent);
    const beat = () => send(a.base, "POST", `/api/agents/${agent}/activity`, { token, body: { event: "blocked" } });
    // A token's first `limit` requests are served; it is refused once it goes on within the window.
    const served: number[] = [];
    let refused: Reply | null = null;
    for (let i = 0; i < 200 && refused === null; i++) {
      const before = await fingerprint(a.db.database);
      const r = await beat();
      if (r.status === 429) {
        refused = r;
        expect(await fingerprint(a.db.database), "a 429 changed the database").toBe(before);
      } else served.push(r.status);
    }
    expect(refused, "no 429 within 200 requests").not.toBeNull();
    expectRefusal(refused!, 429);
    expect(Number(refused!.headers.get("retry-after"))).toBeLessThanOrEqual(2);
    expect(served.length).toBeGreaterThanOrEqual(limit);
    expect(served.every((s) => s === 200)).toBe(true);
    // Other tokens are not affected, nor are health checks.
    expect((await a.call("GET", `/api/agents/${agent}`, { token: a.member })).status).toBe(200);
    expect((await send(a.base, "GET", "/healthz")).status).toBe(200);
    // Once its window is over the token is served again.
    await waitFor(async () => (await beat()).status === 200, 30_000, "the next window");
  });

  test("with the defaults an agent's busy normal traffic is never limited", async () => {
    const a = await live({});
    expect(a.app.hasDecorator("rateLimit")).toBe(true);
    const agent = (await a.call("POST", "/api/agents", { body: { agent_id: "busy" } })).json.data.agent_id;
    const token = await a.agentToken(agent);
    // Several hundred heartbeats and reads in a burst, far more than any agent sends in a minute.
    for (let i = 0; i < 300; i++) {
      const r = await send(a.base, "POST", `/api/agents/${agent}/activity`, { token, body: { event: "heartbeat" } });
      expect(r.status).toBe(200);
    }
  });
});

// Linux (/proc), and once per CI run: the bound comes from the HTTP layer, whatever the database.
describe.runIf(process.platform === "linux" && backend === "pglite")("memory while flooded", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  /** Peak resident memory of a process so far, in MiB (Linux). */
  const peakMb = (pid: number) =>
    Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;

  test("a flood of large bodies leaves the peak memory of the server bounded", async () => {
    // A copy of the migrated template (shared with the other tests that start servers): a new directory's
    // initdb and migrations cost ~8.5 s of CPU, and they ran in a child process of the server anyway, so the
    // server's own heap starts just as small.
    const dataDir = await migratedDataDir(fs.mkdtempSync(path.join(os.tmpdir(), "mc-flood-")));
    dirs.push(dataDir);
    const admin = "flood-admin-token-0123456789";
    const s = await startServer({
      MC_DATA_DIR: dataDir,
      MC_ADMIN_TOKEN: admin,
      MC_MAX_IN_FLIGHT: "8",
      MC_RATE_LIMIT: "0",
    });
    try {
      const call = (method: string, url: string, body?: unknown) =>
        send(s.url, method, url, { token: admin, body, timeoutMs: 120_000 });
      expect((await call("POST", "/api/missions", { mission_id: "mem", goal: "g" })).status).toBe(201);
      expect((await call("POST", "/api/missions/mem/tasks", { task_id: "mem-t", objective: "o" })).status).toBe(201);
      // 200 bodies of ~900 KiB at once: ~180 MiB if they were all taken in and held while waiting their turn.
      const logs = Array.from({ length: 14 }, (_, i) => ({ message: `${i}`.padEnd(64_000, "x") }));
      const payload = JSON.stringify({ logs });
      // Warm up (first requests compile schemas, fill caches) and let the embedded database's heap reach its
      // working size with the same writes (a new data directory is created in a child process,
      // so the server's own WebAssembly heap starts small and grows once), then take the baseline.
      for (let i = 0; i < 5; i++) await call("GET", "/api/tasks/mem-t");
      // a first flood like the measured one: the heap grows in steps and never gives memory back, so only a
      // second flood shows whether bodies beyond MC_MAX_IN_FLIGHT are held.
      const warm = await Promise.all(
        Array.from({ length: 200 }, () =>
          send(s.url, "POST", "/api/tasks/mem-t/report", { token: admin, raw: payload, timeoutMs: 120_000 }),
        ),
      );
      expect(warm.every((r) => r.status === 200 || r.status === 503)).toBe(true);
      // Start the peak over from the current size (start-up has its own, higher peak).
      fs.writeFileSync(`/proc/${s.proc.pid}/clear_refs`, "5");
      const base = peakMb(s.proc.pid!);
      const replies = await Promise.all(
        Array.from({ length: 200 }, () =>
          send(s.url, "POST", "/api/tasks/mem-t/report", { token: admin, raw: payload, timeoutMs: 120_000 }),
        ),
      );
      expect(replies.every((r) => r.status === 200 || r.status === 503)).toBe(true);
      expect(replies.some((r) => r.status === 503)).toBe(true);
      const growth = peakMb(s.proc.pid!) - base;
      // The 8 admitted reports each answer the task with its latest 100 log lines (~6.3 MiB of JSON), so the
      // admitted work alone peaks near 120 MiB (the old 120 bound passed only while the process still held the
      // initdb's freed memory to reuse; a new data directory is now created in a child process). All 200 bodies
      // taken in and held (176 MiB) on top of that would exceed 250 MiB.
      expect(growth, `peak memory grew by ${growth.toFixed(0)} MiB`).toBeLessThan(200);
      expect((await call("GET", "/api/tasks/mem-t")).status).toBe(200);
    } finally {
      await s.stop();
    }
  });
});
