// How a coding-agent CLI run gets this server's MCP tools without any set-up: each CLI is told, in its own
// way, about one HTTP MCP server named `mission-control` at <apiUrl>/mcp with the run's agent token (which
// dies with the run). `config.mcp: false` on the agent turns it off.
// - Claude Code: `--mcp-config <json>` (HTTP transport, an Authorization header of `Bearer ${MC_AGENT_TOKEN}`,
//   which Claude Code expands from its environment, as in .mcp.json: measured with 2.1.197, so the token is
//   never in argv, where the process list shows it) and its tools allowed in headless mode
//   (`--allowedTools mcp__mission-control`). Both options take several values, so they go last.
// - Codex: `-c mcp_servers.mission-control.url=…` and `bearer_token_env_var = "MC_AGENT_TOKEN"` (the token
//   stays in the environment, never on the command line).
// - Gemini CLI: a settings file with `mcpServers.mission-control` (`url` with `type: "http"`, as `gemini mcp
//   add --transport http` writes it; `httpUrl` is deprecated in 0.61), headers reading
//   `$MC_AGENT_TOKEN`, `trust` so headless calls are not held for confirmation), given through
//   GEMINI_CLI_SYSTEM_SETTINGS_PATH and removed when the run ends.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { RunContext } from "../runtime/adapters/types.js";
import { TOOLS } from "./mcp.tools.js";

export const MCP_SERVER_NAME = "mission-control";
const TOKEN_ENV = "MC_AGENT_TOKEN";

export interface McpWiring {
  /** Appended after everything else on the CLI's command line. */
  args: string[];
  /** Added to the run's environment. */
  env: Record<string, string>;
  /** One line for the prompt naming the tools. */
  promptLine: string;
  /** Removes what was written for the run. */
  cleanup(): void;
}

const AGENT_TOOLS = TOOLS.filter((t) => t.access === "agent").map((t) => t.name);
export const MCP_PROMPT_LINE =
  `Mission Control MCP tools (server "${MCP_SERVER_NAME}"): ${AGENT_TOOLS.join(", ")}. ` +
  "Use report_progress as you work and submit_for_review when done.";

export function mcpUrl(apiUrl: string): string {
  return `${apiUrl.replace(/\/+$/, "")}/mcp`;
}

/** The MCP wiring of one run of a CLI adapter; null when the adapter has none or the agent turned it off. */
export function mcpForRun(module: string, ctx: Pick<RunContext, "agent" | "apiUrl">): McpWiring | null {
  if (ctx.agent.config.mcp === false) return null;
  const url = mcpUrl(ctx.apiUrl);
  const none = () => {};
  switch (module) {
    case "claude_code": {
      const config = {
        mcpServers: { [MCP_SERVER_NAME]: { type: "http", url, headers: { Authorization: `Bearer \${${TOKEN_ENV}}` } } },
      };
      return {
        args: ["--allowedTools", `mcp__${MCP_SERVER_NAME}`, "--mcp-config", JSON.stringify(config)],
        env: {},
        promptLine: MCP_PROMPT_LINE,
        cleanup: none,
      };
    }
    case "codex":
      return {
        args: [
          "-c",
          `mcp_servers.${MCP_SERVER_NAME}.url=${JSON.stringify(url)}`,
          "-c",
          `mcp_servers.${MCP_SERVER_NAME}.bearer_token_env_var=${JSON.stringify(TOKEN_ENV)}`,
        ],
        env: {},
        promptLine: MCP_PROMPT_LINE,
        cleanup: none,
      };
    case "gemini_cli": {
      const dir = mkdtempSync(path.join(os.tmpdir(), "mc-gemini-mcp-"));
      const file = path.join(dir, "settings.json");
      const settings = {
        mcpServers: {
          [MCP_SERVER_NAME]: { url, type: "http", headers: { Authorization: `Bearer $${TOKEN_ENV}` }, trust: true },
        },
      };
      writeFileSync(file, `${JSON.stringify(settings, null, 2)}\n`, { mode: 0o600 });
      return {
        args: [],
        env: { GEMINI_CLI_SYSTEM_SETTINGS_PATH: file },
        promptLine: MCP_PROMPT_LINE,
        cleanup: () => rmSync(dir, { recursive: true, force: true }),
      };
    }
    default:
      return null;
  }
}
