// The mission runtime with real agent processes (test/fixtures/agents) and a real HTTP port for them to
// call back on.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, waitFor, type TestContext } from "../harness.js";
import type { startWebhookReceiver } from "../fixtures/webhook-receiver.js";

type WebhookReceiver = Awaited<ReturnType<typeof startWebhookReceiver>>;

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/agents");
const agentCmd = (file: string) => [process.execPath, path.join(fixtures, file)];

let t: TestContext;
let n = 0;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mc-rt-"));

beforeAll(async () => {
  t = await createTestContext({}, { listen: true });
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

async function setup(
  agentConfig: Record<string, unknown>,
  opts: { adapter?: string; capabilities?: string[]; start?: boolean } = {},
) {
  n++;
  const missionKey = `rt-mission-${n}`;
  const agentKey = `rt-agent-${n}`;
  expect(
    (await t.json("POST", "/api/missions", { body: { mission_id: missionKey, goal: "runtime test" } })).status,
  ).toBe(201);
  const a = await t.json("POST", "/api/agents", {
    body: {
      agent_id: agentKey,
      adapter_module: opts.adapter ?? "command",
      capabilities: opts.capabilities ?? [],
      config: agentConfig,
    },
  });
  expect(a.status).toBe(201);
  expect((await t.json("POST", `/api/missions/${missionKey}/agents`, { body: { agent_id: agentKey } })).status).toBe(
    201,
  );
  if (opts.start !== false) expect((await t.json("POST", `/api/missions/${missionKey}/start`)).status).toBe(200);
  return { missionKey, agentKey };
}

async function createTask(missionKey: string, body: Record<string, unknown> = {}) {
  const r = await t.json("POST", `/api/missions/${missionKey}/tasks`, {
    body: { objective: "Implement login endpoint", ...body },
  });
  expect(r.status).toBe(201);
  return r.body.data.task_id as string;
}

async function task(key: string) {
  return (await t.json("GET", `/api/tasks/${key}`)).body.data;
}

async function waitStatus(key: string, status: string, timeoutMs = 15_000) {
  return waitFor(
    async () => {
      const x = await task(key);
      return x.status === status ? x : null;
    },
    timeoutMs,
    `task ${key} to be ${status}`,
  );
}

async function traceEvents(q: Record<string, string>) {
  return (await t.json("GET", "/api/trace", { query: { ...q, limit: "500" } })).body.data as Array<{
    event: string;
    data: any;
    actor: string;
  }>;
}

describe("dispatch to completion", () => {
  test("the command agent runs, its output becomes logs, its own report lands, exit 0 → pending_review", async () => {
    const { missionKey, agentKey } = await setup({ command: agentCmd("report-and-exit.mjs") });
    const key = await createTask(missionKey, { agent_id: agentKey });
    const ex = await t.json("POST", `/api/tasks/${key}/execute`);
    expect(ex.status).toBe(202);
    expect(ex.body.data).toMatchObject({
      task_id: key,
      mission_id: missionKey,
      agent_id: agentKey,
      status: "queued",
      attempt: 1,
    });

    const done = await waitStatus(key, "pending_review");
    expect(done.outputs).toEqual({ files_changed: 3, mission: missionKey });
    const messages = done.logs.map((l: any) => [l.level ?? null, l.message]);
    expect(messages).toEqual(
      expect.arrayContaining([
        ["info", "starting " + key + ": Implement login endpoint"],
        ["warn", "a warning on stderr"],
        ["info", "report answered 200"],
      ]),
    );
    expect(done.logs.map((l: any) => l.message)).toContain("Tests passing");

    const moves = (await traceEvents({ task_id: key, event: "task.status_changed" })).map((e) => [
      e.data.from,
      e.data.to,
      e.data.via,
    ]);
    expect(moves).toEqual([
      ["pending", "in_progress", "dispatch"],
      ["in_progress", "pending_review", "dispatch"],
    ]);
    const activity = (await traceEvents({ agent_id: agentKey, event: "agent.activity" })).map((e) => e.data.event);
    expect(activity).toEqual(["task_start", "task_complete"]);
    const agent = (await t.json("GET", `/api/agents/${agentKey}`)).body.data;
    expect(agent.status).toBe("idle");
    const d = await t.json("GET", `/api/dispatches/${ex.body.data.id}`);
    expect(d.body.data.status).toBe("succeeded");
  });

  test("mission reads show the tree and its workers", async () => {
    const { missionKey, agentKey } = await setup({ command: agentCmd("hang.mjs"), timeout_s: 30 });
    const m = await t.json("GET", `/api/missions/${missionKey}`);
    expect(m.body.data.runtime).toEqual({
      running: true,
      workers: [{ agent_id: agentKey, state: "idle", current_task_id: null }],
    });
    const key = await createTask(missionKey, { agent_id: agentKey });
    await t.json("POST", `/api/tasks/${key}/execute`);
    await waitStatus(key, "in_progress");
    const running = await waitFor(async () => {
      const r = (await t.json("GET", `/api/missions/${missionKey}`)).body.data.runtime;
      return r.workers[0]?.state === "running" ? r : null;
    });
    expect(running.workers[0]).toEqual({ agent_id: agentKey, state: "running", current_task_id: key });
    await t.json("POST", `/api/missions/${missionKey}/pause`);
    expect((await t.json("GET", `/api/missions/${missionKey}`)).body.data.runtime).toEqual({
      running: false,
      workers: [],
    });
  });
});

describe("supervision", () => {
  test("a crash fails the task with the reason, retries with backoff, then escalates the worker", async () => {
    const { missionKey, agentKey } = await setup({
      command: agentCmd("crash.mjs"),
      max_retries: 1,
      retry_backoff_s: 0.05,
      max_restarts: 1,
      restart_window_s: 60,
    });
    const key = await createTask(missionKey, { agent_id: agentKey });
    expect((await t.json("POST", `/api/tasks/${key}/execute`)).status).toBe(202);
    await waitFor(
      async () => (await traceEvents({ agent_id: agentKey, event: "runtime.worker_escalated" })).length === 1,
      15_000,
      "escalation",
    );
    const x = await task(key);
    expect(x.status).toBe("failed");
    const errors = x.logs.filter((l: any) => l.level === "error").map((l: any) => l.message);
    expect(errors).toEqual([
      "run failed: agent process exited with code 3",
      "run failed: agent process exited with code 3",
    ]);
    const moves = (await traceEvents({ task_id: key, event: "task.status_changed" })).map(
      (e) => `${e.data.from}>${e.data.to}`,
    );
    expect(moves).toEqual([
      "pending>in_progress",
      "in_progress>failed",
      "failed>pending",
      "pending>in_progress",
      "in_progress>failed",
    ]);
    const dispatches = (await traceEvents({ task_id: key, event: "task.dispatched" })).map((e) => e.data.attempt);
    expect(dispatches).toEqual([1, 2]);
    const agent = (await t.json("GET", `/api/agents/${agentKey}`)).body.data;
    expect(agent.status).toBe("error");
    const rt = (await t.json("GET", `/api/missions/${missionKey}`)).body.data.runtime;
    expect(rt.workers[0].state).toBe("escalated");
    // An escalated worker takes no more work: a new dispatch stays queued.
    const key2 = await createTask(missionKey, { agent_id: agentKey });
    const ex2 = await t.json("POST", `/api/tasks/${key2}/execute`);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await t.json("GET", `/api/dispatches/${ex2.body.data.id}`)).body.data.status).toBe("queued");
  });

  test("one agent's crashes do not disturb another's worker", async () => {
    const { missionKey, agentKey } = await setup({ command: agentCmd("crash.mjs"), max_restarts: 0 });
    await t.json("POST", "/api/agents", {
      body: {
        agent_id: `${agentKey}-good`,
        adapter_module: "command",
        config: { command: agentCmd("report-and-exit.mjs") },
      },
    });
    await t.json("POST", `/api/missions/${missionKey}/agents`, { body: { agent_id: `${agentKey}-good` } });
    const bad = await createTask(missionKey, { agent_id: agentKey });
    const good = await createTask(missionKey, { agent_id: `${agentKey}-good` });
    await t.json("POST", `/api/tasks/${bad}/execute`);
    await t.json("POST", `/api/tasks/${good}/execute`);
    await waitStatus(bad, "failed");
    await waitStatus(good, "pending_review");
  });

  test("a run past config.timeout_s is killed and fails the task", async () => {
    const pidFile = path.join(tmp, `timeout-${n}.pids`);
    const { missionKey, agentKey } = await setup({
      command: agentCmd("hang.mjs"),
      timeout_s: 1,
      env: { PID_FILE: pidFile },
    });
    const key = await createTask(missionKey, { agent_id: agentKey });
    await t.json("POST", `/api/tasks/${key}/execute`);
    const failed = await waitStatus(key, "failed");
    expect(failed.logs.map((l: any) => l.message)).toContain("run failed: agent process timed out after 1 s");
    const pid = Number(fs.readFileSync(pidFile, "utf8").trim());
    expect(alive(pid)).toBe(false);
  });
});

describe("pause and resume", () => {
  test("pause kills the whole process group (SIGTERM ignored → SIGKILL), blocks the task; start dispatches it again", async () => {
    const pidFile = path.join(tmp, `pause-${n}.pids`);
    const { missionKey, agentKey } = await setup({
      command: agentCmd("ignore-sigterm.mjs"),
      stop_grace_s: 0.3,
      env: { PID_FILE: pidFile },
    });
    const key = await createTask(missionKey, { agent_id: agentKey });
    await t.json("POST", `/api/tasks/${key}/execute`);
    const pids = await waitFor(() => {
      const lines = fs.existsSync(pidFile) ? fs.readFileSync(pidFile, "utf8").trim().split("\n").filter(Boolean) : [];
      return lines.length >= 2 ? lines.map(Number) : null;
    });
    expect(pids.every(alive)).toBe(true);
    const p = await t.json("POST", `/api/missions/${missionKey}/pause`);
    expect(p.status).toBe(200);
    await waitFor(() => pids.every((x) => !alive(x)), 5_000, "agent processes to be gone");
    const blocked = await waitStatus(key, "blocked");
    expect(blocked.logs.map((l: any) => l.message)).toContain(
      "mission paused; the task will be dispatched again when the mission starts",
    );

    fs.writeFileSync(pidFile, "");
    expect((await t.json("POST", `/api/missions/${missionKey}/start`)).status).toBe(200);
    await waitStatus(key, "in_progress");
    const again = await waitFor(() => {
      const lines = fs.readFileSync(pidFile, "utf8").trim().split("\n").filter(Boolean);
      return lines.length >= 2 ? lines.map(Number) : null;
    });
    expect(again[0]).not.toBe(pids[0]);
    await t.json("PATCH", `/api/missions/${missionKey}`, { body: { status: "cancelled" } });
    await waitFor(() => again.every((x) => !alive(x)), 5_000, "processes gone after cancel");
  });
});

describe("capability routing", () => {
  test("no agent assigned: the least busy agent whose capabilities cover the task's is chosen and traced", async () => {
    const { missionKey, agentKey } = await setup({}, { adapter: "manual", capabilities: ["coding"] });
    const second = `${agentKey}-tester`;
    await t.json("POST", "/api/agents", {
      body: { agent_id: second, adapter_module: "manual", capabilities: ["coding", "testing"] },
    });
    await t.json("POST", `/api/missions/${missionKey}/agents`, { body: { agent_id: second } });

    const key = await createTask(missionKey, { required_capabilities: ["testing"] });
    const ex = await t.json("POST", `/api/tasks/${key}/execute`);
    expect(ex.status).toBe(202);
    expect(ex.body.data.agent_id).toBe(second);
    expect((await task(key)).agent_id).toBe(second);
    const choice = (await traceEvents({ task_id: key, event: "task.updated" })).at(-1)!;
    expect(choice.data.changes).toEqual({ agent_id: second });
    expect(choice.data.via).toBe("dispatch");

    // Both fit "coding": the one with less queued work wins.
    const k2 = await createTask(missionKey, { required_capabilities: ["coding"] });
    const ex2 = await t.json("POST", `/api/tasks/${k2}/execute`);
    expect(ex2.body.data.agent_id).toBe(agentKey);

    const k3 = await createTask(missionKey, { required_capabilities: ["deploying"] });
    const none = await t.json("POST", `/api/tasks/${k3}/execute`);
    expect(none.status).toBe(422);
    expect(none.body).toEqual({ errors: { agent_id: ["no agent on the mission has the capabilities deploying"] } });
    expect((await task(k3)).agent_id).toBeNull();
  });

  test("the manual adapter hands the task over: it stays pending for the agent to pull", async () => {
    const { missionKey, agentKey } = await setup({}, { adapter: "manual" });
    const key = await createTask(missionKey, { agent_id: agentKey });
    const ex = await t.json("POST", `/api/tasks/${key}/execute`);
    await waitFor(
      async () => (await t.json("GET", `/api/dispatches/${ex.body.data.id}`)).body.data.status === "delivered",
    );
    expect((await task(key)).status).toBe("pending");
    const token = await t.agentToken(agentKey);
    const mine = await t.json("GET", "/api/tasks", { token, query: { agent_id: agentKey, status: "pending" } });
    expect(mine.body.data.map((x: any) => x.task_id)).toContain(key);
    expect((await traceEvents({ task_id: key, event: "task.handed_over" })).length).toBe(1);
  });
});

describe("execute: errors and access", () => {
  test("error table", async () => {
    const { missionKey, agentKey } = await setup({}, { adapter: "manual", start: false });
    const key = await createTask(missionKey, { agent_id: agentKey });
    const notActive = await t.json("POST", `/api/tasks/${key}/execute`);
    expect(notActive.status).toBe(422);
    expect(notActive.body).toEqual({ errors: { mission_id: ["mission is planning, not active"] } });

    await t.json("POST", `/api/missions/${missionKey}/start`);
    const other = `${agentKey}-elsewhere`;
    await t.json("POST", "/api/agents", { body: { agent_id: other } });
    const offMission = await createTask(missionKey, { agent_id: other });
    const r1 = await t.json("POST", `/api/tasks/${offMission}/execute`);
    expect(r1.status).toBe(422);
    expect(r1.body).toEqual({ errors: { agent_id: ["is not on the mission"] } });

    const done = await createTask(missionKey, { agent_id: agentKey });
    await t.json("POST", `/api/tasks/${done}/report`, { body: { progress: { status: "in_progress" } } });
    const r2 = await t.json("POST", `/api/tasks/${done}/execute`);
    expect(r2.status).toBe(422);
    expect(r2.body).toEqual({ errors: { status: ["cannot execute a task that is in_progress"] } });

    expect((await t.json("POST", "/api/tasks/nope/execute")).status).toBe(404);
    const unknown = await t.json("POST", `/api/tasks/${key}/execute`, { body: { force: true } });
    expect(unknown.status).toBe(422);
    expect(unknown.body).toEqual({ errors: { force: ["is not a known field"] } });
  });

  test("racing executes of one task: exactly one dispatch", async () => {
    const { missionKey, agentKey } = await setup({ command: agentCmd("hang.mjs"), timeout_s: 5 }, { start: false });
    // Not started: nothing claims the dispatch while the race runs.
    await t.json("POST", `/api/missions/${missionKey}/start`);
    await t.json("POST", `/api/missions/${missionKey}/pause`);
    await t.json("POST", `/api/missions/${missionKey}/start`);
    const key = await createTask(missionKey, { agent_id: agentKey });
    const rs = await Promise.all(Array.from({ length: 5 }, () => t.json("POST", `/api/tasks/${key}/execute`)));
    expect(rs.filter((r) => r.status === 202)).toHaveLength(1);
    for (const r of rs.filter((x) => x.status !== 202)) {
      expect(r.status).toBe(422);
    }
    expect((await traceEvents({ task_id: key, event: "task.dispatched" })).length).toBe(1);
    await t.json("POST", `/api/missions/${missionKey}/pause`);
  });

  test("no token → 401; agent token → 403", async () => {
    const { missionKey, agentKey } = await setup({}, { adapter: "manual" });
    const key = await createTask(missionKey, { agent_id: agentKey });
    expect((await t.json("POST", `/api/tasks/${key}/execute`, { token: null })).status).toBe(401);
    const agentTok = await t.agentToken(agentKey);
    expect((await t.json("POST", `/api/tasks/${key}/execute`, { token: agentTok })).status).toBe(403);
    expect((await t.json("GET", "/api/dispatches/1", { token: agentTok })).status).toBe(403);
    expect((await t.json("POST", `/api/tasks/${key}/execute`, { token: t.member })).status).toBe(202);
  });
});

describe("webhook adapter", () => {
  /** A task of a webhook agent, executed: delivered (202) and in progress, with `fn` run while the receiver is up. */
  async function delivered(fn: (run: { key: string; missionKey: string; hook: WebhookReceiver }) => Promise<void>) {
    const hook = await (await import("../fixtures/webhook-receiver.js")).startWebhookReceiver("s3cret", [202]);
    try {
      const { missionKey, agentKey } = await setup({ url: hook.url, secret: "s3cret" }, { adapter: "webhook" });
      const key = await createTask(missionKey, { agent_id: agentKey });
      await t.json("POST", `/api/tasks/${key}/execute`);
      await waitStatus(key, "in_progress");
      await fn({ key, missionKey, hook });
    } finally {
      await hook.close();
    }
  }

  test("POSTs the task signed with the secret and the run token; 2xx → in_progress; the remote agent reports", async () => {
    await delivered(async ({ key, missionKey, hook }) => {
      expect(hook.deliveries).toHaveLength(1);
      const d = hook.deliveries[0]!;
      expect(d.signatureValid).toBe(true);
      expect(d.body.task).toMatchObject({
        task_id: key,
        objective: "Implement login endpoint",
        mission_id: missionKey,
      });
      expect(d.body.api_url).toBe(t.url);
      // The run token in the delivery is what the remote agent reports with, while the task is in progress.
      const token = String(d.headers.authorization).replace(/^Bearer /, "");
      const working = await t.json("POST", `/api/tasks/${key}/report`, {
        token,
        body: { progress: { logs: [{ message: "working on it" }] } },
      });
      expect(working.status).toBe(200);
      expect((await t.json("GET", `/api/tasks/${key}`, { token })).status).toBe(200);
      const rep = await t.json("POST", `/api/tasks/${key}/report`, {
        token,
        body: { progress: { status: "pending_review" } },
      });
      expect(rep.status).toBe(200);
      // The task left in_progress: the remote agent's work, its run, is over, and so is its token.
      expect((await t.json("GET", `/api/tasks/${key}`, { token })).status).toBe(401);
      expect(
        (await t.json("POST", `/api/tasks/${key}/report`, { token, body: { progress: { logs: [{ message: "x" }] } } }))
          .status,
      ).toBe(401);
    });
  });

  test("a member's PATCH moving the task out of in_progress ends the run's token too", async () => {
    await delivered(async ({ key, hook }) => {
      const token = String(hook.deliveries[0]!.headers.authorization).replace(/^Bearer /, "");
      expect((await t.json("GET", `/api/tasks/${key}`, { token })).status).toBe(200);
      const moved = await t.json("PATCH", `/api/tasks/${key}`, { body: { status: "blocked" } });
      expect(moved.status).toBe(200);
      expect(moved.body.data.status).toBe("blocked");
      expect((await t.json("GET", `/api/tasks/${key}`, { token })).status).toBe(401);
    });
  });

  test("non-2xx answers are retried with backoff; success on the third try", async () => {
    const hook = await (await import("../fixtures/webhook-receiver.js")).startWebhookReceiver("k", [500, 503, 200]);
    try {
      const { missionKey, agentKey } = await setup(
        { url: hook.url, secret: "k", delivery_backoff_ms: 20 },
        { adapter: "webhook" },
      );
      const key = await createTask(missionKey, { agent_id: agentKey });
      await t.json("POST", `/api/tasks/${key}/execute`);
      const x = await waitStatus(key, "in_progress");
      expect(hook.deliveries).toHaveLength(3);
      expect(hook.deliveries.every((d) => d.signatureValid)).toBe(true);
      expect(x.logs.filter((l: any) => l.level === "warn").map((l: any) => l.message)).toEqual([
        "delivery attempt 1 of 3 failed: webhook answered HTTP 500",
        "delivery attempt 2 of 3 failed: webhook answered HTTP 503",
      ]);
    } finally {
      await hook.close();
    }
  });

  test("a receiver that keeps failing fails the task with the reason", async () => {
    const hook = await (await import("../fixtures/webhook-receiver.js")).startWebhookReceiver("k", [500]);
    try {
      const { missionKey, agentKey } = await setup(
        { url: hook.url, secret: "k", delivery_backoff_ms: 10 },
        { adapter: "webhook" },
      );
      const key = await createTask(missionKey, { agent_id: agentKey });
      await t.json("POST", `/api/tasks/${key}/execute`);
      const x = await waitStatus(key, "failed");
      expect(x.logs.map((l: any) => l.message)).toContain("run failed: webhook answered HTTP 500");
      expect(hook.deliveries).toHaveLength(3);
    } finally {
      await hook.close();
    }
  });

  test("an unreachable receiver fails the task", async () => {
    const { missionKey, agentKey } = await setup(
      { url: "http://127.0.0.1:9/hook", secret: "k", delivery_backoff_ms: 10, delivery_attempts: 2 },
      { adapter: "webhook" },
    );
    const key = await createTask(missionKey, { agent_id: agentKey });
    await t.json("POST", `/api/tasks/${key}/execute`);
    const x = await waitStatus(key, "failed");
    expect(x.logs.some((l: any) => /^run failed: webhook unreachable/.test(l.message))).toBe(true);
  });
});

describe("workers and membership", () => {
  test("one task at a time by default, the rest wait in order; max_concurrency runs more", async () => {
    const { missionKey, agentKey } = await setup({ command: agentCmd("hang.mjs"), timeout_s: 20 });
    const [a, b] = [
      await createTask(missionKey, { agent_id: agentKey }),
      await createTask(missionKey, { agent_id: agentKey }),
    ];
    const da = await t.json("POST", `/api/tasks/${a}/execute`);
    const db = await t.json("POST", `/api/tasks/${b}/execute`);
    await waitStatus(a, "in_progress");
    await new Promise((r) => setTimeout(r, 1200));
    expect((await task(b)).status).toBe("pending");
    expect((await t.json("GET", `/api/dispatches/${db.body.data.id}`)).body.data.status).toBe("queued");
    expect((await t.json("GET", `/api/dispatches/${da.body.data.id}`)).body.data.status).toBe("running");

    // Raising max_concurrency lets the waiting one start.
    await t.json("PATCH", `/api/agents/${agentKey}`, {
      body: { config: { command: agentCmd("hang.mjs"), timeout_s: 20, max_concurrency: 2 } },
    });
    await waitStatus(b, "in_progress");
    await t.json("POST", `/api/missions/${missionKey}/pause`);
    await waitStatus(a, "blocked");
    await waitStatus(b, "blocked");
  });

  test("adding an agent to an active mission starts its worker; removing it stops the worker and its run", async () => {
    const pidFile = path.join(tmp, `members-${n}.pids`);
    const { missionKey, agentKey } = await setup({}, { adapter: "manual" });
    const late = `${agentKey}-late`;
    await t.json("POST", "/api/agents", {
      body: {
        agent_id: late,
        adapter_module: "command",
        config: { command: agentCmd("hang.mjs"), env: { PID_FILE: pidFile } },
      },
    });
    expect(
      (await t.json("GET", `/api/missions/${missionKey}`)).body.data.runtime.workers.map((w: any) => w.agent_id),
    ).toEqual([agentKey]);
    await t.json("POST", `/api/missions/${missionKey}/agents`, { body: { agent_id: late } });
    const workers = (await t.json("GET", `/api/missions/${missionKey}`)).body.data.runtime.workers.map(
      (w: any) => w.agent_id,
    );
    expect(workers).toEqual([agentKey, late]);

    const key = await createTask(missionKey, { agent_id: late });
    await t.json("POST", `/api/tasks/${key}/execute`);
    const [pid] = await waitFor(() => (pidsIn(pidFile).length ? pidsIn(pidFile) : null));
    expect((await t.req("DELETE", `/api/missions/${missionKey}/agents/${late}`)).statusCode).toBe(204);
    await waitFor(() => !alive(pid!), 10_000, "the removed agent's process to be stopped");
    const blocked = await waitStatus(key, "blocked");
    expect(blocked.logs.map((l: any) => l.message)).toContain("agent was taken off the mission");
    expect(
      (await t.json("GET", `/api/missions/${missionKey}`)).body.data.runtime.workers.map((w: any) => w.agent_id),
    ).toEqual([agentKey]);
  });
});

function pidsIn(file: string) {
  return fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim().split("\n").filter(Boolean).map(Number) : [];
}
