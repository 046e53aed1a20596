// Live agent status with real processes (issue 17): a run is proof of life past any staleness window, a
// killed agent is seen at once even when its child holds its pipes, `error` stays until a reset, silent
// agents are made offline once (trace and live stream, also with two servers on one PostgreSQL), pause and
// cancel answer at once, and a run's token dies with the run. The staleness window is 1 s here.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { buildApp } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import { openDatabase, type Database } from "../../src/db/client.js";
import { backend, createTestContext, waitFor, type TestContext } from "../harness.js";
import { openSse } from "../trace/helpers.js";

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/agents");
const agentCmd = (file: string) => [process.execPath, path.join(fixtures, file)];

let t: TestContext;
let n = 0;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mc-live-"));

beforeAll(async () => {
  t = await createTestContext({ MC_AGENT_STALE_AFTER_S: "1" }, { listen: true });
});
afterAll(async () => {
  await t.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

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

async function setup(config: Record<string, unknown>) {
  n++;
  const missionKey = `live-mission-${n}`;
  const agentKey = `live-agent-${n}`;
  expect(
    (await t.json("POST", "/api/missions", { body: { mission_id: missionKey, goal: "live status" } })).status,
  ).toBe(201);
  expect(
    (await t.json("POST", "/api/agents", { body: { agent_id: agentKey, adapter_module: "command", config } })).status,
  ).toBe(201);
  expect((await t.json("POST", `/api/missions/${missionKey}/agents`, { body: { agent_id: agentKey } })).status).toBe(
    201,
  );
  expect((await t.json("POST", `/api/missions/${missionKey}/start`)).status).toBe(200);
  return { missionKey, agentKey };
}

async function createTask(missionKey: string, agentKey: string | null) {
  const r = await t.json("POST", `/api/missions/${missionKey}/tasks`, {
    body: { objective: "work", ...(agentKey ? { agent_id: agentKey } : {}) },
  });
  expect(r.status).toBe(201);
  return r.body.data.task_id as string;
}

const task = async (key: string) => (await t.json("GET", `/api/tasks/${key}`)).body.data;
const agent = async (key: string) => (await t.json("GET", `/api/agents/${key}`)).body.data;
const waitStatus = (key: string, status: string, ms = 15_000) =>
  waitFor(async () => ((await task(key)).status === status ? task(key) : null), ms, `task ${key} to be ${status}`);

async function trace(q: Record<string, string>) {
  return (await t.json("GET", "/api/trace", { query: { ...q, limit: "500" } })).body.data as Array<{
    event: string;
    at: string;
    actor: string;
    task_id: string | null;
    data: any;
  }>;
}

describe("a run is proof of life", () => {
  test("an agent printing a line a second reads working past several staleness windows, then idle when it exits 0", async () => {
    const pidFile = path.join(tmp, `chatty-${n}.pids`);
    const { missionKey, agentKey } = await setup({
      command: agentCmd("chatty.mjs"),
      env: { PID_FILE: pidFile, LIFETIME_S: "4" },
    });
    const key = await createTask(missionKey, agentKey);
    expect((await t.json("POST", `/api/tasks/${key}/execute`)).status).toBe(202);
    const [pid] = await waitFor(() => (pidsIn(pidFile).length ? pidsIn(pidFile) : null));
    const seen: string[] = [];
    const lastSeen: number[] = [];
    // 3 s of a 1 s window: every read says working, on this task, with the run's pid and why.
    const until = Date.now() + 3_000;
    while (Date.now() < until && alive(pid!)) {
      const a = await agent(agentKey);
      if (a.run === null) break; // exited: checked below
      seen.push(a.status);
      lastSeen.push(new Date(a.last_seen_at).getTime());
      expect(a).toMatchObject({ status: "working", current_task_id: key, run: { task_id: key, pid, attempt: 1 } });
      expect(a.status_reason).toMatch(
        new RegExp(`^running ${key} \\(pid ${pid}\\), (last output \\d+ s ago|no output yet)$`),
      );
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(seen.length).toBeGreaterThan(3);
    expect(new Set(seen)).toEqual(new Set(["working"]));
    // Output keeps last_seen_at moving (coalesced).
    expect(Math.max(...lastSeen)).toBeGreaterThan(Math.min(...lastSeen));
    const done = await waitStatus(key, "pending_review");
    expect(done.status).toBe("pending_review");
    const after = await waitFor(async () => {
      const a = await agent(agentKey);
      return a.run === null && a.status !== "working" ? a : null;
    });
    expect(after.status_reason === `run of ${key} finished` || after.status_reason.startsWith("no heartbeat for")).toBe(
      true,
    );
    // Never made stale while the run held it.
    const changes = await trace({ agent_id: agentKey, event: "agent.status_changed" });
    const runEnd = changes.findIndex((e) => e.data.to === "idle");
    expect(changes.slice(0, runEnd).filter((e) => e.data.reason === "stale")).toEqual([]);
    expect(changes[0]!.data).toMatchObject({ from: "offline", to: "working", reason: "run" });
    expect(changes[runEnd]!.data).toMatchObject({ from: "working", to: "idle", reason: "run" });
  });
});

describe("a killed agent is seen at once", () => {
  test("kill -9 of an agent whose child holds stdout: task failed and agent error, the child stopped; error stays past the window; reset clears it and the escalated worker takes work again", async () => {
    const pidFile = path.join(tmp, `held-${n}.pids`);
    const { missionKey, agentKey } = await setup({
      command: agentCmd("child-holds-stdout.mjs"),
      env: { PID_FILE: pidFile },
      max_restarts: 0,
    });
    const key = await createTask(missionKey, agentKey);
    await t.json("POST", `/api/tasks/${key}/execute`);
    const [pid, child] = await waitFor(() => (pidsIn(pidFile).length >= 2 ? pidsIn(pidFile) : null));
    await waitFor(async () => (await agent(agentKey)).status === "working");
    const killedAt = Date.now();
    process.kill(pid!, "SIGKILL");
    const failed = await waitStatus(key, "failed");
    expect(failed.logs.map((l: any) => l.message)).toContain("run failed: agent process killed by SIGKILL");
    // Recorded times: the task failed and the agent errored well before the old 2 s fallback would have noticed.
    const moved = (await trace({ task_id: key, event: "task.status_changed" })).find((e) => e.data.to === "failed")!;
    const errored = (await trace({ agent_id: agentKey, event: "agent.status_changed" })).find(
      (e) => e.data.to === "error",
    )!;
    expect(new Date(moved.at).getTime() - killedAt).toBeLessThan(1_900);
    expect(new Date(errored.at).getTime()).toBeGreaterThanOrEqual(new Date(moved.at).getTime());
    expect(errored.data).toEqual({ from: "working", to: "error", reason: "run" });
    // The rest of the process group is stopped.
    await waitFor(() => !alive(child!), 5_000, "the child holding stdout to be stopped");

    const a = await agent(agentKey);
    expect(a).toMatchObject({
      status: "error",
      status_reason: `run of ${key} failed: agent process killed by SIGKILL`,
      run: null,
    });
    // Past two staleness windows, error stays (nothing but a report, a successful run or a reset ends it).
    await new Promise((r) => setTimeout(r, 2_500));
    expect(await agent(agentKey)).toMatchObject({
      status: "error",
      status_reason: a.status_reason,
      status_since: a.status_since,
    });
    expect((await t.json("GET", `/api/missions/${missionKey}`)).body.data.runtime.workers[0].state).toBe("escalated");

    // Work queued for an escalated worker waits; the reset lets it run.
    fs.writeFileSync(pidFile, "");
    const key2 = await createTask(missionKey, agentKey);
    const ex = await t.json("POST", `/api/tasks/${key2}/execute`);
    await new Promise((r) => setTimeout(r, 1_200));
    expect((await t.json("GET", `/api/dispatches/${ex.body.data.id}`)).body.data.status).toBe("queued");
    const r = await t.json("POST", `/api/agents/${agentKey}/reset`, { token: t.member });
    expect(r.status).toBe(200);
    expect(r.body.data).toMatchObject({
      status: "idle",
      current_task_id: null,
      status_reason: "reset by member:test-member",
    });
    const resetEntry = (await trace({ agent_id: agentKey, event: "agent.reset" })).at(-1)!;
    expect(resetEntry.data).toMatchObject({ from: "error", to: "idle" });
    // (After which, silent for the 1 s window with no run holding it, it may be made offline again.)
    expect(
      (await trace({ agent_id: agentKey, event: "agent.status_changed" }))
        .filter((e) => e.data.reason === "reset")
        .map((e) => e.data),
    ).toEqual([{ from: "error", to: "idle", reason: "reset" }]);
    await waitStatus(key2, "in_progress");
    const [pid2, child2] = await waitFor(() => (pidsIn(pidFile).length >= 2 ? pidsIn(pidFile) : null));
    await t.json("PATCH", `/api/missions/${missionKey}`, { body: { status: "cancelled" } });
    await waitFor(() => !alive(pid2!) && !alive(child2!), 10_000, "cancelled run's processes to be gone");
  });
});

describe("reset: errors and access", () => {
  test("table", async () => {
    const { agentKey } = await setup({ command: agentCmd("crash.mjs") });
    const agentTok = await t.agentToken(agentKey);
    const before = await agent(agentKey);
    const traceBefore = (await trace({ agent_id: agentKey })).length;
    const cases: Array<[string, string, Record<string, unknown> | undefined, string | null, number, unknown]> = [
      ["no token", agentKey, undefined, null, 401, { errors: { detail: "Unauthorized" } }],
      ["its own agent token", agentKey, undefined, agentTok, 403, { errors: { detail: "Forbidden" } }],
      ["unknown agent", "no-such-agent", undefined, t.member, 404, { errors: { detail: "Not Found" } }],
      ["unknown id", "987654", undefined, t.member, 404, { errors: { detail: "Not Found" } }],
      ["a bad key", encodeURIComponent("bad key!"), undefined, t.member, 404, { errors: { detail: "Not Found" } }],
      ["a body field", agentKey, { status: "idle" }, t.member, 422, { errors: { status: ["is not a known field"] } }],
    ];
    for (const [what, id, body, token, status, answer] of cases) {
      const r = await t.json("POST", `/api/agents/${id}/reset`, { token, body });
      expect(r.status, what).toBe(status);
      expect(r.body, what).toEqual(answer);
    }
    expect(await agent(agentKey)).toEqual(before);
    expect((await trace({ agent_id: agentKey })).length).toBe(traceBefore);
    // Never heard from: a reset leaves it offline (and is traced: a person acted).
    const r = await t.json("POST", `/api/agents/${before.id}/reset`, { body: {} });
    expect(r.status).toBe(200);
    expect(r.body.data.status).toBe("offline");
    expect((await trace({ agent_id: agentKey, event: "agent.reset" })).map((e) => e.data)).toEqual([
      { from: "offline", to: "offline", previous_reason: "never heard from" },
    ]);
  });
});

describe("staleness is written", () => {
  test("a silent hand-run agent goes offline once: one trace entry, one live event, and it explains itself", async () => {
    const key = `hand-run-${++n}`;
    const token = await t.agentToken(key);
    const sse = await openSse(t.url!, "/api/events", {
      token: t.admin,
      query: { agent_id: key, event: "agent.status_changed" },
    });
    try {
      expect(sse.status).toBe(200);
      expect(
        (
          await t.json("POST", `/api/agents/${key}/activity`, {
            token,
            body: { event: "task_start", context: { task_id: "by-hand" } },
          })
        ).status,
      ).toBe(200);
      const offline = await waitFor(
        async () => {
          const a = await agent(key);
          return a.status === "offline" ? a : null;
        },
        10_000,
        "the silent agent to be made offline",
      );
      expect(offline.status_reason).toMatch(/^no heartbeat for \d+ s$/);
      // Several more windows: still exactly one.
      await new Promise((r) => setTimeout(r, 2_500));
      const stale = (await trace({ agent_id: key, event: "agent.status_changed" })).filter(
        (e) => e.data.reason === "stale",
      );
      expect(stale).toHaveLength(1);
      expect(stale[0]!.data).toMatchObject({
        from: "working",
        to: "offline",
        reason: "stale",
        last_seen_at: expect.any(String),
      });
      await sse.until((ev) => ev.some((e) => e.json.data?.reason === "stale"), 10_000, "the stale event");
      expect(sse.events().filter((e) => e.json.data?.reason === "stale")).toHaveLength(1);
    } finally {
      sse.close();
    }
  });

  test.skipIf(backend !== "postgres")(
    "two servers on one PostgreSQL make a silent agent offline exactly once",
    async () => {
      const database: Database = await openDatabase({ databaseUrl: t.db.url, dataDir: null, poolSize: 3 });
      const second = await buildApp({
        config: loadConfig({
          MC_DATA_DIR: "/tmp/mc-test-unused",
          LOG_LEVEL: "silent",
          MC_AGENT_STALE_AFTER_S: "1",
          MC_MAX_EVENT_LOOP_DELAY_MS: "0",
        }),
        database,
      });
      await second.ready();
      const sse = await openSse(t.url!, "/api/events", { token: t.admin, query: { event: "agent.status_changed" } });
      try {
        const keys = Array.from({ length: 5 }, () => `twin-${++n}`);
        for (const k of keys)
          expect((await t.json("POST", `/api/agents/${k}/activity`, { body: { event: "session_start" } })).status).toBe(
            201,
          );
        await waitFor(
          async () => {
            for (const k of keys) if ((await agent(k)).status !== "offline") return false;
            return true;
          },
          15_000,
          "every silent agent offline",
        );
        await new Promise((r) => setTimeout(r, 2_500));
        for (const k of keys) {
          expect(
            (await trace({ agent_id: k, event: "agent.status_changed" })).filter((e) => e.data.reason === "stale"),
            k,
          ).toHaveLength(1);
        }
        const streamed = sse.events().filter((e) => e.json.data?.reason === "stale" && keys.includes(e.json.agent_id));
        expect(streamed.map((e) => e.json.agent_id).sort()).toEqual([...keys].sort());
      } finally {
        sse.close();
        await second.close();
        await database.close();
      }
    },
  );
});

describe("every source explains itself", () => {
  test("a Claude Code hook's change says so (reason hook), and an error reported by the agent stays until it reports again", async () => {
    const key = `hooked-${++n}`;
    const token = await t.agentToken(key);
    const hook = (name: string) =>
      t.json("POST", "/api/hooks/claude-code", { token, body: { session_id: "s-1", hook_event_name: name } });
    expect((await hook("SessionStart")).status).toBe(200);
    expect((await hook("SessionEnd")).status).toBe(200);
    expect(await agent(key)).toMatchObject({
      status: "offline",
      status_reason: "SessionEnd from Claude Code",
      last_event: { event: "stop" },
    });
    const changes = (await trace({ agent_id: key, event: "agent.status_changed" })).map((e) => e.data);
    expect(changes).toEqual([
      { from: "offline", to: "idle", reason: "hook" },
      { from: "idle", to: "offline", reason: "hook" },
    ]);
    const report = (event: string, context: Record<string, unknown> = {}) =>
      t.json("POST", `/api/agents/${key}/activity`, { token, body: { event, context } });
    expect((await report("error", { reason: "disk full" })).body.data).toMatchObject({
      status: "error",
      status_reason: "error reported: disk full",
    });
    // Heartbeats keep it, the staleness window does not end it.
    expect((await report("heartbeat")).body.data.status).toBe("error");
    await new Promise((r) => setTimeout(r, 2_200));
    expect((await agent(key)).status).toBe("error");
    expect((await report("session_start")).body.data).toMatchObject({
      status: "idle",
      status_reason: "session_start reported",
    });
  });
});

describe("pause and cancel answer at once", () => {
  test("pause with a SIGTERM-ignoring agent: the answer comes before the grace, the task is blocked in it, the processes are gone after the grace, the exit is traced, the run's token is dead", async () => {
    const pidFile = path.join(tmp, `pause-${n}.pids`);
    const tokenFile = path.join(tmp, `pause-${n}.token`);
    const { missionKey, agentKey } = await setup({
      command: [
        "bash",
        "-c",
        `${process.execPath} ${path.join(fixtures, "chatty.mjs")} & exec ${process.execPath} ${path.join(fixtures, "ignore-sigterm.mjs")}`,
      ],
      env: { PID_FILE: pidFile, TOKEN_FILE: tokenFile, CHATTY_MS: "300" },
      stop_grace_s: 8,
    });
    const key = await createTask(missionKey, agentKey);
    await t.json("POST", `/api/tasks/${key}/execute`);
    await waitStatus(key, "in_progress");
    const pids = await waitFor(() => (pidsIn(pidFile).length >= 3 ? pidsIn(pidFile) : null));
    const token = await waitFor(() => (fs.existsSync(tokenFile) && fs.readFileSync(tokenFile, "utf8")) || null);
    expect(
      (
        await t.json("POST", `/api/tasks/${key}/report`, {
          token,
          body: { progress: { logs: [{ message: "alive" }] } },
        })
      ).status,
    ).toBe(200);

    const p = await t.json("POST", `/api/missions/${missionKey}/pause`);
    // The answer did not wait for the grace: the agent that ignores SIGTERM is still there when it comes.
    expect(pids.some(alive)).toBe(true);
    expect(p.status).toBe(200);
    expect(p.body.data.status).toBe("paused");
    const blocked = await task(key);
    expect(blocked.status).toBe("blocked");
    expect(blocked.logs.map((l: any) => l.message)).toContain(
      "mission paused; the task will be dispatched again when the mission starts",
    );
    // The run's token died with the run: the paused task cannot be moved with it.
    const r = await t.json("POST", `/api/tasks/${key}/report`, {
      token,
      body: { progress: { status: "in_progress" } },
    });
    expect(r.status).toBe(401);
    expect((await task(key)).status).toBe("blocked");
    expect(pids.some(alive)).toBe(true); // SIGTERM ignored: still there during the grace
    await waitFor(() => pids.every((x) => !alive(x)), 20_000, "the agent's processes to be gone after the grace");
    const stopped = await waitFor(
      async () => (await trace({ task_id: key, event: "runtime.run_stopped" }))[0] ?? null,
      20_000,
      "the exit entry",
    );
    expect(stopped.data).toMatchObject({ exit: "agent process stopped", grace_ms: 8_000 });
    // The agent is no longer held by a run: idle, with why (and, silent past the 1 s window, offline after).
    const changes = (await trace({ agent_id: agentKey, event: "agent.status_changed" })).map((e) => e.data);
    expect(changes).toContainEqual({ from: "working", to: "idle", reason: "run" });
    expect((await agent(agentKey)).run).toBeNull();
    const idled = await t.database.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM trace_entries WHERE agent_id = $1 AND event = 'agent.status_changed' AND data->>'to' = 'idle' AND mission_id = $2",
      [agentKey, missionKey],
    );
    expect(idled[0]!.n).toBe(1);
  });

  test("cancel fails every open task with the reason in the same answer; pending_review stays", async () => {
    const pidFile = path.join(tmp, `cancel-${n}.pids`);
    const { missionKey, agentKey } = await setup({ command: agentCmd("hang.mjs"), env: { PID_FILE: pidFile } });
    const running = await createTask(missionKey, agentKey);
    await t.json("POST", `/api/tasks/${running}/execute`);
    await waitStatus(running, "in_progress");
    const [pid] = await waitFor(() => (pidsIn(pidFile).length ? pidsIn(pidFile) : null));
    const byStatus: Record<string, string> = {};
    for (const s of ["pending", "blocked", "rejected", "pending_review"]) {
      const k = await createTask(missionKey, null);
      const moves: Record<string, string[]> = {
        pending: [],
        blocked: ["blocked"],
        rejected: ["in_progress", "pending_review"],
        pending_review: ["in_progress", "pending_review"],
      };
      for (const to of moves[s]!)
        expect((await t.json("POST", `/api/tasks/${k}/report`, { body: { progress: { status: to } } })).status).toBe(
          200,
        );
      if (s === "rejected")
        expect((await t.json("POST", `/api/tasks/${k}/reject`, { body: { comment: "no" } })).status).toBe(200);
      expect((await task(k)).status).toBe(s);
      byStatus[s] = k;
    }
    const c = await t.json("PATCH", `/api/missions/${missionKey}`, { body: { status: "cancelled" } });
    expect(c.status).toBe(200);
    for (const k of [running, byStatus.pending!, byStatus.blocked!, byStatus.rejected!]) {
      const x = await task(k);
      expect(x.status, k).toBe("failed");
      expect(x.logs.map((l: any) => l.message)).toContain("mission cancelled");
      const moved = (await trace({ task_id: k, event: "task.status_changed" })).at(-1)!;
      expect(moved.data).toMatchObject({ to: "failed", via: "mission", comment: "mission cancelled" });
    }
    expect((await task(byStatus.pending_review!)).status).toBe("pending_review");
    await waitFor(() => !alive(pid!), 10_000, "the run's process to be gone");
    // Nothing is stranded: a failed task of a cancelled mission is closed, and no dispatch is left live.
    const live = await t.database.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM dispatches d JOIN missions m ON m.id = d.mission_id WHERE m.mission_id = $1 AND d.status IN ('queued', 'running', 'awaiting_approval')",
      [missionKey],
    );
    expect(live[0]!.n).toBe(0);
  });
});

describe("a run's token dies with the run", () => {
  test("during the run it acts on its task only (403 elsewhere); after the run it is 401; last_used_at moves", async () => {
    const tokenFile = path.join(tmp, `tok-${n}.token`);
    const stopFile = path.join(tmp, `tok-${n}.stop`);
    const { missionKey, agentKey } = await setup({
      command: agentCmd("chatty.mjs"),
      env: { TOKEN_FILE: tokenFile, STOP_FILE: stopFile, CHATTY_MS: "200" },
    });
    const key = await createTask(missionKey, agentKey);
    const other = await createTask(missionKey, agentKey);
    await t.json("POST", `/api/tasks/${key}/execute`);
    const token = await waitFor(() => (fs.existsSync(tokenFile) && fs.readFileSync(tokenFile, "utf8")) || null);
    const own = await t.json("POST", `/api/tasks/${key}/report`, {
      token,
      body: { progress: { logs: [{ message: "mine" }] } },
    });
    expect(own.status).toBe(200);
    const elsewhere = await t.json("POST", `/api/tasks/${other}/report`, {
      token,
      body: { progress: { status: "in_progress" } },
    });
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.body).toEqual({ errors: { detail: "Forbidden" } });
    expect((await task(other)).status).toBe("pending");

    // last_used_at is kept without a write per request: the noted uses are written by one flush.
    const services = t.app.services;
    await services.tokens.flushUsage();
    const used = await t.database.query<{ last_used_at: Date | null }>(
      "SELECT last_used_at FROM api_tokens WHERE name = 'run-' || (SELECT max(id) FROM dispatches d WHERE d.task_id = (SELECT id FROM tasks WHERE task_id = $1))",
      [key],
    );
    expect(used[0]!.last_used_at).not.toBeNull();
    const first = used[0]!.last_used_at!.getTime();
    await new Promise((r) => setTimeout(r, 50));
    await t.json("GET", `/api/tasks/${key}`, { token });
    await services.tokens.flushUsage();
    const again = await t.database.query<{ last_used_at: Date }>(
      "SELECT last_used_at FROM api_tokens WHERE name = 'run-' || (SELECT max(id) FROM dispatches d WHERE d.task_id = (SELECT id FROM tasks WHERE task_id = $1))",
      [key],
    );
    expect(again[0]!.last_used_at.getTime()).toBeGreaterThan(first);
    const listed = (await t.json("GET", "/api/tokens", { query: { limit: "500" } })).body.data.find(
      (x: any) => x.name?.startsWith("run-") && x.last_used_at,
    );
    expect(listed).toBeTruthy();

    fs.writeFileSync(stopFile, "");
    await waitStatus(key, "pending_review");
    const after = await t.json("GET", `/api/tasks/${key}`, { token });
    expect(after.status).toBe(401);
    expect(after.headers["www-authenticate"]).toMatch(/^Bearer/);
    // No run token of a finished run is left active.
    const active = await t.database.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM api_tokens k JOIN dispatches d ON d.id = k.dispatch_id WHERE k.revoked_at IS NULL AND d.status NOT IN ('queued', 'running', 'awaiting_approval', 'delivered')",
    );
    expect(active[0]!.n).toBe(0);
  });
});
