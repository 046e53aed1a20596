// A coding-agent CLI run headless: the binary (`config.binary`, default the CLI's name on PATH) with the
// CLI's own flags, the task's prompt and `config.args`, in `config.cwd` (the task's worktree when the agent
// has a `config.repo`), with the runtime's agent environment (agentEnv: MC_* variables, config.env).
// stdout goes line by line through the CLI's parser into normalized events; stderr lines are warn logs.
//
// The run succeeds only when the process exits 0 AND the CLI printed a final result that says it succeeded:
// a crash midway, a stream cut short or an error result all fail it, with the most specific reason known.
// Exceptions: a final result too long to read (a line over MAX_LINE, logged as truncated) after exit 0 is a
// success; a parser that sees a fatal condition (a refused API key the CLI would retry for minutes) stops the
// process at once and fails the run with that reason.
//
// Sessions: each run's session is recorded in the task's outputs (`session`: id, agent, adapter). A rerun of
// the task by the same agent and adapter resumes it (the CLI's own resume flag) with a short prompt, unless
// `config.resume` is false; a resume the CLI refuses before it starts a session (the session is gone) is
// followed by a fresh run with the full prompt. A reviewer's rejection comment is in either prompt.
import fs from "node:fs";
import path from "node:path";
import { agentEnv, timeoutOf } from "./command.js";
import { clip, isObj, str, type LineParser, type RunEvent } from "./events.js";
import { buildPrompt, resumePrompt } from "./prompt.js";
import type { Adapter, AdapterRun, RunContext, RunOutcome } from "./types.js";
import { describeExit, MAX_LINE, runProcess, type ExitReason, type RunningProcess } from "../process.js";
import { mcpForRun } from "../../mcp/run-config.js";

export interface CliSpec {
  /** The adapter_module value. */
  module: string;
  /** Looked up on PATH (the agent's env PATH when config.env sets one) unless config.binary names one. */
  defaultBinary: string;
  /**
   * Arguments after the binary: the CLI's headless flags, the prompt and the agent's `config.args`; with
   * `resume`, the flags that continue that session.
   */
  argv(prompt: string, extra: string[], resume: string | null, where?: RunPlace): string[];
  parser(): LineParser;
}

/** Where the CLI runs, for CLIs whose flags depend on it (Codex refuses a directory outside git). */
export interface RunPlace {
  /** The run's directory is inside a git work tree. */
  gitWorkTree: boolean;
}

/**
 * Whether `dir` is inside a git work tree: a `.git` (directory, or the file a linked worktree has) in it or
 * a parent, as git's own discovery finds it (GIT_DIR and ceiling directories aside).
 */
export function inGitWorkTree(dir: string): boolean {
  let d = path.resolve(dir);
  for (;;) {
    if (fs.existsSync(path.join(d, ".git"))) return true;
    const up = path.dirname(d);
    if (up === d) return false;
    d = up;
  }
}

function failed(reason: string): AdapterRun {
  return { done: Promise.resolve<RunOutcome>({ ok: false, reason }), stop: async () => {} };
}

/** How the run ended, from the exit status and the final result the CLI printed (if any). */
export function cliOutcome(
  module: string,
  exit: ExitReason,
  result: LineParser["result"],
  opts: { fatal?: string | null; truncated?: boolean } = {},
): RunOutcome {
  if (opts.fatal) return { ok: false, reason: opts.fatal };
  if (result && !result.ok) return { ok: false, reason: result.reason ?? `${module} reported an error` };
  if (exit.kind !== "exit" || exit.code !== 0) return { ok: false, reason: `${module} process ${describeExit(exit)}` };
  if (!result && !opts.truncated) return { ok: false, reason: `${module} exited without printing a result` };
  return { ok: true };
}

/** A session id a CLI may be given back on its command line: no option look-alikes, no odd characters. */
const SESSION_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;

/** The session this agent's previous run on the task left, when this adapter can resume it. */
export function previousSession(ctx: Pick<RunContext, "task" | "agent">, module: string): string | null {
  const s = ctx.task.outputs.session;
  if (!isObj(s) || s.agent_id !== ctx.agent.agent_id || s.adapter_module !== module) return null;
  const id = str(s.session_id);
  return id !== null && SESSION_ID.test(id) ? id : null;
}

export function cliAdapter(spec: CliSpec): Adapter {
  return {
    kind: "process",
    sessions: true,
    start(ctx: RunContext) {
      const cfg = ctx.agent.config;
      const binary = cfg.binary === undefined ? spec.defaultBinary : cfg.binary;
      if (typeof binary !== "string" || binary.trim() === "")
        return failed("agent config.binary must be a non-empty string");
      const args = cfg.args === undefined ? [] : cfg.args;
      if (!Array.isArray(args) || !args.every((a) => typeof a === "string")) {
        return failed("agent config.args must be a list of strings");
      }
      if (cfg.resume !== undefined && typeof cfg.resume !== "boolean")
        return failed("agent config.resume must be true or false");
      const cwd = typeof cfg.cwd === "string" ? cfg.cwd : undefined;
      const previous = cfg.resume === false ? null : previousSession(ctx, spec.module);
      // This server's MCP tools, registered with the CLI for the run (unless config.mcp is false).
      const mcp = mcpForRun(spec.module, ctx);
      // The process runs in config.cwd, else in this server's own directory.
      const place: RunPlace = { gitWorkTree: inGitWorkTree(cwd ?? process.cwd()) };

      let current: RunningProcess | null = null;
      let stopped = false;

      /** One process of the CLI; resolves with how it ended and whether it got as far as a session. */
      const attempt = (resume: string | null) => {
        const parser = spec.parser();
        let sawSession = false;
        let truncated = false;
        let fatal: string | null = null;
        const emit = (events: RunEvent[]) => {
          for (const e of events) {
            ctx.emit(e);
            if (e.type === "session" && e.sessionId) {
              sawSession = true;
              if (SESSION_ID.test(e.sessionId)) {
                ctx.emit({
                  type: "outputs",
                  outputs: {
                    session: { session_id: e.sessionId, agent_id: ctx.agent.agent_id, adapter_module: spec.module },
                  },
                });
              }
            }
          }
        };
        const prompt = `${resume ? resumePrompt(ctx) : buildPrompt(ctx)}${mcp ? `\n\n${mcp.promptLine}` : ""}`;
        const proc = runProcess({
          argv: [binary, ...spec.argv(prompt, [...(args as string[]), ...(mcp?.args ?? [])], resume, place)],
          cwd,
          env: agentEnv(ctx, mcp?.env),
          timeoutS: timeoutOf(cfg),
          onLine(stream, line, cut) {
            if (cut) {
              if (stream === "stdout") truncated = true;
              ctx.emit({
                type: "log",
                level: "warn",
                message: `${stream} line longer than ${MAX_LINE} characters, truncated: ${clip(line, 500)}`,
              });
              return;
            }
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
            if (!fatal && parser.fatal) {
              fatal = parser.fatal;
              ctx.emit({ type: "log", level: "error", message: `stopping the run: ${fatal}` });
              void proc.stop(2_000);
            }
          },
        });
        current = proc;
        return {
          pid: proc.pid,
          done: proc.done.then((exit) => {
            try {
              emit(parser.end());
            } catch {
              // nothing buffered is worth failing the run over
            }
            if (truncated && !parser.result && exit.kind === "exit" && exit.code === 0) {
              ctx.emit({
                type: "log",
                level: "warn",
                message: `${spec.module}'s final result was too long to read; exit 0 taken as success`,
              });
            }
            return { outcome: cliOutcome(spec.module, exit, parser.result, { fatal, truncated }), sawSession };
          }),
        };
      };

      const first = attempt(previous);
      if (previous) ctx.emit({ type: "log", level: "info", message: `resuming ${spec.module} session ${previous}` });
      const done = first.done
        .then(async (r) => {
          if (r.outcome.ok || !previous || r.sawSession || stopped) return r.outcome;
          // The CLI refused to resume (the session is gone, another HOME): start over with the whole task.
          ctx.emit({
            type: "log",
            level: "warn",
            message: `could not resume session ${previous} (${clip(r.outcome.reason, 300)}); starting a new session`,
          });
          return (await attempt(null).done).outcome;
        })
        .finally(() => mcp?.cleanup());
      return {
        pid: first.pid,
        done,
        stop: async (g) => {
          stopped = true;
          await current?.stop(g);
        },
      };
    },
  };
}
