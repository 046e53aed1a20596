// An agent's adapter_module and config are checked when written (issue 23, item 6): an unknown adapter, a
// wrong type, an unknown key or a `repo` that is not a git repository here is 422 naming the field and the
// reason, and changes nothing; a CLI binary this server cannot find is accepted with a warning, and a
// dispatch to that agent fails at once with the same reason (never a task left pending).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { agents } from "../../src/db/schema/index.js";
import { ADAPTER_MODULES, parseAgentConfig } from "../../src/runtime/agent-config.js";
import { createTestContext, waitFor, type TestContext } from "../harness.js";
import { makeRepo, tmpDir } from "../adapters/git.js";

const fakeCliDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/fake-cli");

let t: TestContext;
let seq = 0;
const uniq = (p: string) => `${p}-${process.pid}-${++seq}`;
beforeAll(async () => {
  t = await createTestContext({}, { listen: true });
});
afterAll(async () => {
  await t.close();
});

async function countAgents() {
  return (await t.database.query<{ n: number }>("SELECT count(*)::int AS n FROM agents"))[0]!.n;
}
async function traceCount() {
  return (await t.database.query<{ n: number }>("SELECT count(*)::int AS n FROM trace_entries"))[0]!.n;
}

const KNOWN = "must be one of: manual, command, webhook, claude_code, codex, gemini_cli";
const REQUIRED: Record<string, Record<string, unknown>> = {
  command: { command: ["x"] },
  webhook: { url: "http://x.test/" },
};
const settingsOf = (kind: string) => {
  const parsed = parseAgentConfig(kind, { ...REQUIRED[kind], no_such_setting: 1 });
  return parsed.ok ? "" : parsed.errors["config.no_such_setting"]![0]!;
};

const notARepo = tmpDir("mc-not-a-repo-");
const aFile = path.join(notARepo, "file.txt");
fs.writeFileSync(aFile, "x");

describe("writes are checked against the adapter's schema", () => {
  const bad: Array<[string, Record<string, unknown>, Record<string, string[]>]> = [
    ["misspelt adapter", { adapter_module: "comand", config: { command: ["true"] } }, { adapter_module: [KNOWN] }],
    ["adapter with a space", { adapter_module: "claude code" }, { adapter_module: [KNOWN] }],
    ["command without its command", { adapter_module: "command" }, { "config.command": ["is required"] }],
    [
      "command as a string",
      { adapter_module: "command", config: { command: "echo hi" } },
      { "config.command": ["must be array"] },
    ],
    [
      "empty command",
      { adapter_module: "command", config: { command: [] } },
      { "config.command": ["must NOT have fewer than 1 items"] },
    ],
    [
      "command element not a string",
      { adapter_module: "command", config: { command: ["echo", 1] } },
      { "config.command.1": ["must be string"] },
    ],
    [
      "unknown key names the adapter's settings",
      { adapter_module: "command", config: { command: ["true"], modle: "x" } },
      { "config.modle": [settingsOf("command").replace("no_such_setting", "modle")] },
    ],
    [
      "max_concurrency 0",
      { adapter_module: "command", config: { command: ["true"], max_concurrency: 0 } },
      { "config.max_concurrency": ["must be >= 1"] },
    ],
    [
      "max_retries fractional",
      { adapter_module: "command", config: { command: ["true"], max_retries: 1.5 } },
      { "config.max_retries": ["must be integer"] },
    ],
    [
      "timeout_s zero",
      { adapter_module: "command", config: { command: ["true"], timeout_s: 0 } },
      { "config.timeout_s": ["must be > 0"] },
    ],
    [
      "timeout_s as text",
      { adapter_module: "command", config: { command: ["true"], timeout_s: "60" } },
      { "config.timeout_s": ["must be number"] },
    ],
    [
      "env value not a string",
      { adapter_module: "command", config: { command: ["true"], env: { PORT: 8080 } } },
      { "config.env.PORT": ["must be string"] },
    ],
    [
      "env name not a variable name",
      { adapter_module: "command", config: { command: ["true"], env: { "BAD NAME": "x" } } },
      { "config.env.BAD NAME": ["is not a known field"] },
    ],
    [
      "push not a boolean",
      { adapter_module: "command", config: { command: ["true"], push: "yes" } },
      { "config.push": ["must be boolean"] },
    ],
    [
      "base_branch an option",
      { adapter_module: "command", config: { command: ["true"], base_branch: "--force" } },
      { "config.base_branch": ["has an invalid format"] },
    ],
    ["webhook without a url", { adapter_module: "webhook" }, { "config.url": ["is required"] }],
    [
      "webhook url not http",
      { adapter_module: "webhook", config: { url: "ftp://example.com/x" } },
      { "config.url": ["has an invalid format"] },
    ],
    [
      "webhook attempts 0",
      { adapter_module: "webhook", config: { url: "http://x.test/", delivery_attempts: 0 } },
      { "config.delivery_attempts": ["must be >= 1"] },
    ],
    [
      "webhook takes no command",
      { adapter_module: "webhook", config: { url: "http://x.test/", command: ["x"] } },
      { "config.command": [settingsOf("webhook").replace("no_such_setting", "command")] },
    ],
    [
      "binary not a string",
      { adapter_module: "claude_code", config: { binary: 5 } },
      { "config.binary": ["must be string"] },
    ],
    [
      "empty binary",
      { adapter_module: "codex", config: { binary: "" } },
      { "config.binary": ["must NOT have fewer than 1 characters"] },
    ],
    [
      "args not a list",
      { adapter_module: "gemini_cli", config: { args: "--yolo" } },
      { "config.args": ["must be array"] },
    ],
    [
      "manual takes no model",
      { config: { model: "opus" } },
      { "config.model": [settingsOf("manual").replace("no_such_setting", "model")] },
    ],
    [
      "repo that does not exist (the README's old example)",
      { adapter_module: "claude_code", config: { repo: "/srv/app" } },
      { "config.repo": ["/srv/app does not exist on the server"] },
    ],
    [
      "repo that is a file",
      { adapter_module: "codex", config: { repo: aFile } },
      { "config.repo": [`${aFile} is not a directory`] },
    ],
    [
      "repo that is not a git repository",
      { adapter_module: "command", config: { command: ["true"], repo: notARepo } },
      { "config.repo": [`${notARepo} is not a git repository with a working tree`] },
    ],
  ];

  test.each(bad)("POST %s → 422, nothing created or traced", async (_name, body, errors) => {
    const [agentsBefore, traceBefore] = [await countAgents(), await traceCount()];
    const r = await t.json("POST", "/api/agents", { body: { agent_id: uniq("bad"), ...body } });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
    expect([await countAgents(), await traceCount()]).toEqual([agentsBefore, traceBefore]);
  });

  test("the unknown-key message lists the adapter's settings", () => {
    expect(settingsOf("command")).toBe(
      "is not a setting of the command adapter (settings: command, max_concurrency, max_retries, max_restarts, restart_window_s, " +
        "retry_backoff_s, cwd, env, timeout_s, stop_grace_s, repo, base_branch, push, remote)",
    );
    expect(settingsOf("manual")).toBe(
      "is not a setting of the manual adapter (settings: max_concurrency, max_retries, max_restarts, restart_window_s, retry_backoff_s)",
    );
  });

  test("every adapter the runtime knows has a schema, and nothing else does", async () => {
    const { adapterFor } = await import("../../src/runtime/adapters/index.js");
    const { manualAdapter } = await import("../../src/runtime/adapters/manual.js");
    expect(ADAPTER_MODULES).toEqual(["manual", "command", "webhook", "claude_code", "codex", "gemini_cli"]);
    for (const m of ADAPTER_MODULES.filter((x) => x !== "manual")) expect(adapterFor(m)).not.toBe(manualAdapter);
  });

  const good: Array<[string, Record<string, unknown>]> = [
    ["manual with no config", {}],
    ["manual with worker settings", { config: { max_concurrency: 2, max_retries: 1 } }],
    [
      "command with every process setting",
      {
        adapter_module: "command",
        config: {
          command: ["sh", "-c", "true"],
          cwd: "/tmp",
          env: { A_B: "1" },
          timeout_s: 1.5,
          stop_grace_s: 0,
          max_restarts: 0,
          restart_window_s: 10,
          retry_backoff_s: 0,
        },
      },
    ],
    [
      "webhook",
      {
        adapter_module: "webhook",
        config: { url: "https://agent.example/hook", secret: "s", delivery_attempts: 2, delivery_backoff_ms: 0 },
      },
    ],
    [
      "claude_code with a binary path and args",
      {
        adapter_module: "claude_code",
        config: { binary: path.join(fakeCliDir, "claude"), args: ["--model", "haiku"] },
      },
    ],
  ];
  test.each(good)("POST %s → 201", async (_name, body) => {
    const r = await t.json("POST", "/api/agents", { body: { agent_id: uniq("good"), ...body } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.data.warnings).toEqual([]);
  });

  test("a repo that is a git repository (or a directory inside one) is accepted", async () => {
    const repo = makeRepo();
    fs.mkdirSync(path.join(repo, "sub"));
    for (const dir of [repo, path.join(repo, "sub")]) {
      const r = await t.json("POST", "/api/agents", {
        body: {
          agent_id: uniq("repo"),
          adapter_module: "command",
          config: { command: ["true"], repo: dir, base_branch: "main", push: false, remote: "origin" },
        },
      });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
    }
  });

  test("PATCH: the config must suit the adapter it ends up with; a bad write changes nothing", async () => {
    const key = uniq("patch");
    expect(
      (
        await t.json("POST", "/api/agents", {
          body: { agent_id: key, adapter_module: "command", config: { command: ["true"] } },
        })
      ).status,
    ).toBe(201);
    const before = (await t.json("GET", `/api/agents/${key}`)).body.data;
    const traceBefore = await traceCount();
    const cases: Array<[Record<string, unknown>, Record<string, string[]>]> = [
      [{ adapter_module: "comand" }, { adapter_module: [KNOWN] }],
      // The command is still there: it is no setting of manual.
      [
        { adapter_module: "manual" },
        { "config.command": [settingsOf("manual").replace("no_such_setting", "command")] },
      ],
      [{ config: { command: "true" } }, { "config.command": ["must be array"] }],
      [{ config: {} }, { "config.command": ["is required"] }],
      [{ adapter_module: "webhook", config: { command: ["true"] } }, { "config.url": ["is required"] }],
      [
        { config: { command: ["true"], repo: "/srv/app" } },
        { "config.repo": ["/srv/app does not exist on the server"] },
      ],
    ];
    for (const [body, errors] of cases) {
      const r = await t.json("PATCH", `/api/agents/${key}`, { body });
      expect([r.status, r.body], JSON.stringify(body)).toEqual([422, { errors }]);
    }
    expect((await t.json("GET", `/api/agents/${key}`)).body.data).toEqual(before);
    expect(await traceCount()).toBe(traceBefore);
    // Adapter and config together: accepted.
    const ok = await t.json("PATCH", `/api/agents/${key}`, {
      body: { adapter_module: "webhook", config: { url: "http://agent.test/" } },
    });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.data).toMatchObject({ adapter_module: "webhook", config: { url: "http://agent.test/" } });
    // A name-only PATCH does not re-check the config.
    expect((await t.json("PATCH", `/api/agents/${key}`, { body: { name: "renamed" } })).status).toBe(200);
  });

  test("PATCH sending a redacted secret back is checked with the stored value", async () => {
    const key = uniq("secret");
    const c = await t.json("POST", "/api/agents", {
      body: { agent_id: key, adapter_module: "webhook", config: { url: "http://a.test/", secret: "whsec-1" } },
    });
    expect(c.body.data.config).toEqual({ url: "http://a.test/", secret: "[REDACTED]" });
    const r = await t.json("PATCH", `/api/agents/${key}`, {
      body: { config: { ...c.body.data.config, delivery_attempts: 5 } },
    });
    expect(r.status).toBe(200);
    const stored = await t.database.query<{ config: any }>("SELECT config FROM agents WHERE agent_id = $1", [key]);
    expect(stored[0]!.config).toEqual({ url: "http://a.test/", secret: "whsec-1", delivery_attempts: 5 });
  });
});

describe("a CLI binary this server cannot find", () => {
  const missing = "mc-no-such-cli-" + process.pid;

  test.each([
    ["a name not on PATH", { binary: missing }, `claude_code binary ${missing} is not on this server's PATH`],
    [
      "a path that does not exist",
      { binary: `/nonexistent/${missing}` },
      `claude_code binary /nonexistent/${missing} is not an executable file on this server`,
    ],
    [
      "a path that is not executable",
      { binary: aFile },
      `claude_code binary ${aFile} is not an executable file on this server`,
    ],
    [
      "the default name, with an env PATH that lacks it",
      { env: { PATH: os.tmpdir() } },
      `claude_code binary claude is not on this server's PATH`,
    ],
  ])("%s: 201 with a warning, on every read too", async (_name, config, problem) => {
    const key = uniq("cli");
    const r = await t.json("POST", "/api/agents", { body: { agent_id: key, adapter_module: "claude_code", config } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const warning = `${problem}: a dispatch to this agent fails at once (an agent started by hand can still report through hooks)`;
    expect(r.body.data.warnings).toEqual([warning]);
    expect((await t.json("GET", `/api/agents/${key}`)).body.data.warnings).toEqual([warning]);
    // The status explains it too.
    expect(r.body.data.status_reason).toBe(`never heard from; ${problem}`);
  });

  test("found on the agent's own env PATH: no warning", async () => {
    const r = await t.json("POST", "/api/agents", {
      body: {
        agent_id: uniq("cli"),
        adapter_module: "claude_code",
        config: { env: { PATH: `/nonexistent:${fakeCliDir}` } },
      },
    });
    expect(r.status).toBe(201);
    expect(r.body.data.warnings).toEqual([]);
    expect(r.body.data.status_reason).toBe("never heard from");
  });

  async function missionWith(agentKey: string) {
    const mission = uniq("m");
    expect((await t.json("POST", "/api/missions", { body: { mission_id: mission, goal: "g" } })).status).toBe(201);
    expect((await t.json("POST", `/api/missions/${mission}/agents`, { body: { agent_id: agentKey } })).status).toBe(
      201,
    );
    expect((await t.json("POST", `/api/missions/${mission}/start`)).status).toBe(200);
    const task = (
      await t.json("POST", `/api/missions/${mission}/tasks`, { body: { objective: "o", agent_id: agentKey } })
    ).body.data.task_id;
    return { mission, task };
  }

  async function failedWith(task: string, reason: string) {
    const failed = await waitFor(
      async () => {
        const x = (await t.json("GET", `/api/tasks/${task}`)).body.data;
        return x.status === "failed" ? x : null;
      },
      20_000,
      `task ${task} to fail`,
    );
    expect(failed.logs.map((l: any) => [l.level, l.message])).toContainEqual(["error", `run failed: ${reason}`]);
    const moves = (
      await t.json("GET", "/api/trace", { query: { task_id: task, event: "task.status_changed" } })
    ).body.data.map((e: any) => [e.data.from, e.data.to, e.data.comment ?? null]);
    expect(moves.at(-1)).toEqual([expect.any(String), "failed", reason]);
  }

  test("a dispatch to it fails at once with that reason: task failed with a log line, not left pending", async () => {
    const key = uniq("cli-missing");
    expect(
      (
        await t.json("POST", "/api/agents", {
          body: { agent_id: key, adapter_module: "claude_code", config: { binary: missing } },
        })
      ).status,
    ).toBe(201);
    const { mission, task } = await missionWith(key);
    expect((await t.json("POST", `/api/tasks/${task}/execute`)).status).toBe(202);
    await failedWith(task, `claude_code binary ${missing} is not on this server's PATH`);
    // The failed run is the agent's status now, and the reason is said once.
    const after = (await t.json("GET", `/api/agents/${key}`)).body.data;
    expect(after.status).toBe("error");
    expect(after.status_reason.split(`binary ${missing} is not on`).length).toBe(2);
    await t.json("PATCH", `/api/missions/${mission}`, { body: { status: "completed" } });
  });

  test("a row written before the check (unknown adapter, bad config) fails its dispatch with the reason", async () => {
    const key = uniq("legacy");
    await t.database.db
      .insert(agents)
      .values({ agentId: key, name: key, adapterModule: "comand", config: { command: "echo" } });
    const { mission, task } = await missionWith(key);
    expect((await t.json("POST", `/api/tasks/${task}/execute`)).status).toBe(202);
    await failedWith(
      task,
      `agent config: adapter_module is not a known adapter ("comand"); known adapters: ${ADAPTER_MODULES.join(", ")}`,
    );
    await t.json("PATCH", `/api/missions/${mission}`, { body: { status: "completed" } });
  });
});
