// What each coding-agent CLI is given so that its run sees this server's MCP tools (src/mcp/run-config.ts);
// the Claude Code wiring is also checked end to end through the fake CLI in test/adapters/cli-runs.test.ts,
// and the real CLIs still run with it in test/adapters/real-clis.test.ts.
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { MCP_PROMPT_LINE, mcpForRun } from "../../src/mcp/run-config.js";
import { createTestContext, type TestContext } from "../harness.js";
import { uniq } from "../tasks/helpers.js";

const ctx = (config: Record<string, unknown> = {}) => ({
  agent: { id: 1, agent_id: "a-1", adapter_module: "x", config },
  apiUrl: "http://127.0.0.1:4000/",
  agentToken: "mc_run_token",
});

describe("mcpForRun", () => {
  test("Claude Code: --allowedTools and --mcp-config with the HTTP transport and a header naming the environment variable holding the token (never the token)", () => {
    const w = mcpForRun("claude_code", ctx())!;
    expect(w.args.slice(0, 3)).toEqual(["--allowedTools", "mcp__mission-control", "--mcp-config"]);
    expect(JSON.parse(w.args[3]!)).toEqual({
      mcpServers: {
        "mission-control": {
          type: "http",
          url: "http://127.0.0.1:4000/mcp",
          headers: { Authorization: "Bearer ${MC_AGENT_TOKEN}" },
        },
      },
    });
    expect(w.args.join(" ")).not.toContain("mc_run_token");
    expect(w.env).toEqual({});
    expect(w.promptLine).toBe(MCP_PROMPT_LINE);
  });

  test("Codex: -c overrides naming the URL and the environment variable holding the token (never the token)", () => {
    const w = mcpForRun("codex", ctx())!;
    expect(w.args).toEqual([
      "-c",
      'mcp_servers.mission-control.url="http://127.0.0.1:4000/mcp"',
      "-c",
      'mcp_servers.mission-control.bearer_token_env_var="MC_AGENT_TOKEN"',
    ]);
    expect(w.args.join(" ")).not.toContain("mc_run_token");
  });

  test("Gemini CLI: a settings file (no secret in it) through GEMINI_CLI_SYSTEM_SETTINGS_PATH, removed afterwards", () => {
    const w = mcpForRun("gemini_cli", ctx())!;
    const file = w.env.GEMINI_CLI_SYSTEM_SETTINGS_PATH!;
    expect(JSON.parse(fs.readFileSync(file, "utf8"))).toEqual({
      mcpServers: {
        "mission-control": {
          url: "http://127.0.0.1:4000/mcp",
          type: "http",
          headers: { Authorization: "Bearer $MC_AGENT_TOKEN" },
          trust: true,
        },
      },
    });
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    w.cleanup();
    expect(fs.existsSync(file)).toBe(false);
  });

  test("config.mcp false turns it off; other adapters have none", () => {
    for (const m of ["claude_code", "codex", "gemini_cli"]) expect(mcpForRun(m, ctx({ mcp: false }))).toBeNull();
    for (const m of ["command", "manual", "webhook"]) expect(mcpForRun(m, ctx())).toBeNull();
  });

  test("the prompt line names every agent tool", () => {
    expect(MCP_PROMPT_LINE).toBe(
      'Mission Control MCP tools (server "mission-control"): get_context, list_my_tasks, get_task, start_task, report_progress, ' +
        "submit_for_review, search_knowledge, check_policy, list_decisions. Use report_progress as you work and submit_for_review when done.",
    );
  });
});

describe("config.mcp on an agent", () => {
  let t: TestContext;
  beforeAll(async () => {
    t = await createTestContext();
  });
  afterAll(async () => t?.close());

  test.each([
    [{ mcp: false }, 201],
    [{ mcp: true }, 201],
    [{ mcp: "no" }, 422],
  ])("claude_code config %j → %i", async (config, status) => {
    const r = await t.json("POST", "/api/agents", {
      body: { agent_id: uniq("mcp-cfg"), adapter_module: "claude_code", config: { binary: "/bin/true", ...config } },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(status);
    if (status === 422) expect(Object.keys(r.body.errors)).toEqual(["config.mcp"]);
  });
});
