// The real coding CLIs from npm (node_modules/.bin: claude 2.1.197, codex 0.171.0, gemini 0.61.0), each run by
// its adapter through the runtime against a local fake model API (test/fixtures/fake-model-api.ts), in a task's
// git worktree, each agent with its own scratch home (HOME / CODEX_HOME / GEMINI_CLI_HOME): task to review,
// outputs, tool use in the logs, the commit, failure modes, the rerun after a rejection that resumes the
// session; for Claude Code also the hooks (what really arrives, a policy that denies a real tool call, no
// widening of Claude Code's own permissions). These tests run as root here: see README "Coding agents".
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { startFakeModelApi, type FakeModelApi } from "../fixtures/fake-model-api.js";
import { createTestContext, waitFor, type TestContext } from "../harness.js";
import { cliToolName } from "../mcp/helpers.js";
import { git, makeRepo, tmpDir } from "./git.js";

/** What these tests read of trace entries: the `data` of agent.activity and policy.evaluated. */
type ActivityEntry = { data: { context: Record<string, unknown> } };
type EvaluatedEntry = { data: { source: unknown; decision: unknown; action: Record<string, unknown> } };

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../node_modules/.bin");

let t: TestContext;
const dataDir = tmpDir("mc-real-data-");
const cleanup: string[] = [dataDir];
let api: FakeModelApi | null = null;

beforeAll(async () => {
  t = await createTestContext({ MC_DATA_DIR: dataDir }, { listen: true });
});
const recorders: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await api?.close();
  api = null;
  for (const r of recorders.splice(0)) await r.close();
});
afterAll(async () => {
  await t.close();
  for (const d of cleanup) fs.rmSync(d, { recursive: true, force: true });
});

type Module = "claude_code" | "codex" | "gemini_cli";

/** The environment and scratch home each CLI needs to talk to the fake API, and nothing of the real home. */
function cliEnv(module: Module, url: string): { env: Record<string, string>; home: string; args: string[] } {
  const home = tmpDir(`mc-home-${module}-`);
  cleanup.push(home);
  switch (module) {
    case "claude_code":
      return {
        home,
        env: {
          HOME: home,
          ANTHROPIC_BASE_URL: url,
          ANTHROPIC_API_KEY: "sk-ant-fake",
          DISABLE_TELEMETRY: "1",
          CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
        },
        args: [],
      };
    case "codex":
      // OPENAI_BASE_URL is ignored: the provider's base_url in CODEX_HOME/config.toml is what counts.
      fs.writeFileSync(
        path.join(home, "config.toml"),
        `model = "fake-model"\nmodel_provider = "fake"\n\n[model_providers.fake]\nname = "fake"\nbase_url = "${url}/v1"\nwire_api = "responses"\n`,
      );
      return { home, env: { HOME: home, CODEX_HOME: home }, args: ["-s", "workspace-write"] };
    case "gemini_cli":
      fs.mkdirSync(path.join(home, ".gemini"));
      fs.writeFileSync(
        path.join(home, ".gemini", "settings.json"),
        JSON.stringify({ security: { auth: { selectedType: "gemini-api-key" } } }),
      );
      return {
        home,
        env: { HOME: home, GEMINI_CLI_HOME: home, GEMINI_API_KEY: "fake-key", GOOGLE_GEMINI_BASE_URL: url },
        args: ["-m", "gemini-2.5-pro", "--yolo", "--skip-trust"],
      };
  }
}

const BINARY: Record<Module, string> = { claude_code: "claude", codex: "codex", gemini_cli: "gemini" };

let n = 0;
async function setup(
  module: Module,
  opts: { mode?: "ok" | "unauthorized"; args?: string[]; config?: Record<string, unknown> } = {},
) {
  n++;
  api = await startFakeModelApi({ mode: opts.mode ?? "ok" });
  const repo = makeRepo();
  cleanup.push(repo);
  const { env, home, args } = cliEnv(module, api.url);
  const missionKey = `real-${n}`;
  const agentKey = `${module.replace("_", "-")}-real-${n}`;
  expect(
    (await t.json("POST", "/api/missions", { body: { mission_id: missionKey, goal: "Build authentication module" } }))
      .status,
  ).toBe(201);
  const config = {
    binary: path.join(bin, BINARY[module]),
    repo,
    env,
    args: [...args, ...(opts.args ?? [])],
    timeout_s: 120,
    ...opts.config,
  };
  expect(
    (await t.json("POST", "/api/agents", { body: { agent_id: agentKey, adapter_module: module, config } })).status,
  ).toBe(201);
  expect((await t.json("POST", `/api/missions/${missionKey}/agents`, { body: { agent_id: agentKey } })).status).toBe(
    201,
  );
  expect((await t.json("POST", `/api/missions/${missionKey}/start`)).status).toBe(200);
  const r = await t.json("POST", `/api/missions/${missionKey}/tasks`, {
    body: { objective: "Implement login endpoint", agent_id: agentKey },
  });
  expect(r.status).toBe(201);
  const key = r.body.data.task_id as string;
  return { api: api!, repo, home, missionKey, agentKey, key, worktree: path.join(dataDir, "worktrees", key) };
}

const task = async (key: string) => (await t.json("GET", `/api/tasks/${key}`)).body.data;
const messages = (x: { logs: Array<{ message: string }> }) => x.logs.map((l) => l.message);

async function execute(key: string) {
  expect((await t.json("POST", `/api/tasks/${key}/execute`)).status).toBe(202);
}

async function waitStatus(key: string, status: string, timeoutMs = 60_000) {
  return waitFor(
    async () => {
      const x = await task(key);
      if (x.status === "failed" && status !== "failed")
        throw new Error(`task failed: ${JSON.stringify(messages(x).slice(-8))}`);
      return x.status === status ? x : null;
    },
    timeoutMs,
    `task ${key} to be ${status}`,
  );
}

/** The files of the branch's last commit. */
const committed = (repo: string, branch: string) =>
  git(repo, "show", "--name-only", "--format=", branch).split("\n").filter(Boolean);

/** Everything the CLI sent the model in its main-loop calls, as text. */
const sent = (a: FakeModelApi) => a.mainRequests().map((r) => JSON.stringify(r.body));

const LOGIN = "export function login(user, password) {\n  return user === 'admin' && password === 'secret';\n}\n";

/** A hook as it passed through the recording proxy: the event Claude Code sent and the receiver's answer. */
type PassedHook = { event: string; tool: string | null; status: number; answer: string };

/**
 * A recording proxy in front of the hooks receiver: every hook Claude Code sends (http hooks and the
 * SessionStart command's curl alike) goes to `url`, is forwarded as is to the server's receiver, and is
 * recorded with the receiver's answer. Heartbeat hooks (PreToolUse, PostToolUse) leave no trace entry of their
 * own, so this is how the test sees that they really arrive.
 */
async function hookRecorder(target: string): Promise<{ url: string; passed: PassedHook[]; close(): Promise<void> }> {
  const passed: PassedHook[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      let sentEvent: { hook_event_name?: string; tool_name?: string } = {};
      try {
        sentEvent = JSON.parse(body.toString("utf8"));
      } catch {
        // Recorded with no event name.
      }
      const headers = { ...req.headers, host: new URL(target).host };
      const fwd = http.request(target, { method: req.method, headers }, (r) => {
        const out: Buffer[] = [];
        r.on("data", (c: Buffer) => out.push(c));
        r.on("end", () => {
          const answer = Buffer.concat(out).toString("utf8");
          passed.push({
            event: String(sentEvent.hook_event_name),
            tool: sentEvent.tool_name ?? null,
            status: r.statusCode ?? 0,
            answer,
          });
          res.writeHead(r.statusCode ?? 502, { "content-type": String(r.headers["content-type"] ?? "") });
          res.end(answer);
        });
      });
      fwd.on("error", () => {
        res.writeHead(502);
        res.end();
      });
      fwd.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/api/hooks/claude-code`,
    passed,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe("claude_code (real Claude Code 2.1.197)", () => {
  test("end to end in acceptEdits mode: a Write lands in the commit, a refused git add -A is in outputs and logs, the result goes to review", async () => {
    const s = await setup("claude_code", { args: ["--permission-mode", "acceptEdits"] });
    s.api.queue(
      { tool: "Write", input: { file_path: path.join(s.worktree, "src/login.js"), content: LOGIN } },
      { tool: "Bash", input: { command: "git add -A", description: "Stage everything" } },
      { text: "Implemented the login endpoint in src/login.js." },
    );
    await execute(s.key);
    const done = await waitStatus(s.key, "pending_review");
    expect(done.outputs).toMatchObject({
      result: "Implemented the login endpoint in src/login.js.",
      subtype: "success",
      num_turns: 3,
      branch: `agent/${s.agentKey}/${s.key}`,
      files_changed: 1,
      permission_denials: [{ tool_name: "Bash", input: "git add -A" }],
      session: { session_id: done.outputs.session_id, agent_id: s.agentKey, adapter_module: "claude_code" },
    });
    expect(typeof done.outputs.cost_usd).toBe("number");
    const logs = messages(done);
    expect(logs).toContain(`tool: Write ${path.join(s.worktree, "src/login.js")}`);
    expect(logs).toContain("permission denied: Bash git add -A");
    expect(committed(s.repo, done.outputs.branch)).toEqual(["src/login.js"]);
    expect(git(s.repo, "show", `${done.outputs.branch}:src/login.js`)).toBe(LOGIN.trim());
    // It really talked to the fake: HEAD / first, then the Messages API with streaming and tools.
    expect(s.api.requests[0]).toMatchObject({ method: "HEAD", path: "/" });
    const main = s.api.mainRequests();
    expect(main).toHaveLength(3);
    expect(main[0]!.path).toBe("/v1/messages?beta=true");
    expect(main[0]!.body.stream).toBe(true);
    expect(JSON.stringify(main[0]!.body.messages)).toContain("Implement login endpoint");
    // The turn after a tool call carries its tool_result.
    expect(JSON.stringify(main[1]!.body.messages)).toContain("tool_result");
    // Nothing was written into the real home: the run's HOME was the scratch one.
    expect(fs.existsSync(path.join(s.home, ".claude"))).toBe(true);
    const activity = (
      await t.json("GET", "/api/trace", { query: { agent_id: s.agentKey, event: "agent.activity", limit: "50" } })
    ).body.data;
    expect(activity.map((e: any) => e.data.event)).toEqual(["session_start", "task_start", "task_complete"]);
  });

  test("hooks installed, default mode: every event that really arrives, a refused command stays refused, a policy block denies a real tool call", async () => {
    const s = await setup("claude_code", { args: ["--allowedTools", "Bash(touch:*)"] });
    const snippet = (
      await t.json("GET", `/api/agents/${s.agentKey}/hooks/claude-code`, { headers: { host: new URL(t.url!).host } })
    ).body.data;
    // The snippet as served, its receiver's URL pointed at the recording proxy (which forwards to it).
    const recorder = await hookRecorder(snippet.url);
    recorders.push(recorder);
    fs.mkdirSync(path.join(s.home, ".claude"), { recursive: true });
    fs.writeFileSync(
      path.join(s.home, ".claude", "settings.json"),
      JSON.stringify(snippet.settings).split(snippet.url).join(recorder.url),
    );
    const policy = await t.json("POST", "/api/policies", {
      body: {
        policy: {
          policy_id: `no-echo-secrets-${n}`,
          description: "No secrets in files",
          scope: `agent:${s.agentKey}`,
          conditions: { action_type: "shell", command: { $regex: "SECRET" } },
          actions: [{ block: "No secrets in files" }],
        },
      },
    });
    expect(policy.status).toBe(201);
    s.api.queue(
      // Refused by Claude Code itself in default mode; the hook must not turn that into an allow.
      { tool: "Bash", input: { command: "touch x.txt && git add -A", description: "Stage" } },
      // Allowed by --allowedTools, denied by the policy through the PreToolUse hook.
      { tool: "Bash", input: { command: "touch SECRET.txt", description: "Make a secret" } },
      // Allowed by --allowedTools, and no policy matches: it runs.
      { tool: "Bash", input: { command: "touch hello.txt", description: "Greet" } },
      { text: "Done." },
    );
    await execute(s.key);
    const done = await waitStatus(s.key, "pending_review");
    const branch = done.outputs.branch;
    expect(committed(s.repo, branch)).toEqual(["hello.txt"]);
    expect(fs.existsSync(path.join(s.worktree, "x.txt"))).toBe(false);
    expect(fs.existsSync(path.join(s.worktree, "SECRET.txt"))).toBe(false);
    const denied = (done.outputs.permission_denials as Array<{ tool_name: string; input: string }>).map((d) => d.input);
    expect(denied).toEqual(["touch x.txt && git add -A", "touch SECRET.txt"]);
    expect(messages(done).some((m) => m.startsWith("tool error:") && m.includes("No secrets in files"))).toBe(true);

    // What arrived: SessionStart through the command hook, the rest as http hooks; the trace has the events
    // that change the agent's status (heartbeats are not traced).
    const hooked = (
      (await t.json("GET", "/api/trace", { query: { agent_id: s.agentKey, event: "agent.activity", limit: "100" } }))
        .body.data as ActivityEntry[]
    )
      .filter((e) => e.data.context.via === "claude_code_hook")
      .map((e) => e.data.context.hook_event_name);
    expect(hooked).toEqual(expect.arrayContaining(["SessionStart", "UserPromptSubmit", "Stop", "SessionEnd"]));
    const sessionStart = (
      (await t.json("GET", "/api/trace", { query: { agent_id: s.agentKey, event: "agent.activity", limit: "100" } }))
        .body.data as ActivityEntry[]
    ).find((e) => e.data.context.hook_event_name === "SessionStart")!;
    expect(sessionStart.data.context).toMatchObject({
      session_id: done.outputs.session_id,
      source: "startup",
      task_id: s.key,
    });
    // Every tool call went through PreToolUse, and only the policy's match was blocked.
    const evals = (
      (await t.json("GET", "/api/trace", { query: { agent_id: s.agentKey, event: "policy.evaluated", limit: "100" } }))
        .body.data as EvaluatedEntry[]
    ).filter((e) => e.data.source === "claude_code_hook");
    expect(evals.length).toBeGreaterThanOrEqual(3);
    expect(evals.filter((e) => e.data.decision === "block").map((e) => e.data.action.command)).toEqual([
      "touch SECRET.txt",
    ]);

    // Every hook really reached the receiver and was answered 200: PreToolUse for each of the three Bash
    // calls (the policy's match answered with a deny, the others with no decision), PostToolUse for the one
    // that ran, and the session's own events (SessionStart through the command hook's curl).
    expect(recorder.passed.length).toBeGreaterThan(0);
    expect(recorder.passed.filter((h) => h.status !== 200)).toEqual([]);
    const pre = recorder.passed.filter((h) => h.event === "PreToolUse");
    expect(pre.map((h) => h.tool)).toEqual(["Bash", "Bash", "Bash"]);
    expect(pre.filter((h) => h.answer.includes('"permissionDecision":"deny"'))).toHaveLength(1);
    expect(pre.filter((h) => h.answer.includes("permissionDecision"))).toHaveLength(1);
    const post = recorder.passed.filter((h) => h.event === "PostToolUse");
    expect(post.length).toBeGreaterThanOrEqual(1);
    expect(post.every((h) => h.tool === "Bash")).toBe(true);
    expect(recorder.passed.map((h) => h.event)).toEqual(
      expect.arrayContaining(["SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop", "SessionEnd"]),
    );
  });

  test("a final result of 100,000 characters passes: read whole, kept clipped in outputs", async () => {
    const s = await setup("claude_code");
    const long = `${"0123456789".repeat(10_000)}`;
    s.api.queue({ text: long });
    await execute(s.key);
    const done = await waitStatus(s.key, "pending_review");
    expect(done.outputs.result.startsWith("0123456789")).toBe(true);
    expect(done.outputs.result).toContain("more characters]");
    expect(messages(done).some((m) => m.includes("exited without printing a result") || m.includes("truncated"))).toBe(
      false,
    );
  });

  test("a refused API key fails the task promptly with the reason (Claude Code would retry it for minutes)", async () => {
    const s = await setup("claude_code", { mode: "unauthorized" });
    await execute(s.key);
    const failed = await waitStatus(s.key, "failed", 45_000);
    const reason = messages(failed).find((m) => m.startsWith("run failed:"));
    expect(reason).toMatch(
      /^run failed: claude_code: the model API refused the credentials \(401 authentication_failed\)/,
    );
    expect(messages(failed)).toContain("model API call failed (401 authentication_failed), retry 1 of 10");
  });

  test("a rerun after a rejection resumes the session with the reviewer's comment; resume: false starts fresh", async () => {
    const s = await setup("claude_code");
    s.api.queue({ text: "First version." });
    await execute(s.key);
    const first = await waitStatus(s.key, "pending_review");
    const sessionId = first.outputs.session_id;
    expect(
      (await t.json("POST", `/api/tasks/${s.key}/reject`, { body: { comment: "Add a test for the wrong password" } }))
        .status,
    ).toBe(200);
    s.api.queue({ text: "Second version, with the test." });
    await execute(s.key);
    const second = await waitStatus(s.key, "pending_review");
    expect(messages(second)).toContain(`resuming claude_code session ${sessionId}`);
    expect(second.outputs).toMatchObject({ result: "Second version, with the test.", session_id: sessionId });
    const last = sent(s.api).at(-1)!;
    // The resumed conversation holds the first run's prompt and answer, then the review.
    expect(last).toContain("Implement login endpoint");
    expect(last).toContain("First version.");
    expect(last).toContain("Add a test for the wrong password");

    // With resume: false the next rerun is a new session with the whole task and the comment.
    expect(
      (
        await t.json("PATCH", `/api/agents/${s.agentKey}`, {
          body: { config: { ...(await agentConfig(s.agentKey)), resume: false } },
        })
      ).status,
    ).toBe(200);
    expect(
      (await t.json("POST", `/api/tasks/${s.key}/reject`, { body: { comment: "Still missing the rate limit" } }))
        .status,
    ).toBe(200);
    s.api.queue({ text: "Third version." });
    await execute(s.key);
    const third = await waitStatus(s.key, "pending_review");
    expect(third.outputs.session_id).not.toBe(sessionId);
    const fresh = sent(s.api).at(-1)!;
    expect(fresh).not.toContain("First version.");
    expect(fresh).toContain("Still missing the rate limit");
  });
  test("a session the CLI can no longer resume (its home was wiped): the rerun starts a new session with the whole task", async () => {
    const s = await setup("claude_code");
    s.api.queue({ text: "First version." });
    await execute(s.key);
    const first = await waitStatus(s.key, "pending_review");
    fs.rmSync(path.join(s.home, ".claude", "projects"), { recursive: true, force: true });
    expect(
      (await t.json("POST", `/api/tasks/${s.key}/reject`, { body: { comment: "Add a test for the wrong password" } }))
        .status,
    ).toBe(200);
    s.api.queue({ text: "Second version." });
    await execute(s.key);
    const second = await waitStatus(s.key, "pending_review");
    const logs = messages(second);
    expect(
      logs.some(
        (m) =>
          m.startsWith(`could not resume session ${first.outputs.session_id} (`) &&
          m.endsWith("); starting a new session"),
      ),
    ).toBe(true);
    expect(second.outputs.session_id).not.toBe(first.outputs.session_id);
    expect(second.outputs.result).toBe("Second version.");
    const fresh = sent(s.api).at(-1)!;
    expect(fresh).not.toContain("First version.");
    expect(fresh).toContain("Implement login endpoint");
    expect(fresh).toContain("Add a test for the wrong password");
  });
});

describe("claude_code + the Mission Control MCP server (real Claude Code 2.1.197)", () => {
  test("the server the adapter registers for the run: report_progress then submit_for_review through MCP, the token never on the command line", async () => {
    // A wrapper records the argv and the token the real CLI is started with, then becomes it.
    const spy = tmpDir("mc-claude-spy-");
    cleanup.push(spy);
    const wrapper = path.join(spy, "claude");
    fs.writeFileSync(
      wrapper,
      `#!/bin/sh\nprintf '%s\\0' "$@" > ${JSON.stringify(path.join(spy, "argv"))}\nprintf '%s' "$MC_AGENT_TOKEN" > ${JSON.stringify(path.join(spy, "token"))}\nexec ${JSON.stringify(path.join(bin, "claude"))} "$@"\n`,
      { mode: 0o755 },
    );
    const s = await setup("claude_code", { config: { binary: wrapper } });
    s.api.queue(
      {
        tool: cliToolName("claude_code", "report_progress"),
        input: { task: s.key, message: "Parsed the login form", outputs: { endpoints: ["POST /login"], tests: 3 } },
      },
      {
        tool: cliToolName("claude_code", "submit_for_review"),
        input: { task: s.key, summary: "Login endpoint with 3 tests" },
      },
      { text: "Reported and submitted." },
    );
    await execute(s.key);
    // submit_for_review moves the task while the CLI still runs; the run's own result follows when it exits.
    await waitStatus(s.key, "pending_review");
    const done = await waitFor(
      async () => {
        const x = await task(s.key);
        return x.outputs.result !== undefined ? x : null;
      },
      60_000,
      "the run's result",
    );
    expect(done.status).toBe("pending_review");

    // What the tools sent is on the task, next to the run's own result.
    expect(done.outputs).toMatchObject({
      endpoints: ["POST /login"],
      tests: 3,
      summary: "Login endpoint with 3 tests",
      result: "Reported and submitted.",
    });
    const logs = messages(done);
    expect(logs).toContain("Parsed the login form");
    expect(logs).toContain("Submitted for review: Login endpoint with 3 tests");
    expect(logs.some((m) => m.startsWith(`tool: ${cliToolName("claude_code", "report_progress")}`))).toBe(true);

    // The model got the API's answers back as the tool results: the task as the server saw it after each call.
    const main = s.api.mainRequests();
    expect(main).toHaveLength(3);
    const toolResults = (r: (typeof main)[number]): any[] =>
      (r.body.messages as Array<{ content: unknown }>).flatMap((m) =>
        Array.isArray(m.content) ? m.content.filter((c: any) => c.type === "tool_result") : [],
      );
    const [report] = toolResults(main[1]!);
    expect(report.is_error ?? false).toBe(false);
    expect(JSON.stringify(report.content)).toContain(s.key);
    expect(JSON.stringify(report.content)).toContain("Parsed the login form");
    expect(JSON.stringify(report.content)).toContain("POST /login");
    const submit = toolResults(main[2]!).at(-1);
    expect(submit.is_error ?? false).toBe(false);
    expect(JSON.stringify(submit.content)).toContain("pending_review");
    expect(JSON.stringify(submit.content)).toContain("Login endpoint with 3 tests");
    // The tools were offered to the model under the names Claude Code gives them.
    const offered = (main[0]!.body.tools as Array<{ name: string }>).map((x) => x.name);
    expect(offered).toEqual(
      expect.arrayContaining([
        cliToolName("claude_code", "report_progress"),
        cliToolName("claude_code", "submit_for_review"),
      ]),
    );

    // The trace: the agent's entries from the calls carry the MCP channel.
    const entries = (await t.json("GET", "/api/trace", { query: { task_id: s.key, limit: "500" } })).body
      .data as Array<{ event: string; actor: string; data: any }>;
    const viaMcp = entries.filter((e) => e.data.channel === "mcp");
    expect(viaMcp.length).toBeGreaterThan(0);
    for (const e of viaMcp) expect(e.actor).toContain(s.agentKey);
    const moved = viaMcp.filter((e) => e.event === "task.status_changed").map((e) => [e.data.to, e.data.via]);
    expect(moved).toContainEqual(["pending_review", "report"]);
    for (const e of viaMcp.filter((x) => x.event !== "task.status_changed")) expect(e.data.via).toBe("mcp");

    // The run's token was in the CLI's environment and nowhere in its argv (which the process list shows).
    const token = fs.readFileSync(path.join(spy, "token"), "utf8");
    expect(token).toMatch(/^mc_/);
    const argv = fs.readFileSync(path.join(spy, "argv"), "utf8").split("\0");
    expect(argv).toContain("--mcp-config");
    expect(argv.join(" ")).not.toContain(token);
    expect(argv.some((a) => /\bmc_[A-Za-z0-9_-]{8,}/.test(a))).toBe(false);
  });
});

async function agentConfig(key: string) {
  return (await t.json("GET", `/api/agents/${key}`)).body.data.config;
}

describe("codex (real Codex 0.171.0)", () => {
  test("an apply_patch through its shell tool is a file_change that names its file for the conflict radar as it happens", async () => {
    const s = await setup("codex");
    s.api.queue(
      {
        // Codex intercepts an apply_patch run through its shell tool and applies it itself (a file_change).
        tool: "exec_command",
        input: {
          cmd: "apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: src/radar.js\n+export const radar = 1;\n*** End Patch\nEOF\n",
        },
      },
      { text: "Wrote src/radar.js." },
    );
    await execute(s.key);
    const done = await waitStatus(s.key, "pending_review");
    expect(committed(s.repo, done.outputs.branch)).toEqual(["src/radar.js"]);
    expect(messages(done).some((m) => m.startsWith("tool: file_change") && m.includes("src/radar.js"))).toBe(true);
    const live = (
      (await t.json("GET", "/api/trace", { query: { task_id: s.key, event: "task.reported", limit: "50" } })).body
        .data as Array<{ data: { via?: string; outputs: { changed_files?: string[] } } }>
    ).filter((e) => e.data.via === "conflict_radar");
    expect(live.map((e) => e.data.outputs.changed_files)).toContainEqual(["src/radar.js"]);
  });

  test("in a directory outside git (no config.repo): run with --skip-git-repo-check, which Codex needs there", async () => {
    const plain = tmpDir("mc-codex-plain-");
    cleanup.push(plain);
    const s = await setup("codex", { config: { repo: undefined, cwd: plain } });
    s.api.queue({ text: "Nothing to change here." });
    await execute(s.key);
    const done = await waitStatus(s.key, "pending_review");
    expect(done.outputs.result).toBe("Nothing to change here.");
    expect(done.outputs.branch).toBeUndefined();
    expect(messages(done).some((m) => m.includes("Not inside a trusted directory"))).toBe(false);
  });

  test("end to end: a command creates a file, the run goes to review with usage, the file is committed", async () => {
    const s = await setup("codex");
    s.api.queue(
      {
        tool: "exec_command",
        input: { cmd: `mkdir -p src && printf %s "${LOGIN.replace(/\n/g, "\\n")}" > src/login.js` },
      },
      { text: "Added src/login.js." },
    );
    await execute(s.key);
    const done = await waitStatus(s.key, "pending_review");
    expect(done.outputs).toMatchObject({
      result: "Added src/login.js.",
      files_changed: 1,
      session: { session_id: done.outputs.session_id, agent_id: s.agentKey, adapter_module: "codex" },
    });
    expect(done.outputs.usage.input_tokens).toBeGreaterThan(0);
    expect(messages(done).some((m) => m.startsWith("tool: command $ ") && m.includes("src/login.js"))).toBe(true);
    expect(committed(s.repo, done.outputs.branch)).toEqual(["src/login.js"]);
    const main = s.api.mainRequests();
    expect(main[0]!.path).toBe("/v1/responses");
    expect(main[0]!.body.stream).toBe(true);
    expect(JSON.stringify(main[1]!.body.input)).toContain("function_call_output");
  });

  test("a refused API key fails the task with the reason", async () => {
    const s = await setup("codex", { mode: "unauthorized" });
    await execute(s.key);
    const failed = await waitStatus(s.key, "failed", 45_000);
    expect(messages(failed).find((m) => m.startsWith("run failed:"))).toMatch(
      /^run failed: codex: the model API refused the credentials \(.*401 Unauthorized/,
    );
  });

  test("a rerun after a rejection resumes the thread (codex exec resume) with the reviewer's comment", async () => {
    const s = await setup("codex");
    s.api.queue({ text: "First version." });
    await execute(s.key);
    const first = await waitStatus(s.key, "pending_review");
    expect(
      (await t.json("POST", `/api/tasks/${s.key}/reject`, { body: { comment: "Add a test for the wrong password" } }))
        .status,
    ).toBe(200);
    s.api.queue({ text: "Second version." });
    await execute(s.key);
    const second = await waitStatus(s.key, "pending_review");
    expect(messages(second)).toContain(`resuming codex session ${first.outputs.session_id}`);
    expect(second.outputs.session_id).toBe(first.outputs.session_id);
    const last = sent(s.api).at(-1)!;
    expect(last).toContain("First version.");
    expect(last).toContain("Add a test for the wrong password");
  });
});

describe("gemini_cli (real Gemini CLI 0.61.0)", () => {
  test("a write_file tool call names its file for the conflict radar as it happens", async () => {
    const s = await setup("gemini_cli");
    s.api.queue(
      { tool: "write_file", input: { file_path: "src/radar.js", content: "export const radar = 1;\n" } },
      { text: "Wrote src/radar.js." },
    );
    await execute(s.key);
    const done = await waitStatus(s.key, "pending_review");
    expect(committed(s.repo, done.outputs.branch)).toEqual(["src/radar.js"]);
    expect(messages(done).some((m) => m.startsWith("tool: write_file") && m.includes("src/radar.js"))).toBe(true);
    const live = (
      (await t.json("GET", "/api/trace", { query: { task_id: s.key, event: "task.reported", limit: "50" } })).body
        .data as Array<{ data: { via?: string; outputs: { changed_files?: string[] } } }>
    ).filter((e) => e.data.via === "conflict_radar");
    expect(live.map((e) => e.data.outputs.changed_files)).toContainEqual(["src/radar.js"]);
  });

  test("end to end: a shell tool call creates a file, the run goes to review, the file is committed", async () => {
    const s = await setup("gemini_cli");
    s.api.queue(
      {
        tool: "run_shell_command",
        input: {
          command: "mkdir -p src && echo 'export const ok = true;' > src/login.js",
          description: "Create the module",
        },
      },
      { text: "Added src/login.js." },
    );
    await execute(s.key);
    const done = await waitStatus(s.key, "pending_review");
    expect(done.outputs).toMatchObject({
      result: "Added src/login.js.",
      status: "success",
      tool_calls: 1,
      files_changed: 1,
      session: { session_id: done.outputs.session_id, agent_id: s.agentKey, adapter_module: "gemini_cli" },
    });
    expect(messages(done)).toContain(
      "tool: run_shell_command mkdir -p src && echo 'export const ok = true;' > src/login.js",
    );
    expect(committed(s.repo, done.outputs.branch)).toEqual(["src/login.js"]);
    const main = s.api.mainRequests();
    expect(main[0]!.path).toBe("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse");
    expect(main[0]!.headers["x-goog-api-key"]).toBe("fake-key");
    expect(JSON.stringify(main[1]!.body.contents)).toContain("functionResponse");
  });

  test("a refused API key fails the task with the reason", async () => {
    const s = await setup("gemini_cli", { mode: "unauthorized" });
    await execute(s.key);
    const failed = await waitStatus(s.key, "failed", 45_000);
    expect(messages(failed).find((m) => m.startsWith("run failed:"))).toMatch(
      /^run failed: gemini_cli ended with an error: .*API key not valid/,
    );
  });

  test("a rerun after a rejection resumes the session (--resume) with the reviewer's comment", async () => {
    const s = await setup("gemini_cli");
    s.api.queue({ text: "First version." });
    await execute(s.key);
    const first = await waitStatus(s.key, "pending_review");
    expect(
      (await t.json("POST", `/api/tasks/${s.key}/reject`, { body: { comment: "Add a test for the wrong password" } }))
        .status,
    ).toBe(200);
    s.api.queue({ text: "Second version." });
    await execute(s.key);
    const second = await waitStatus(s.key, "pending_review");
    expect(messages(second)).toContain(`resuming gemini_cli session ${first.outputs.session_id}`);
    const last = sent(s.api).at(-1)!;
    expect(last).toContain("First version.");
    expect(last).toContain("Add a test for the wrong password");
  });
});
