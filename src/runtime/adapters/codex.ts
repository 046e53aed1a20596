// `codex`: OpenAI Codex CLI headless, `codex exec --json <prompt>`. One JSON object per line:
//   {"type":"thread.started","thread_id":…}                                   → session
//   {"type":"turn.started"} / {"type":"turn.completed","usage":{…}}           → usage summed into outputs;
//                                                                              a completed turn is the result
//   {"type":"turn.failed","error":{"message":…}}                              → failed result
//   {"type":"item.started","item":{"type":"command_execution","command":…}}   → tool
//   {"type":"item.completed","item":{"type":"agent_message","text":…}}        → log (the last is outputs.result)
//   {"type":"item.completed","item":{"type":"command_execution","exit_code":…,"aggregated_output":…}}
//                                                                              → log (warn with output tail when ≠ 0)
//   {"type":"item.completed","item":{"type":"file_change","changes":[{"path","kind"}]}} → tool
//   {"type":"error","message":…}                                              → error log; a 401/403 from the
//                                                                              model API is fatal (it would retry)
// A rerun resumes with `codex exec <flags> resume <thread_id> <prompt>` (exec's flags go before `resume`).
// Outside a git work tree (a run without config.repo whose cwd is not in one) `--skip-git-repo-check` is
// passed: Codex refuses such a directory otherwise.
import { cliAdapter, type CliSpec } from "./cli.js";
import {
  clip,
  count,
  defined,
  isObj,
  jsonLinesParser,
  MAX_RESULT,
  str,
  type Json,
  type LineParser,
  type RunEvent,
} from "./events.js";

const SKIP_GIT_CHECK = "--skip-git-repo-check";

const USAGE_KEYS = ["input_tokens", "cached_input_tokens", "output_tokens"] as const;

function tail(s: string, max = 1_000): string {
  const t = s.trimEnd();
  return t.length > max ? `…${t.slice(-max)}` : t;
}

export function codexParser(): LineParser {
  let result: Extract<RunEvent, { type: "result" }> | null = null;
  const usage: Record<string, number> = {};
  let turns = 0;
  let lastMessage: string | null = null;
  let fatal: string | null = null;

  function usageOutputs(): Json {
    return Object.keys(usage).length > 0 ? { usage: { ...usage }, num_turns: turns } : { num_turns: turns };
  }

  function item(phase: "started" | "completed", it: Json): RunEvent[] | null {
    const kind = str(it.type);
    switch (kind) {
      case "command_execution": {
        const cmd = clip(str(it.command) ?? "", 300);
        if (phase === "started") return [{ type: "tool", name: "command", message: `tool: command $ ${cmd}` }];
        const code = typeof it.exit_code === "number" ? it.exit_code : null;
        if (code === 0) return [{ type: "log", level: "info", message: `$ ${cmd} → exit 0` }];
        const out = tail(str(it.aggregated_output) ?? "");
        const how = code === null ? `ended (${str(it.status) ?? "no exit code"})` : `exit ${code}`;
        return [{ type: "log", level: "warn", message: `$ ${cmd} → ${how}${out ? `\n${out}` : ""}` }];
      }
      case "file_change": {
        if (phase === "started") return [];
        const changes = Array.isArray(it.changes) ? it.changes.filter(isObj) : [];
        const list = changes.map((c) => `${str(c.kind) ?? "change"} ${str(c.path) ?? "?"}`).join(", ");
        const files = changes.flatMap((c) => (str(c.path) ? [str(c.path)!] : []));
        return [
          {
            type: "tool",
            name: "file_change",
            message: `tool: file_change ${clip(list || "(no paths)", 500)}`,
            ...(files.length > 0 ? { files } : {}),
          },
        ];
      }
      case "mcp_tool_call": {
        const name = `${str(it.server) ?? "mcp"}.${str(it.tool) ?? "tool"}`;
        if (phase === "started") return [{ type: "tool", name, message: `tool: ${name}` }];
        return str(it.status) === "failed" ? [{ type: "log", level: "warn", message: `tool error: ${name}` }] : [];
      }
      case "web_search":
        return phase === "started"
          ? [{ type: "tool", name: "web_search", message: `tool: web_search ${clip(str(it.query) ?? "", 200)}` }]
          : [];
      case "agent_message": {
        if (phase === "started") return [];
        const text = str(it.text)?.trim();
        if (!text) return [];
        lastMessage = text;
        return [{ type: "log", level: "info", message: clip(text) }];
      }
      case "error":
        return phase === "completed"
          ? [{ type: "log", level: "warn", message: `codex: ${clip(str(it.message) ?? "error", 1_000)}` }]
          : [];
      case "reasoning":
      case "todo_list":
        // The model's private reasoning and its plan: not task logs.
        return [];
      default:
        return null;
    }
  }

  function parse(o: Json): RunEvent[] | null {
    switch (o.type) {
      case "thread.started":
        return [{ type: "session", sessionId: str(o.thread_id) }];
      case "turn.started":
        return [];
      case "turn.completed": {
        turns++;
        if (isObj(o.usage)) {
          for (const k of USAGE_KEYS) {
            const n = count(o.usage[k]);
            if (n !== null) usage[k] = (usage[k] ?? 0) + n;
          }
        }
        const outputs = defined({
          result: lastMessage === null ? undefined : clip(lastMessage, MAX_RESULT),
          ...usageOutputs(),
        });
        result = { type: "result", ok: true, outputs };
        return [result];
      }
      case "turn.failed": {
        turns++;
        const message = isObj(o.error) ? str(o.error.message) : null;
        result = {
          type: "result",
          ok: false,
          reason: `codex turn failed: ${clip(message ?? "no details", 500)}`,
          outputs: usageOutputs(),
        };
        return [
          { type: "log", level: "error", message: `turn failed: ${clip(message ?? "no details", 1_000)}` },
          result,
        ];
      }
      case "item.started":
      case "item.completed":
        return isObj(o.item) ? item(o.type === "item.started" ? "started" : "completed", o.item) : null;
      case "item.updated":
        return [];
      case "error": {
        const message = str(o.message) ?? "no details";
        if (/\b(401 Unauthorized|403 Forbidden)\b/.test(message)) {
          fatal ??= `codex: the model API refused the credentials (${clip(message, 300)}); not waiting for its retries`;
        }
        return [{ type: "log", level: "error", message: `codex error: ${clip(message, 1_000)}` }];
      }
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

export const codexSpec: CliSpec = {
  module: "codex",
  defaultBinary: "codex",
  argv: (prompt, extra, resume, where) => [
    "exec",
    "--json",
    // Codex refuses a directory outside a git work tree ("Not inside a trusted directory and
    // --skip-git-repo-check was not specified"): a run's cwd need not be one. Given once (a repeated flag is
    // an error), and not when config.args has it.
    ...(where && !where.gitWorkTree && !extra.includes(SKIP_GIT_CHECK) ? [SKIP_GIT_CHECK] : []),
    ...extra,
    ...(resume ? ["resume", resume] : []),
    prompt,
  ],
  parser: codexParser,
};

export const codexAdapter = cliAdapter(codexSpec);
