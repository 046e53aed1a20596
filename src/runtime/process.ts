// Running one agent process. Invariants: the child runs in its own process group (detached), so stopping
// it stops everything it started; its output is read line by line, each line whole up to MAX_LINE (past it
// the line is cut and marked truncated), so nothing it prints can exhaust memory or crash the server; `done` always resolves, exactly once, with how it ended.
import { spawn, type ChildProcess } from "node:child_process";
import { assertNever } from "../core/assert-never.js";

/**
 * The longest output line read whole (a coding CLI's final result is one JSON line and may be long). Past it
 * the line's start is handed on marked `truncated` and the rest, up to its newline, is skipped.
 */
export const MAX_LINE = 8 * 1024 * 1024;

/** After the agent's process exited, how long output still in its pipes is read before the run is over. */
export const EXIT_DRAIN_MS = 200;

export type ExitReason =
  | { kind: "exit"; code: number }
  | { kind: "signal"; signal: string }
  | { kind: "timeout"; afterS: number }
  | { kind: "stopped" }
  | { kind: "spawn_error"; message: string };

export interface RunSpec {
  argv: string[];
  cwd?: string;
  env: Record<string, string>;
  stdin?: string;
  timeoutS?: number;
  /** `truncated`: the line was longer than MAX_LINE; `line` is its first MAX_LINE characters. */
  onLine(stream: "stdout" | "stderr", line: string, truncated?: boolean): void;
}

export interface RunningProcess {
  pid: number | undefined;
  done: Promise<ExitReason>;
  /** SIGTERM to the whole group, SIGKILL after `graceMs` if anything is left. Resolves when it has exited. */
  stop(graceMs: number): Promise<ExitReason>;
}

/** Signals a whole process group; false when it no longer exists. */
export function killGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

function lineSplitter(onLine: (line: string, truncated: boolean) => void) {
  // Pieces of the line being read, so a long line costs one join rather than a copy per chunk.
  let parts: string[] = [];
  let size = 0;
  let skipping = false;
  const take = (piece: string) => {
    if (skipping) return;
    const room = MAX_LINE - size;
    if (piece.length <= room) {
      parts.push(piece);
      size += piece.length;
      return;
    }
    parts.push(piece.slice(0, room));
    onLine(parts.join(""), true);
    parts = [];
    size = 0;
    skipping = true;
  };
  const end = () => {
    if (!skipping) onLine(parts.join("").replace(/\r$/, ""), false);
    parts = [];
    size = 0;
    skipping = false;
  };
  return {
    push(chunk: string) {
      let from = 0;
      let i: number;
      while ((i = chunk.indexOf("\n", from)) >= 0) {
        take(chunk.slice(from, i));
        end();
        from = i + 1;
      }
      if (from < chunk.length) take(chunk.slice(from));
    },
    flush() {
      if (size > 0) end();
      parts = [];
      size = 0;
      skipping = false;
    },
  };
}

export function runProcess(spec: RunSpec): RunningProcess {
  let child: ChildProcess;
  let settle!: (r: ExitReason) => void;
  const done = new Promise<ExitReason>((resolve) => (settle = resolve));
  let finished = false;
  let forced: ExitReason | null = null;
  const finish = (r: ExitReason) => {
    if (finished) return;
    finished = true;
    if (timer) clearTimeout(timer);
    settle(r);
  };

  try {
    child = spawn(spec.argv[0]!, spec.argv.slice(1), {
      cwd: spec.cwd,
      env: spec.env,
      detached: true,
      stdio: ["pipe", "pipe", "pipe"],
    });
  } catch (err) {
    finish({ kind: "spawn_error", message: err instanceof Error ? err.message : String(err) });
    return { pid: undefined, done, stop: async () => done };
  }

  const out = lineSplitter((l, cut) => spec.onLine("stdout", l, cut));
  const err = lineSplitter((l, cut) => spec.onLine("stderr", l, cut));
  child.stdout!.setEncoding("utf8").on("data", (d: string) => out.push(d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => err.push(d));
  // A child that exits without reading stdin must not crash us with EPIPE.
  child.stdin!.on("error", () => {});
  if (spec.stdin !== undefined) child.stdin!.end(spec.stdin);
  else child.stdin!.end();

  child.on("error", (e) => finish({ kind: "spawn_error", message: e.message }));
  // The run ends when the agent's process exits, however it exits: "exit" comes from the process itself
  // (SIGCHLD), not from the end of its pipes, which a child it started may hold open for as long as it lives.
  // After EXIT_DRAIN_MS (for output already in the pipes to be read) the rest of its process group is stopped
  // (SIGTERM, SIGKILL a second later) and the run is over.
  child.on("exit", (code, signal) => {
    setTimeout(() => {
      if (finished) return;
      out.flush();
      err.flush();
      if (pid !== undefined && killGroup(pid, "SIGTERM")) {
        setTimeout(() => groupAlive(pid) && killGroup(pid, "SIGKILL"), 1_000).unref();
      }
      if (forced) return finish(forced);
      finish(signal ? { kind: "signal", signal } : { kind: "exit", code: code ?? 1 });
    }, EXIT_DRAIN_MS).unref();
  });
  child.on("close", (code, signal) => {
    // Already over (the exit was seen first): what a leftover child prints after that is not the run's.
    if (finished) return;
    out.flush();
    err.flush();
    if (forced) return finish(forced);
    if (signal) return finish({ kind: "signal", signal });
    finish({ kind: "exit", code: code ?? 1 });
  });

  let timer: NodeJS.Timeout | undefined;
  const pid = child.pid;

  async function stop(graceMs: number, reason: ExitReason = { kind: "stopped" }): Promise<ExitReason> {
    if (finished || pid === undefined) return done;
    forced ??= reason;
    killGroup(pid, "SIGTERM");
    const killer = setTimeout(() => killGroup(pid, "SIGKILL"), graceMs);
    const r = await done;
    clearTimeout(killer);
    // The leader may have exited while members of its group ignore SIGTERM: finish them.
    if (groupAlive(pid)) killGroup(pid, "SIGKILL");
    return r;
  }

  if (spec.timeoutS && spec.timeoutS > 0) {
    const afterS = spec.timeoutS;
    timer = setTimeout(() => void stop(2_000, { kind: "timeout", afterS }), afterS * 1000);
    timer.unref();
  }

  return { pid, done, stop: (g) => stop(g) };
}

export function describeExit(r: ExitReason): string {
  switch (r.kind) {
    case "exit":
      return `exited with code ${r.code}`;
    case "signal":
      return `killed by ${r.signal}`;
    case "timeout":
      return `timed out after ${r.afterS} s`;
    case "stopped":
      return "stopped";
    case "spawn_error":
      return `could not start: ${r.message}`;
    default:
      return assertNever(r);
  }
}
