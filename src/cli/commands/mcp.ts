// mc mcp: MCP over stdio for agents that only spawn servers. A bridge, not a second server: every JSON-RPC
// message from stdin goes to the server's POST /mcp (Streamable HTTP, the caller's token) and every answer
// comes back on stdout, so tools, permissions and the trace are the server's. Nothing but protocol is written
// to stdout; diagnostics go to stderr.
import type { Command } from "commander";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { connect, globals, UsageError } from "../context.js";

export function mcpCommand(program: Command) {
  program
    .command("mcp")
    .description("serve MCP on stdin/stdout, forwarding to the server's /mcp (uses MC_URL and MC_TOKEN)")
    .addHelpText(
      "after",
      "\nExample:\n  MC_URL=http://127.0.0.1:4000 MC_TOKEN=$MC_AGENT_TOKEN mc mcp\n" +
        "  claude mcp add mission-control --env MC_URL=http://127.0.0.1:4000 --env MC_TOKEN=$MC_AGENT_TOKEN -- npx mc mcp",
    )
    .action(async (_o: unknown, cmd: Command) => {
      const conn = await connect(globals(cmd));
      if (conn.token === null) throw new UsageError("mc mcp needs a token: MC_TOKEN, --token or a profile");
      await bridge(conn.url, conn.token);
    });
}

function log(msg: string) {
  process.stderr.write(`mc mcp: ${msg}\n`);
}

export async function bridge(url: string, token: string): Promise<void> {
  // Loaded here, not at the top: the SDK is ~40% of the start-up CPU of every other mc command.
  const [{ StdioServerTransport }, { StreamableHTTPClientTransport }] = await Promise.all([
    import("@modelcontextprotocol/sdk/server/stdio.js"),
    import("@modelcontextprotocol/sdk/client/streamableHttp.js"),
  ]);
  const stdio = new StdioServerTransport();
  const upstream = new StreamableHTTPClientTransport(new URL("/mcp", url), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  let closed = false;
  const done = new Promise<void>((resolve) => {
    const close = () => {
      if (closed) return;
      closed = true;
      void upstream.close().catch(() => undefined);
      void stdio.close().catch(() => undefined);
      resolve();
    };
    stdio.onclose = close;
    upstream.onclose = close;
    process.stdin.on("end", close);
  });
  stdio.onerror = (err) => log(`stdin: ${err.message}`);
  upstream.onerror = (err) => log(`upstream: ${err.message}`);
  upstream.onmessage = (msg) => void stdio.send(msg).catch((err: Error) => log(`stdout: ${err.message}`));
  stdio.onmessage = (msg: JSONRPCMessage) => {
    upstream.send(msg).catch((err: Error) => {
      log(`cannot reach ${url}: ${err.message}`);
      // A request deserves an answer even when the server cannot be reached, or the client waits forever.
      if ("id" in msg && "method" in msg) {
        void stdio.send({
          jsonrpc: "2.0",
          id: msg.id,
          error: { code: -32000, message: `Mission Control unreachable: ${err.message}` },
        });
      }
    });
  };
  await upstream.start();
  await stdio.start();
  log(`forwarding to ${new URL("/mcp", url).href}`);
  await done;
}
