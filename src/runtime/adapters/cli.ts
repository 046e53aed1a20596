// A coding-agent CLI run headless: the binary (`config.binary`, default the CLI's name on PATH) with the
// CLI's own flags, the task's prompt and `config.args`, in `config.cwd` (the task's worktree when the agent
// has a `config.repo`), with the runtime's agent environment (agentEnv: MC_* variables, config.env).
// stdout goes line by line through the CLI's parser into normalized events; stderr lines are warn logs.
//
// The run succeeds only when the process exits 0 AND the CLI printed a final result that says it succeeded:
// a crash midway, a stream cut short or an error result all fail it, with the most specific reason known.
import { agentEnv, timeoutOf } from "./command.js";
import { clip, type LineParser, type RunEvent } from "./events.js";
import { buildPrompt } from "./prompt.js";
import type { Adapter, RunContext, RunOutcome } from "./types.js";
import { describeExit, runProcess, type ExitReason } from "../process.js";

export interface CliSpec {
  /** The adapter_module value. */
  module: string;
  /** Looked up on PATH (the agent's env PATH when config.env sets one) unless config.binary names one. */
  defaultBinary: string;
  /** Arguments after the binary: the CLI's headless flags, the prompt and the agent's `config.args`. */
  argv(prompt: string, extra: string[]): string[];
  parser(): LineParser;
}

function failed(reason: string) {
  return { done: Promise.resolve<RunOutcome>({ ok: false, reason }), stop: async () => {} };
}

/** How the run ended, from the exit status and the final result the CLI printed (if any). */
export function cliOutcome(module: string, exit: ExitReason, result: LineParser["result"]): RunOutcome {
  if (result && !result.ok) return { ok: false, reason: result.reason ?? `${module} reported an error` };
  if (exit.kind !== "exit" || exit.code !== 0) return { ok: false, reason: `${module} process ${describeExit(exit)}` };
  if (!result) return { ok: false, reason: `${module} exited without printing a result` };
  return { ok: true };
}

export function cliAdapter(spec: CliSpec): Adapter {
  return {
    kind: "process",
    sessions: true,
    start(ctx: RunContext) {
      const cfg = ctx.agent.config;
      const binary = cfg.binary === undefined ? spec.defaultBinary : cfg.binary;
      if (typeof binary !== "string" || binary.trim() === "") return failed("agent config.binary must be a non-empty string");
      const args = cfg.args === undefined ? [] : cfg.args;
      if (!Array.isArray(args) || !args.every((a) => typeof a === "string")) {
        return failed("agent config.args must be a list of strings");
      }
      const cwd = typeof cfg.cwd === "string" ? cfg.cwd : undefined;
      const parser = spec.parser();
      const emit = (events: RunEvent[]) => {
        for (const e of events) ctx.emit(e);
      };
      const proc = runProcess({
        argv: [binary, ...spec.argv(buildPrompt(ctx), args as string[])],
        cwd,
        env: agentEnv(ctx),
        timeoutS: timeoutOf(cfg),
        onLine(stream, line) {
          if (stream === "stderr") {
            if (line.trim() !== "") ctx.emit({ type: "log", level: "warn", message: clip(line) });
            return;
          }
          try {
            emit(parser.line(line));
          } catch {
            // Parsers do not throw; if one ever did, the line is still kept.
            if (line.trim() !== "") ctx.emit({ type: "log", level: "info", message: clip(line) });
          }
        },
      });
      const done = proc.done.then((exit) => {
        try {
          emit(parser.end());
        } catch {
          // nothing buffered is worth failing the run over
        }
        return cliOutcome(spec.module, exit, parser.result);
      });
      return { pid: proc.pid, done, stop: async (g) => void (await proc.stop(g)) };
    },
  };
}
