// One MCP server per request (the HTTP transport is stateless): it lists the caller's tools and runs a call
// through the tool's service function as the caller. The SDK's low-level `Server` is used rather than
// `McpServer` because tool schemas here are JSON Schema generated from the routes' TypeBox schemas, where
// `McpServer` wants zod shapes (a second copy of every schema that could drift from the API).
import { Value } from "@sinclair/typebox/value";
import type { TSchema } from "@sinclair/typebox";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { ValidateFunction } from "ajv";
import type { Principal } from "../core/principal.js";
import { AppError, Forbidden, Invalid } from "../core/errors.js";
import { validationToFields, validatorCompiler } from "../http/validation.js";
import { withTraceChannel } from "../trace/trace.via.js";
import { StillRunning } from "./mcp.approve.js";
import { TOOLS, toolsFor, type McpDeps, type ToolDef } from "./mcp.tools.js";

export const SERVER_INFO = { name: "mission-control", version: "0.1.0" };

const INSTRUCTIONS =
  "Mission Control tracks your task. Call get_context first, report_progress as you go, submit_for_review when done.";

// Tool arguments are JSON bodies: validated strictly like a request body (no coercion, unknown fields refused).
const validators = new Map<string, ValidateFunction>(
  TOOLS.map((t) => [t.name, validatorCompiler({ schema: t.inputSchema, httpPart: "body" }) as ValidateFunction]),
);

export interface McpLog {
  error(obj: Record<string, unknown>, msg: string): void;
}

function text(value: unknown): string {
  return JSON.stringify(value);
}

/** The API's answer to a failed call, as a tool error: the same status and body the route would send. */
export function toolError(err: unknown, log: McpLog): CallToolResult {
  if (err instanceof AppError) {
    const body = { status: err.status, ...err.body() };
    return { isError: true, content: [{ type: "text", text: text(body) }], structuredContent: body };
  }
  log.error({ err }, "MCP tool failed");
  const body = { status: 500, errors: { detail: "Internal Server Error" } };
  return { isError: true, content: [{ type: "text", text: text(body) }], structuredContent: body };
}

/** What leaves the server is what the route's response schema lets out (dates as ISO text). */
function shape(schema: TSchema | null, value: unknown): unknown {
  const json: unknown = JSON.parse(JSON.stringify(value ?? null));
  return schema ? Value.Clean(schema, json) : json;
}

export function toolResult(tool: ToolDef, data: unknown): CallToolResult {
  let structured: Record<string, unknown>;
  if (data instanceof StillRunning) {
    // Not the route's data (the route has not answered yet): what goes on and how to follow it.
    structured = data.body;
  } else if (tool.list === "page") {
    const page = data as { data: unknown[]; meta: { next_cursor: string | null } };
    structured = { items: page.data.map((x) => shape(tool.output, x)), next_cursor: page.meta.next_cursor };
  } else if (tool.list === "array") {
    structured = { items: (data as unknown[]).map((x) => shape(tool.output, x)), next_cursor: null };
  } else {
    structured = shape(tool.output, data) as Record<string, unknown>;
  }
  return { content: [{ type: "text", text: text(structured) }], structuredContent: structured };
}

/** Runs one tool call as `by`, with every trace entry it writes marked `via: "mcp"`. */
export async function callTool(
  name: string,
  rawArgs: unknown,
  by: Principal,
  deps: McpDeps,
  log: McpLog,
): Promise<CallToolResult> {
  try {
    const tool = TOOLS.find((t) => t.name === name);
    if (!tool) throw Invalid.field("name", `no tool named ${name}`);
    // A member tool is a member route: an agent token is refused as the route refuses it.
    if (!toolsFor(by).includes(tool)) throw new Forbidden();
    const args = rawArgs ?? {};
    const validate = validators.get(name)!;
    if (!validate(args)) throw new Invalid(validationToFields(validate.errors ?? [], "body"));
    const data = await withTraceChannel("mcp", by.actor, () => tool.run(args as Record<string, unknown>, by, deps));
    return toolResult(tool, data);
  } catch (err) {
    return toolError(err, log);
  }
}

export function createMcpServer(by: Principal, deps: McpDeps, log: McpLog): Server {
  const server = new Server(SERVER_INFO, { capabilities: { tools: {} }, instructions: INSTRUCTIONS });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: toolsFor(by).map((t) => ({ name: t.name, description: t.description, inputSchema: t.inputSchema })),
  }));
  server.setRequestHandler(CallToolRequestSchema, async (req) =>
    callTool(req.params.name, req.params.arguments, by, deps, log),
  );
  return server;
}
