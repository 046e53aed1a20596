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
        "  claude mcp add mission-control --env MC_URL=http://127.0.0.1:4000 --env MC_TOKEN=$MC_AGENT_TOKEN -- mc mcp",
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
  const [{ StdioServerTransport }, { StreamableHTTPClientTransport, StreamableHTTPError }] = await Promise.all([
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
      const why = failure(err);
      log(why.log);
      // A request deserves an answer even when the server cannot be reached, or the client waits forever.
      if ("id" in msg && "method" in msg) {
        void stdio.send({ jsonrpc: "2.0", id: msg.id, error: { code: -32000, message: why.answer } });
      }
    });
  };
  await upstream.start();
  await stdio.start();
  log(`forwarding to ${new URL("/mcp", url).href}`);
  await done;

  /** A server that answered with an HTTP error refused the message: that is not the same as not answering. */
  function failure(err: Error): { log: string; answer: string } {
    // The SDK's error carries the HTTP status when the server answered, -1 or none when it did not.
    const status = err instanceof StreamableHTTPError ? (err.code ?? -1) : -1;
    const hint = status === 401 ? " (check MC_TOKEN)" : status === 403 ? " (this token may not do that)" : "";
    const refused = `refused the message with HTTP ${status}${hint}: ${err.message}`;
    return status <= 0
      ? { log: `cannot reach ${url}: ${err.message}`, answer: `Mission Control unreachable: ${err.message}` }
      : { log: `${url} ${refused}`, answer: `Mission Control ${refused}` };
  }
}
