// MCP clients for tests: the SDK's own Client over Streamable HTTP (against a listening test server) or over
// stdio (spawning the built `mc mcp`).
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { MCP_SERVER_NAME } from "../../src/mcp/run-config.js";

export const ROOT = path.resolve(import.meta.dirname, "../..");
/** `mc` as built (test/fixtures/build-dist.ts builds dist/ once per run): NODE MC_BIN … runs it. */
export const NODE = process.execPath;
export const MC_BIN = path.join(ROOT, "dist/cli/main.js");

export async function httpClient(baseUrl: string, token: string): Promise<Client> {
  const client = new Client({ name: "test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL("/mcp", baseUrl), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return client;
}

export async function stdioClient(baseUrl: string, token: string, stderr: string[] = []): Promise<Client> {
  const client = new Client({ name: "test", version: "1.0.0" });
  const transport = new StdioClientTransport({
    command: NODE,
    args: [MC_BIN, "mcp"],
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", MC_URL: baseUrl, MC_TOKEN: token },
    stderr: "pipe",
  });
  transport.stderr?.on("data", (b: Buffer) => stderr.push(b.toString()));
  await client.connect(transport);
  return client;
}

/** A tool call's result as the tests read it. */
export interface ToolCallResult {
  isError: boolean;
  /** The structured content: the API's answer, whichever record it is; the assertions say its shape. */
  data: any;
  text: string;
}

export async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<ToolCallResult> {
  const r = (await client.callTool({ name, arguments: args })) as CallToolResult;
  const text = r.content.find((c) => c.type === "text");
  return {
    isError: r.isError === true,
    data: r.structuredContent,
    text: text && text.type === "text" ? text.text : "",
  };
}

/**
 * The name a coding-agent CLI gives one of our tools once the adapter registered the server for the run
 * (src/mcp/run-config.ts): what a fake model API answers in a tool_use to make the real CLI call it, e.g.
 * `mcp__mission-control__report_progress` for Claude Code.
 */
export function cliToolName(cli: "claude_code", tool: string): string {
  switch (cli) {
    case "claude_code":
      return `mcp__${MCP_SERVER_NAME}__${tool}`;
  }
}
