// What agents do shows in the server's own log (issue 23, item 9): a dispatch, a run's start (pid) and end
// (duration, reason), a spawn failure, a retry, an escalation and a run that cannot start, each one line at
// info or warn with task_id and agent_id. The production logger (src/logger.ts) writes into memory here.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { waitFor } from "../harness.js";
import { startLiveApp, type LiveApp } from "../security/server.js";

let live: LiveApp;
let n = 0;
beforeAll(async () => {
  live = await startLiveApp({ MC_MAX_EVENT_LOOP_DELAY_MS: "0" });
});
afterAll(async () => {
  await live.close();
});

type Line = { level: number; msg: string; task_id?: string; agent_id?: string; [k: string]: unknown };
const lines = (): Line[] =>
  live.logs
    .flatMap((l) => l.split("\n"))
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Line);
const INFO = 30;
const WARN = 40;

/** A mission with one command agent, a task for it, executed; returns the keys. */
async function run(config: Record<string, unknown>) {
  n++;
  const mission = `log-mission-${n}`;
  const agent = `log-agent-${n}`;
  expect((await live.call("POST", "/api/missions", { body: { mission_id: mission, goal: "g" } })).status).toBe(201);
  const a = await live.call("POST", "/api/agents", { body: { agent_id: agent, ...config } });
  expect(a.status, a.text).toBe(201);
  expect((await live.call("POST", `/api/missions/${mission}/agents`, { body: { agent_id: agent } })).status).toBe(201);
  expect((await live.call("POST", `/api/missions/${mission}/start`)).status).toBe(200);
  const task = (
    await live.call("POST", `/api/missions/${mission}/tasks`, { body: { objective: "o", agent_id: agent } })
  ).json.data.task_id as string;
  expect((await live.call("POST", `/api/tasks/${task}/execute`)).status).toBe(202);
  return { mission, agent, task };
}

const lineFor = (msg: string, task: string) =>
  waitFor(() => lines().find((l) => l.msg === msg && l.task_id === task), 20_000, `log line "${msg}" for ${task}`);

describe("the server log says what agents do", () => {
  test("dispatch, start with pid, success with duration", async () => {
    const { agent, task, mission } = await run({
      adapter_module: "command",
      config: { command: ["sh", "-c", "echo hi"] },
    });
    const dispatched = await lineFor("task dispatched", task);
    expect(dispatched).toMatchObject({
      level: INFO,
      agent_id: agent,
      mission_id: mission,
      dispatch_id: expect.any(Number),
    });
    const started = await lineFor("agent run started", task);
    expect(started).toMatchObject({
      level: INFO,
      agent_id: agent,
      adapter: "command",
      run_pid: expect.any(Number),
      attempt: 1,
    });
    // The process's own pid stays under `pid` (pino's), not overwritten by the agent's.
    expect(started.pid).toBe(process.pid);
    const ended = await lineFor("agent run succeeded", task);
    expect(ended).toMatchObject({
      level: INFO,
      agent_id: agent,
      run_pid: started.run_pid,
      duration_ms: expect.any(Number),
    });
  });

  test("a spawn failure (ENOENT) is a warn line with the reason", async () => {
    const { agent, task } = await run({
      adapter_module: "command",
      config: { command: ["/nonexistent/mc-agent-bin"] },
    });
    const failed = await lineFor("agent run failed", task);
    expect(failed).toMatchObject({ level: WARN, agent_id: agent });
    expect(failed.reason).toBe("agent process could not start: spawn /nonexistent/mc-agent-bin ENOENT");
  });

  test("a failed run with retries left: the failure (exit code) and the retry", async () => {
    const { agent, task } = await run({
      adapter_module: "command",
      config: { command: ["sh", "-c", "exit 3"], max_retries: 1, retry_backoff_s: 0 },
    });
    expect((await lineFor("agent run failed", task)).reason).toBe("agent process exited with code 3");
    const retry = await lineFor("agent run will be retried", task);
    expect(retry).toMatchObject({ level: WARN, agent_id: agent, next_attempt: 2 });
  });

  test("an escalation is a warn line with its reason", async () => {
    const { agent, task } = await run({
      adapter_module: "command",
      config: { command: ["sh", "-c", "exit 1"], max_restarts: 0 },
    });
    const esc = await lineFor("agent worker escalated: it takes no more work until reset", task);
    expect(esc).toMatchObject({
      level: WARN,
      agent_id: agent,
      reason: "1 crashes within 60 s (max_restarts 0)",
      last_failure: "agent process exited with code 1",
    });
  });

  test("a CLI agent whose binary is missing: the run cannot start, said once with the reason", async () => {
    const { agent, task } = await run({ adapter_module: "codex", config: { binary: "mc-no-such-codex" } });
    const line = await lineFor("run cannot start", task);
    expect(line).toMatchObject({
      level: WARN,
      agent_id: agent,
      reason: "codex binary mc-no-such-codex is not on this server's PATH",
    });
    expect(lines().some((l) => l.msg === "agent run started" && l.task_id === task)).toBe(false);
  });
});
