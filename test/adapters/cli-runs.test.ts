// Coding-agent runs end to end: the runtime runs the fake `claude`, `codex` and `gemini` executables
// (test/fixtures/fake-cli) in a task's own git worktree of a real temporary repository, and what they print
// shows up on the task (logs, outputs) and the agent (activity), live.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, waitFor, type TestContext } from "../harness.js";
import { branchExists, git, makeRepo, tmpDir } from "./git.js";
import { fakeCliDir } from "./recordings.js";

let t: TestContext;
const dataDir = tmpDir("mc-data-");
const scratch = tmpDir("mc-scratch-");
const repos: string[] = [];

beforeAll(async () => {
  t = await createTestContext({ MC_DATA_DIR: dataDir }, { listen: true });
});
afterAll(async () => {
  await t.close();
  for (const d of [dataDir, scratch, ...repos]) fs.rmSync(d, { recursive: true, force: true });
});

const CLIS = {
  claude_code: "claude",
  codex: "codex",
  gemini_cli: "gemini",
} as const;
type Module = keyof typeof CLIS;

let n = 0;
async function setup(module: Module, config: Record<string, unknown>, opts: { repo?: boolean } = {}) {
  n++;
  const repo = opts.repo === false ? null : makeRepo();
  if (repo) repos.push(repo);
  const missionKey = `cli-mission-${n}`;
  const agentKey = `${module.replace("_", "-")}-${n}`;
  expect(
    (await t.json("POST", "/api/missions", { body: { mission_id: missionKey, goal: "Build authentication module" } }))
      .status,
  ).toBe(201);
  const a = await t.json("POST", "/api/agents", {
    body: {
      agent_id: agentKey,
      adapter_module: module,
      config: { binary: path.join(fakeCliDir, CLIS[module]), ...(repo ? { repo } : {}), ...config },
    },
  });
  expect(a.status).toBe(201);
  expect((await t.json("POST", `/api/missions/${missionKey}/agents`, { body: { agent_id: agentKey } })).status).toBe(
    201,
  );
  expect((await t.json("POST", `/api/missions/${missionKey}/start`)).status).toBe(200);
  return { missionKey, agentKey, repo: repo! };
}

async function createTask(missionKey: string, agentKey: string, body: Record<string, unknown> = {}) {
  const r = await t.json("POST", `/api/missions/${missionKey}/tasks`, {
    body: { objective: "Implement login endpoint", agent_id: agentKey, ...body },
  });
  expect(r.status).toBe(201);
  return r.body.data.task_id as string;
}

const task = async (key: string) => (await t.json("GET", `/api/tasks/${key}`)).body.data;
const agent = async (key: string) => (await t.json("GET", `/api/agents/${key}`)).body.data;
const messages = (x: { logs: Array<{ message: string }> }) => x.logs.map((l) => l.message);
const logsAt = (x: { logs: Array<{ message: string; level?: string }> }, level: string) =>
  x.logs.filter((l) => l.level === level).map((l) => l.message);

async function waitStatus(key: string, status: string, timeoutMs = 20_000) {
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

async function execute(key: string) {
  const r = await t.json("POST", `/api/tasks/${key}/execute`);
  expect(r.status).toBe(202);
  return r.body.data;
}

// What each recorded success does to the repository (see the recordings).
const EXPECTED: Record<
  Module,
  {
    files: number;
    insertions: number;
    deletions: number;
    outputs: Record<string, unknown>;
    tool: string;
    added: string[];
  }
> = {
  claude_code: {
    files: 3,
    insertions: 16,
    deletions: 0,
    outputs: {
      cost_usd: 0.0731,
      num_turns: 11,
      duration_ms: 48213,
      subtype: "success",
      model: "claude-sonnet-4-5-20250929",
    },
    tool: "tool: Bash node --test test/",
    added: ["src/login.js", "test/login.test.js"],
  },
  codex: {
    files: 2,
    insertions: 10,
    deletions: 0,
    outputs: { usage: { input_tokens: 24763, cached_input_tokens: 24448, output_tokens: 1122 }, num_turns: 1 },
    tool: "tool: command $ bash -lc ls",
    added: ["src/login.js", "test/login.test.js"],
  },
  gemini_cli: {
    files: 2,
    insertions: 6,
    deletions: 0,
    outputs: {
      usage: { input_tokens: 16890, output_tokens: 1344, total_tokens: 18234 },
      tool_calls: 3,
      status: "success",
      model: "gemini-2.5-pro",
    },
    tool: "tool: run_shell_command npm test",
    added: ["src/login.js"],
  },
};

describe.each(Object.keys(CLIS) as Module[])("%s", (module) => {
  test("runs headless in the task's own worktree; progress shows live; the result, branch and diff land on the task", async () => {
    const gate = path.join(scratch, `gate-${module}`);
    const { missionKey, agentKey, repo } = await setup(module, { env: { FAKE_GATE: gate } });
    const key = await createTask(missionKey, agentKey);
    await execute(key);

    // Live, while the CLI waits at the gate: the session is on the task, the agent is working on it.
    const worktree = path.join(dataDir, "worktrees", key);
    const branch = `agent/${agentKey}/${key}`;
    const started = `working in worktree ${worktree} on new branch ${branch} from main`;
    const live = await waitFor(async () => {
      const x = await task(key);
      return x.outputs.session_id && messages(x).includes(started) ? x : null;
    });
    expect(live.status).toBe("in_progress");
    expect(live.outputs.session_id).toMatch(/^[0-9a-f-]{36}$/);
    const a1 = await agent(agentKey);
    expect(a1).toMatchObject({ status: "working", current_task_id: key });
    expect((await traceEvents({ agent_id: agentKey, event: "agent.activity" })).map((e) => e.data.event)).toEqual([
      "session_start",
      "task_start",
    ]);
    expect(git(worktree, "rev-parse", "--abbrev-ref", "HEAD")).toBe(branch);

    fs.writeFileSync(gate, "go");
    const done = await waitStatus(key, "pending_review");
    const want = EXPECTED[module];
    const head = git(repo, "rev-parse", branch);
    expect(done.outputs).toMatchObject({
      ...want.outputs,
      session_id: live.outputs.session_id,
      result: expect.stringContaining("login"),
      branch,
      base_branch: "main",
      commit: head,
      files_changed: want.files,
      insertions: want.insertions,
      deletions: want.deletions,
    });
    expect(messages(done)).toContain(want.tool);
    expect(messages(done)).toContain(`committed what the agent left uncommitted as ${head.slice(0, 12)} on ${branch}`);

    // The branch holds the work, committed with the objective; the people's checkout never saw it.
    expect(git(repo, "log", "-1", "--format=%s", branch)).toBe("Implement login endpoint");
    for (const f of want.added) expect(git(repo, "cat-file", "-t", `${branch}:${f}`)).toBe("blob");
    expect(git(repo, "rev-parse", "--abbrev-ref", "HEAD")).toBe("main");
    expect(git(repo, "status", "--porcelain")).toBe("");
    expect(fs.existsSync(path.join(repo, "src"))).toBe(false);

    const a2 = await agent(agentKey);
    expect(a2).toMatchObject({ status: "idle", current_task_id: null });
    const activity = await traceEvents({ agent_id: agentKey, event: "agent.activity" });
    expect(activity.map((e) => e.data.event)).toEqual(["session_start", "task_start", "task_complete"]);
    expect(activity[0]!.data.context).toMatchObject({
      task_id: key,
      mission_id: missionKey,
      session_id: live.outputs.session_id,
      source: "runtime",
    });
    const reported = await traceEvents({ task_id: key, event: "task.reported" });
    expect(reported.at(-1)!.data.outputs).toMatchObject({ commit: head, files_changed: want.files });

    // In review the worktree stays; approved, the housekeeping pass removes it and keeps the branch.
    await t.app.services.housekeeping.pass();
    expect(fs.existsSync(worktree)).toBe(true);
    expect((await t.json("POST", `/api/tasks/${key}/approve`, { body: { comment: "LGTM" } })).status).toBe(200);
    await t.app.services.housekeeping.pass();
    expect(fs.existsSync(worktree)).toBe(false);
    expect(branchExists(repo, branch)).toBe(true);
    expect(git(repo, "worktree", "list").split("\n")).toHaveLength(1);
  });

  test("an error result fails the task with its reason; what the agent did is still committed", async () => {
    const { missionKey, agentKey, repo } = await setup(module, { env: { FAKE_SCENARIO: "error" } });
    const key = await createTask(missionKey, agentKey);
    await execute(key);
    const failed = await waitStatus(key, "failed");
    const reason = {
      claude_code: "claude_code ended with error_max_turns",
      codex: "codex turn failed: exceeded retry limit, last status: 429 Too Many Requests",
      gemini_cli:
        "gemini_cli ended with an error: Reached max session turns for this session. Increase the number of turns by specifying maxSessionTurns in settings.json.",
    }[module];
    expect(logsAt(failed, "error")).toContain(`run failed: ${reason}`);
    const branch = `agent/${agentKey}/${key}`;
    expect(failed.outputs).toMatchObject({ branch, commit: git(repo, "rev-parse", branch), files_changed: 1 });
    if (module === "claude_code")
      expect(failed.outputs).toMatchObject({ cost_usd: 0.0213, subtype: "error_max_turns" });
    expect(await agent(agentKey)).toMatchObject({ status: "error" });
    expect((await traceEvents({ agent_id: agentKey, event: "agent.activity" })).map((e) => e.data.event)).toEqual([
      "session_start",
      "task_start",
      "error",
    ]);
    // A failed task may be retried: its worktree stays.
    await t.app.services.housekeeping.pass();
    expect(fs.existsSync(path.join(dataDir, "worktrees", key))).toBe(true);
  });

  test("a crash midway fails the task; stderr is kept as warnings", async () => {
    const { missionKey, agentKey } = await setup(module, { env: { FAKE_SCENARIO: "crash" } });
    const key = await createTask(missionKey, agentKey);
    await execute(key);
    const failed = await waitStatus(key, "failed");
    const code = { claude_code: 1, codex: 101, gemini_cli: 134 }[module];
    expect(logsAt(failed, "error")).toContain(`run failed: ${module} process exited with code ${code}`);
    const warn = {
      claude_code: "Error: socket hang up",
      codex: "thread 'main' panicked at",
      gemini_cli: "FATAL ERROR: Reached heap limit",
    }[module];
    expect(logsAt(failed, "warn").some((m) => m.startsWith(warn))).toBe(true);
    expect(failed.outputs.files_changed).toBe(1);
  });

  test("garbage lines become raw logs and the run still succeeds", async () => {
    const { missionKey, agentKey } = await setup(module, { env: { FAKE_SCENARIO: "garbage" } });
    const key = await createTask(missionKey, agentKey);
    await execute(key);
    const done = await waitStatus(key, "pending_review");
    const raw = { claude_code: "[1, 2, 3]", codex: "--------", gemini_cli: "Data collection is disabled." }[module];
    expect(messages(done)).toContain(raw);
    expect(done.outputs).toMatchObject({ result: "Wrote NOTES.md.", files_changed: 1, insertions: 1 });
  });
});

describe("claude_code specifics", () => {
  test("a stdout line over 8 MiB is logged as truncated (its start only) and the run that succeeded still succeeds", async () => {
    const { missionKey, agentKey } = await setup("claude_code", { env: { FAKE_SCENARIO: "huge-line" } });
    const key = await createTask(missionKey, agentKey);
    await execute(key);
    const done = await waitStatus(key, "pending_review");
    const cut = logsAt(done, "warn").filter((m) =>
      m.startsWith("stdout line longer than 8388608 characters, truncated: 0123456789abcdef"),
    );
    expect(cut).toHaveLength(1);
    expect(cut[0]!.length).toBeLessThan(1_000);
    // The line after it is read as usual.
    expect(done.outputs).toMatchObject({ subtype: "success", num_turns: 11 });
  });

  test("the agent's own commits stay; the rest is committed after them", async () => {
    const { missionKey, agentKey, repo } = await setup("claude_code", { env: { FAKE_SCENARIO: "commit" } });
    const key = await createTask(missionKey, agentKey);
    await execute(key);
    const done = await waitStatus(key, "pending_review");
    const branch = `agent/${agentKey}/${key}`;
    expect(git(repo, "log", "--format=%s", `main..${branch}`).split("\n")).toEqual([
      "Implement login endpoint",
      "Add login handler",
    ]);
    expect(done.outputs).toMatchObject({ files_changed: 2, insertions: 12, deletions: 0, cost_usd: 0.0412 });
  });

  test("config.args, the prompt (objective, goal, requirements), the working directory and the MC_* environment", async () => {
    const argvFile = path.join(scratch, "argv.json");
    const { missionKey, agentKey } = await setup("claude_code", {
      args: ["--permission-mode", "acceptEdits"],
      env: { FAKE_ARGV_FILE: argvFile },
    });
    const r = await t.json("POST", "/api/requirements", {
      body: {
        requirement_id: `REQ-${n}`,
        title: "Users log in with a password",
        description: "Bad passwords get a 401.",
      },
    });
    expect(r.status).toBe(201);
    const key = await createTask(missionKey, agentKey, { requirement_ids: [`REQ-${n}`] });
    await execute(key);
    await waitStatus(key, "pending_review");
    const seen = JSON.parse(fs.readFileSync(argvFile, "utf8"));
    expect(seen.argv.slice(0, 1)).toEqual(["-p"]);
    // config.args, then this server's MCP server for the run (src/mcp/run-config.ts): its tools allowed, its
    // URL and a header naming the variable holding the run's token, never the token itself (argv is public).
    expect(seen.argv.slice(2, -1)).toEqual([
      "--output-format",
      "stream-json",
      "--verbose",
      "--permission-mode",
      "acceptEdits",
      "--allowedTools",
      "mcp__mission-control",
      "--mcp-config",
    ]);
    expect(JSON.parse(seen.argv.at(-1))).toEqual({
      mcpServers: {
        "mission-control": {
          type: "http",
          url: `${t.url}/mcp`,
          headers: { Authorization: "Bearer ${MC_AGENT_TOKEN}" },
        },
      },
    });
    expect(JSON.stringify(seen.argv)).not.toContain(seen.env.MC_AGENT_TOKEN);
    const prompt = seen.argv[1] as string;
    expect(prompt).toContain('Mission Control MCP tools (server "mission-control"): get_context, list_my_tasks,');
    expect(prompt).toContain("Task objective:\nImplement login endpoint");
    expect(prompt).toContain("Mission goal:\nBuild authentication module");
    expect(prompt).toContain(`- REQ-${n}: Users log in with a password\n  Bad passwords get a 401.`);
    expect(fs.realpathSync(seen.cwd)).toBe(fs.realpathSync(path.join(dataDir, "worktrees", key)));
    expect(seen.env).toMatchObject({
      MC_TASK_ID: key,
      MC_MISSION_ID: missionKey,
      MC_AGENT_ID: agentKey,
      MC_API_URL: t.url,
    });
    expect(seen.env.MC_AGENT_TOKEN).toMatch(/^mc_/);
  });

  test("without config.binary the CLI is found on the agent's PATH; a binary that does not exist fails the run at once", async () => {
    const { missionKey, agentKey } = await setup("claude_code", {
      binary: undefined,
      env: { PATH: `${fakeCliDir}:${process.env.PATH}` },
    });
    const key = await createTask(missionKey, agentKey);
    await execute(key);
    await waitStatus(key, "pending_review");

    const missing = await setup("claude_code", { binary: path.join(scratch, "no-such-claude") });
    const k2 = await createTask(missing.missionKey, missing.agentKey);
    await execute(k2);
    const failed = await waitStatus(k2, "failed");
    // Accepted with a warning when written (agent-config.test.ts); the run fails before anything is spawned.
    expect((await agent(missing.agentKey)).warnings).toHaveLength(1);
    expect(logsAt(failed, "error")).toContain(
      `run failed: claude_code binary ${path.join(scratch, "no-such-claude")} is not an executable file on this server`,
    );
  });

  test("without config.repo the CLI runs in config.cwd and no branch is recorded", async () => {
    const cwd = tmpDir("mc-cwd-");
    repos.push(cwd);
    const { missionKey, agentKey } = await setup("claude_code", { cwd }, { repo: false });
    const key = await createTask(missionKey, agentKey);
    await execute(key);
    const done = await waitStatus(key, "pending_review");
    expect(fs.readFileSync(path.join(cwd, "src/login.js"), "utf8")).toMatch(/^export function login/);
    expect(done.outputs.branch).toBeUndefined();
    expect(done.outputs.cost_usd).toBe(0.0731);
  });

  // Checked when the agent is written (src/runtime/agent-config.ts), so no run ever starts with them.
  test.each([
    [{ repo: "/definitely/not/here" }, { "config.repo": ["/definitely/not/here does not exist on the server"] }],
    [{ repo: "/tmp", base_branch: "-x" }, { "config.base_branch": ["has an invalid format"] }],
    [{ args: "--verbose" }, { "config.args": ["must be array"] }],
    [{ binary: "" }, { "config.binary": ["must NOT have fewer than 1 characters"] }],
  ])("a bad config %j is refused when written (422), before any run", async (config, errors) => {
    const r = await t.json("POST", "/api/agents", {
      body: { agent_id: `cli-bad-${++n}`, adapter_module: "claude_code", config },
    });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
  });

  test("rejected work runs again on the same branch; pausing midway keeps the worktree and its uncommitted work", async () => {
    const gate = path.join(scratch, "gate-rerun");
    const { missionKey, agentKey, repo } = await setup("claude_code", { env: { FAKE_GATE: gate } });
    const key = await createTask(missionKey, agentKey);
    const worktree = path.join(dataDir, "worktrees", key);
    const branch = `agent/${agentKey}/${key}`;
    fs.writeFileSync(gate, "go");
    await execute(key);
    const first = await waitStatus(key, "pending_review");
    expect((await t.json("POST", `/api/tasks/${key}/reject`, { body: { comment: "add rate limiting" } })).status).toBe(
      200,
    );
    await t.app.services.housekeeping.pass();
    expect(fs.existsSync(worktree)).toBe(true);

    fs.rmSync(gate);
    await execute(key);
    await waitFor(async () =>
      messages(await task(key)).includes(`continuing in worktree ${worktree} on branch ${branch}`),
    );
    // Paused while the agent waits at the gate: the run stops, the task is blocked, the worktree stays.
    fs.writeFileSync(path.join(worktree, "WIP.md"), "half done\n");
    expect((await t.json("POST", `/api/missions/${missionKey}/pause`)).status).toBe(200);
    await waitStatus(key, "blocked");
    await t.app.services.housekeeping.pass();
    expect(fs.readFileSync(path.join(worktree, "WIP.md"), "utf8")).toBe("half done\n");
    // The paused run's process is stopped in the background: wait for its exit before opening the gate, or
    // on a slow machine the old process could pass the gate and work in the worktree beside the new run.
    await waitFor(
      async () => {
        const r = await t.json("GET", `/api/trace?task_id=${key}&event=runtime.run_stopped`);
        return r.body.data.length > 0;
      },
      30_000,
      "the paused run's exit",
    );

    fs.writeFileSync(gate, "go");
    expect((await t.json("POST", `/api/missions/${missionKey}/start`)).status).toBe(200);
    const second = await waitStatus(key, "pending_review");
    // The same branch, now with the work in progress committed; the task's cost is both runs'.
    expect(second.outputs.branch).toBe(branch);
    expect(second.outputs.commit).not.toBe(first.outputs.commit);
    expect(git(repo, "merge-base", "--is-ancestor", first.outputs.commit, second.outputs.commit)).toBe("");
    expect(git(repo, "cat-file", "-t", `${branch}:WIP.md`)).toBe("blob");
    expect(second.outputs.cost_usd).toBe(0.1462);
  });
});
