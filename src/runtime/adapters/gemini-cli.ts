// `gemini_cli`: Gemini CLI headless, `gemini -p <prompt> --output-format stream-json`. One JSON object per line:
//   {"type":"init","session_id":…,"model":…}                                         → session
//   {"type":"message","role":"assistant","content":…,"delta":true}                   → log (chunks joined)
//   {"type":"tool_use","tool_name":…,"tool_id":…,"parameters":{…}}                  → tool
//   {"type":"tool_result","tool_id":…,"status":"success"|"error","error":{…}}       → warn log (errors only)
//   {"type":"error","severity":"warning"|"error","message":…}                        → log
//   {"type":"result","status":"success"|"error","error":{…},"stats":{…}}            → result
// Assistant text arrives in chunks (`delta: true`); they are joined into one log line, written when
// something else happens or the output ends. A rerun resumes with `--resume <session_id>` (0.61 takes the uuid).
import { cliAdapter, type CliSpec } from "./cli.js";
import {
  clip,
  count,
  defined,
  isObj,
  jsonLine,
  MAX_RESULT,
  raw,
  str,
  toolDetail,
  type Json,
  type LineParser,
  type RunEvent,
} from "./events.js";

/** The tools that write the file named in their `file_path` (for the conflict radar). */
const WRITING_TOOLS: ReadonlySet<string> = new Set(["write_file", "replace"]);

export function geminiCliParser(): LineParser {
  let result: Extract<RunEvent, { type: "result" }> | null = null;
  let pending = "";
  let lastMessage: string | null = null;
  const toolNames = new Map<string, string>();

  /** The assistant text gathered so far, as one log line. */
  function flush(): RunEvent[] {
    const text = pending.trim();
    pending = "";
    if (!text) return [];
    lastMessage = text;
    return [{ type: "log", level: "info", message: clip(text) }];
  }

  function parse(o: Json): RunEvent[] | null {
    switch (o.type) {
      case "init":
        return [{ type: "session", sessionId: str(o.session_id), model: str(o.model) }];
      case "message": {
        if (o.role !== "assistant") return o.role === "user" ? [] : null;
        const content = str(o.content) ?? "";
        if (o.delta === true) {
          pending += content;
          return [];
        }
        pending += content;
        return flush();
      }
      case "tool_use": {
        const name = str(o.tool_name) ?? "tool";
        const id = str(o.tool_id);
        if (id) toolNames.set(id, name);
        const detail = toolDetail(o.parameters);
        const file = WRITING_TOOLS.has(name) && isObj(o.parameters) ? str(o.parameters.file_path) : null;
        return [
          {
            type: "tool",
            name,
            message: `tool: ${name}${detail ? ` ${detail}` : ""}`,
            ...(file ? { files: [file] } : {}),
          },
        ];
      }
      case "tool_result": {
        if (o.status !== "error") return [];
        const name = toolNames.get(str(o.tool_id) ?? "") ?? "tool";
        const message = isObj(o.error) ? str(o.error.message) : str(o.output);
        return [
          { type: "log", level: "warn", message: `tool error (${name}): ${clip(message ?? "no details", 1_000)}` },
        ];
      }
      case "error": {
        const level = o.severity === "warning" ? "warn" : "error";
        return [{ type: "log", level, message: `gemini: ${clip(str(o.message) ?? "error", 1_000)}` }];
      }
      case "result": {
        const ok = o.status === "success";
        const stats = isObj(o.stats) ? o.stats : {};
        const usage = defined({
          input_tokens: count(stats.input_tokens),
          output_tokens: count(stats.output_tokens),
          total_tokens: count(stats.total_tokens),
        });
        const message = isObj(o.error) ? str(o.error.message) : null;
        const outputs = defined({
          result: lastMessage === null ? undefined : clip(lastMessage, MAX_RESULT),
          status: str(o.status),
          usage: Object.keys(usage).length > 0 ? usage : undefined,
          duration_ms: count(stats.duration_ms),
          tool_calls: count(stats.tool_calls),
        });
        result = {
          type: "result",
          ok,
          reason: ok
            ? undefined
            : `gemini_cli ended with an error: ${clip(message ?? str(o.status) ?? "no details", 500)}`,
          outputs,
        };
        return [
          {
            type: "log",
            level: ok ? "info" : "error",
            message: `result: ${str(o.status) ?? "unknown"}${message ? `: ${clip(message, 500)}` : ""}`,
          },
          result,
        ];
      }
      default:
        return null;
    }
  }

  return {
    line(text) {
      const o = jsonLine(text);
      if (o?.type === "message") {
        const chunk = parse(o);
        if (chunk) return chunk;
      }
      // Anything but another chunk ends the message being gathered: it is logged before what follows (and
      // becomes the last message, which a result names).
      const before = flush();
      const parsed = o ? parse(o) : null;
      return [...before, ...(parsed ?? raw(text))];
    },
    end: () => flush(),
    get result() {
      return result;
    },
  };
}

export const geminiCliSpec: CliSpec = {
  module: "gemini_cli",
  defaultBinary: "gemini",
  argv: (prompt, extra, resume) => [
    "-p",
    prompt,
    "--output-format",
    "stream-json",
    ...(resume ? ["--resume", resume] : []),
    ...extra,
  ],
  parser: geminiCliParser,
};

export const geminiCliAdapter = cliAdapter(geminiCliSpec);
