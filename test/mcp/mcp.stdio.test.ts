// MCP over stdio: `mc mcp` spawned by the SDK's StdioClientTransport, bridging to the server's POST /mcp.
// The same tools and answers as over HTTP; stdout carries nothing but protocol.
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { createTestContext, type TestContext } from "../harness.js";
import { createMission, createTask, putAgentOnMission, uniq } from "../tasks/helpers.js";
import { call, MC_BIN, stdioClient, NODE } from "./helpers.js";
import type { components } from "../../src/client/schema.js";

vi.setConfig({ testTimeout: 120_000 });

let t: TestContext;

beforeAll(async () => {
  t = await createTestContext({}, { listen: true });
});
afterAll(async () => t?.close());

describe("mc mcp (stdio)", () => {
  test("an agent's tools and work loop through the bridge; the trace says mcp", async () => {
    const agentKey = uniq("stdio-agent");
    const token = await t.agentToken(agentKey);
    const mission = (await createMission(t)).mission_id;
    await putAgentOnMission(t, mission, agentKey);
    const task = await createTask(t, mission, { agent_id: agentKey });
    const stderr: string[] = [];
    const client = await stdioClient(t.url!, token, stderr);
    try {
      const tools = (await client.listTools()).tools.map((x) => x.name);
      expect(tools).toContain("report_progress");
      expect(tools).not.toContain("approve_task");
      const started = await call(client, "start_task", { task: task.task_id });
      expect(started.isError, started.text).toBe(false);
      const reported = await call(client, "report_progress", { task: task.task_id, message: "via stdio" });
      expect(reported.data.logs.at(-1).message).toBe("via stdio");
      const submitted = await call(client, "submit_for_review", { task: task.task_id, summary: "done over stdio" });
      expect(submitted.data.status).toBe("pending_review");
      const refused = await call(client, "approve_task", { task: task.task_id });
      expect(JSON.parse(refused.text)).toEqual({ status: 403, errors: { detail: "Forbidden" } });
    } finally {
      await client.close();
    }
    const trace = await t.json("GET", "/api/trace", { query: { task_id: task.task_id, event: "task.status_changed" } });
    const mine = (trace.body.data as components["schemas"]["TraceEntry"][]).filter((e) => e.actor.includes(agentKey));
    expect(mine.map((e) => [e.data.to, e.data.channel])).toEqual([
      ["in_progress", "mcp"],
      ["pending_review", "mcp"],
    ]);
    expect(stderr.join("")).toContain("mc mcp: forwarding to");
  });

  test("a member token gets the member tools", async () => {
    const client = await stdioClient(t.url!, t.member);
    try {
      const names = (await client.listTools()).tools.map((x) => x.name);
      expect(names).toContain("create_task");
      expect(names).toHaveLength(17);
      const missions = await call(client, "list_missions", {});
      expect(missions.isError, missions.text).toBe(false);
    } finally {
      await client.close();
    }
  });

  test("stdout is protocol only: one JSON-RPC message per line; a bad token is the server's 401 as an error", async () => {
    const run = (token: string) =>
      new Promise<{ stdout: string; stderr: string; code: number | null }>((resolve) => {
        const child = spawn(NODE, [MC_BIN, "mcp"], {
          env: { PATH: process.env.PATH ?? "", HOME: "/tmp", MC_URL: t.url!, MC_TOKEN: token },
        });
        let stdout = "";
        let stderr = "";
        // As a client does: the rest only once initialize is answered. The server is stateless, so messages
        // sent at once are answered in whatever order their requests finish.
        child.stdout.on("data", (b: Buffer) => {
          const before = stdout.split("\n").filter(Boolean).length;
          stdout += b.toString();
          const now = stdout.split("\n").filter(Boolean).length;
          if (before === 0 && now >= 1) {
            child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })}\n`);
            child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" })}\n`);
          }
          if (now >= 2) child.stdin.end();
        });
        child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
        child.on("close", (code) => resolve({ stdout, stderr, code }));
        const init = {
          jsonrpc: "2.0",
          id: 1,
          method: "initialize",
          params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
        };
        child.stdin.write(`${JSON.stringify(init)}\n`);
        setTimeout(() => child.stdin.end(), 60_000).unref();
      });
    const ok = await run(t.admin);
    const lines = ok.stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(lines.map((m) => m.id)).toEqual([1, 2]);
    expect(lines[0].result.serverInfo.name).toBe("mission-control");
    expect(lines[1].result.tools.length).toBe(17);
    expect(ok.code).toBe(0);

    const bad = await run("mc_not_a_token");
    const answers = bad.stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(answers[0]).toMatchObject({ id: 1, error: { code: -32000 } });
    // Refused, not unreachable: the operator looks at the token, not the network.
    expect(answers[0].error.message).toMatch(/^Mission Control refused the message with HTTP 401 \(check MC_TOKEN\)/);
    expect(bad.stderr).toMatch(/mc mcp: \S+ refused the message with HTTP 401 \(check MC_TOKEN\)/);
    expect(bad.stderr).not.toMatch(/cannot reach|unreachable/);
  });
});
