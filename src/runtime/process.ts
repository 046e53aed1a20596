// Running one agent process. Invariants: the child runs in its own process group (detached), so stopping
// it stops everything it started; its output is read line by line with a cap on line length, so nothing
// it prints can exhaust memory or crash the server; `done` always resolves, exactly once, with how it ended.
import { spawn, type ChildProcess } from "node:child_process";

export const MAX_LINE = 16 * 1024;

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
  onLine(stream: "stdout" | "stderr", line: string): void;
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

function lineSplitter(onLine: (line: string) => void) {
  let buf = "";
  return {
    push(chunk: string) {
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        onLine(buf.slice(0, i).replace(/\r$/, ""));
        buf = buf.slice(i + 1);
      }
      // A line that never ends is cut into pieces rather than buffered without bound.
      while (buf.length > MAX_LINE) {
        onLine(buf.slice(0, MAX_LINE));
        buf = buf.slice(MAX_LINE);
      }
    },
    flush() {
      if (buf.length > 0) onLine(buf);
      buf = "";
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

  const out = lineSplitter((l) => spec.onLine("stdout", l));
  const err = lineSplitter((l) => spec.onLine("stderr", l));
  child.stdout!.setEncoding("utf8").on("data", (d: string) => out.push(d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => err.push(d));
  // A child that exits without reading stdin must not crash us with EPIPE.
  child.stdin!.on("error", () => {});
  if (spec.stdin !== undefined) child.stdin!.end(spec.stdin);
  else child.stdin!.end();

  child.on("error", (e) => finish({ kind: "spawn_error", message: e.message }));
  // "close" waits for stdout/stderr to end; if something the agent left behind still holds them open after
  // the agent itself exited, stop waiting after a moment and clear out its process group.
  child.on("exit", (code, signal) => {
    setTimeout(() => {
      if (finished) return;
      out.flush();
      err.flush();
      if (pid !== undefined) killGroup(pid, "SIGKILL");
      if (forced) return finish(forced);
      finish(signal ? { kind: "signal", signal } : { kind: "exit", code: code ?? 1 });
    }, 2_000).unref();
  });
  child.on("close", (code, signal) => {
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
  }
}
