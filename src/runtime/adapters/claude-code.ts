// `claude_code`: Claude Code headless, `claude -p <prompt> --output-format stream-json --verbose`.
// stream-json is one JSON object per line:
//   {"type":"system","subtype":"init","session_id":…,"model":…,"cwd":…,"tools":[…]}     → session
//   {"type":"assistant","message":{"content":[{"type":"text","text":…}]}}                 → log
//   {"type":"assistant","message":{"content":[{"type":"tool_use","name":"Edit","input":…}]}} → tool
//   {"type":"user","message":{"content":[{"type":"tool_result","is_error":true,…}]}}      → warn log (errors only)
//   {"type":"result","subtype":"success"|"error_max_turns"|"error_during_execution","is_error":…,
//    "result":…,"total_cost_usd":…,"num_turns":…,"duration_ms":…,"usage":{…},
//    "permission_denials":[{"tool_name","tool_use_id","tool_input"}]}                      → result; each denial
//                                                                                           a warn log and in
//                                                                                           outputs.permission_denials
//   {"type":"system","subtype":"api_retry","error_status":401,"error":"authentication_failed",…} → warn log; a
//                                                                           refused key (401/403) is fatal: the CLI
//                                                                           would retry it 10 times over ~3 minutes
// A `result` with `is_error` (or an error subtype) fails the run. A rerun resumes with `--resume <session_id>`.
import { cliAdapter, type CliSpec } from "./cli.js";
import {
  clip,
  count,
  defined,
  isObj,
  jsonLinesParser,
  MAX_RESULT,
  str,
  toolDetail,
  type Json,
  type LineParser,
  type RunEvent,
} from "./events.js";

function usageOf(u: unknown): Json | undefined {
  if (!isObj(u)) return undefined;
  const out = defined({
    input_tokens: count(u.input_tokens),
    output_tokens: count(u.output_tokens),
    cache_creation_input_tokens: count(u.cache_creation_input_tokens),
    cache_read_input_tokens: count(u.cache_read_input_tokens),
  });
  return Object.keys(out).length > 0 ? out : undefined;
}

function toolResultText(c: unknown): string {
  if (typeof c === "string") return c;
  if (Array.isArray(c)) return c.map((b) => (isObj(b) && typeof b.text === "string" ? b.text : "")).join("\n");
  return "";
}

/** The tools that write the file named in their input (for the conflict radar). */
const WRITING_TOOLS: ReadonlySet<string> = new Set(["Write", "Edit", "MultiEdit", "NotebookEdit"]);

/** Most denials kept in outputs (each names the tool and a one-line summary of its input). */
const MAX_DENIALS = 50;

function denialsOf(v: unknown): Array<{ tool_name: string; input: string }> {
  if (!Array.isArray(v)) return [];
  return v
    .filter(isObj)
    .slice(0, MAX_DENIALS)
    .map((d) => ({ tool_name: clip(str(d.tool_name) ?? "tool", 200), input: toolDetail(d.tool_input) }));
}

export function claudeCodeParser(): LineParser {
  let result: Extract<RunEvent, { type: "result" }> | null = null;
  let fatal: string | null = null;

  function parse(o: Json): RunEvent[] | null {
    switch (o.type) {
      case "system": {
        if (o.subtype === "init") return [{ type: "session", sessionId: str(o.session_id), model: str(o.model) }];
        if (o.subtype === "api_retry") {
          const status = count(o.error_status);
          const error = str(o.error) ?? "error";
          const what = `${status !== null ? `${status} ` : ""}${clip(error, 200)}`;
          if (status === 401 || status === 403 || error === "authentication_failed") {
            fatal ??= `claude_code: the model API refused the credentials (${what}); not waiting for its retries`;
          }
          return [
            {
              type: "log",
              level: "warn",
              message: `model API call failed (${what}), retry ${count(o.attempt) ?? "?"} of ${count(o.max_retries) ?? "?"}`,
            },
          ];
        }
        return [{ type: "log", level: "info", message: `system: ${str(o.subtype) ?? "event"}` }];
      }
      case "assistant":
      case "user": {
        const msg = o.message;
        if (!isObj(msg)) return null;
        const content = msg.content;
        // A user message with plain text is the prompt echoed back: nothing to log.
        if (!Array.isArray(content)) return [];
        const sub = o.parent_tool_use_id ? "[subagent] " : "";
        const events: RunEvent[] = [];
        for (const block of content) {
          if (!isObj(block)) continue;
          if (block.type === "text" && o.type === "assistant") {
            const text = str(block.text)?.trim();
            if (text) events.push({ type: "log", level: "info", message: sub + clip(text) });
          } else if (block.type === "tool_use") {
            const name = str(block.name) ?? "tool";
            const detail = toolDetail(block.input);
            const files =
              WRITING_TOOLS.has(name) && isObj(block.input)
                ? [str(block.input.file_path) ?? str(block.input.notebook_path)].filter((f): f is string => !!f)
                : [];
            events.push({
              type: "tool",
              name,
              message: `${sub}tool: ${name}${detail ? ` ${detail}` : ""}`,
              ...(files.length > 0 ? { files } : {}),
            });
          } else if (block.type === "tool_result" && block.is_error === true) {
            const text = toolResultText(block.content).trim();
            events.push({
              type: "log",
              level: "warn",
              message: `${sub}tool error: ${clip(text || "(no details)", 1_000)}`,
            });
          }
          // thinking blocks and successful tool results (file contents, command output) are not logged.
        }
        return events;
      }
      case "result": {
        const subtype = str(o.subtype) ?? "unknown";
        const isError = o.is_error === true || subtype !== "success";
        const text = str(o.result);
        const cost = count(o.total_cost_usd);
        const denials = denialsOf(o.permission_denials);
        const outputs = defined({
          result: text === null ? undefined : clip(text, MAX_RESULT),
          subtype,
          cost_usd: cost,
          num_turns: count(o.num_turns),
          duration_ms: count(o.duration_ms),
          usage: usageOf(o.usage),
          session_id: str(o.session_id),
          permission_denials: denials.length > 0 ? denials : undefined,
        });
        const reason = !isError
          ? undefined
          : subtype === "success"
            ? `claude_code reported an error: ${clip(text ?? "no details", 500)}`
            : `claude_code ended with ${subtype}`;
        result = { type: "result", ok: !isError, reason, outputs };
        const turns = count(o.num_turns);
        const summary = `result: ${subtype}${turns !== null ? ` after ${turns} turns` : ""}${cost !== null ? `, $${cost}` : ""}`;
        const denied: RunEvent[] = denials.map((d) => ({
          type: "log",
          level: "warn",
          message: `permission denied: ${d.tool_name}${d.input ? ` ${d.input}` : ""}`,
        }));
        return [...denied, { type: "log", level: isError ? "error" : "info", message: summary }, result];
      }
      case "stream_event":
        // Partial-message deltas (--include-partial-messages): the whole message follows as `assistant`.
        return [];
      default:
        return null;
    }
  }

  return jsonLinesParser(
    parse,
    () => result,
    () => fatal,
  );
}

export const claudeCodeSpec: CliSpec = {
  module: "claude_code",
  defaultBinary: "claude",
  argv: (prompt, extra, resume) => [
    "-p",
    prompt,
    "--output-format",
    "stream-json",
    "--verbose",
    ...(resume ? ["--resume", resume] : []),
    ...extra,
  ],
  parser: claudeCodeParser,
};

export const claudeCodeAdapter = cliAdapter(claudeCodeSpec);
