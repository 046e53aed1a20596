// Child processes of the benchmark: the server under test and the ceiling servers. Each is started on a free
// port and waited for until it answers; its resident memory is sampled from /proc (ps elsewhere).
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../test/fixtures/server-process.js";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export interface Proc {
  url: string;
  proc: ChildProcess;
  pid: number;
  output(): string;
  /** Current resident set size in MB. */
  rssMb(): number;
  /** Peak resident set size since the process started, in MB (VmHWM; null where /proc is missing). */
  peakRssMb(): number | null;
  stop(): Promise<void>;
}

const TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/**
 * CPU time in ms (user + system): of the server process, of its main thread (the thread serving requests;
 * Mission Control's PGlite runs in a second thread, the floor's on the main one), and of the whole machine
 * (PostgreSQL's backends and the load generator included).
 */
export function cpuMs(pid: number): { process: number; main: number; machine: number } {
  const read = (f: string) => {
    const text = fs.readFileSync(f, "utf8");
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS;
  };
  // /proc/stat's first line: user nice system idle iowait irq softirq steal ...
  const cpu = fs.readFileSync("/proc/stat", "utf8").split("\n")[0]!.split(/\s+/).slice(1).map(Number);
  const busy = cpu[0]! + cpu[1]! + cpu[2]! + cpu[5]! + cpu[6]! + cpu[7]!;
  return {
    process: read(`/proc/${pid}/stat`),
    main: read(`/proc/${pid}/task/${pid}/stat`),
    machine: (busy * 1000) / TICKS,
  };
}

/** A set-up request as `Authorization` in `headers` allows; its JSON answer, or an error naming the request. */
export async function call(
  url: string,
  method: string,
  p: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<any> {
  const r = await fetch(url + p, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (r.status >= 300) throw new Error(`${method} ${p} → ${r.status} ${text}`);
  return text === "" ? null : JSON.parse(text);
}

function procStatus(pid: number, field: string): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

export function rssMb(pid: number): number {
  const v = procStatus(pid, "VmRSS");
  if (v !== null) return v;
  try {
    return (
      Number(
        execFileSync("ps", ["-o", "rss=", "-p", String(pid)])
          .toString()
          .trim(),
      ) / 1024
    );
  } catch {
    return 0;
  }
}

export interface StartOptions {
  argv: string[];
  env: Record<string, string>;
  /** Path answered with 200 once the process is ready. */
  readyPath: string;
  readyMethod?: string;
  timeoutMs?: number;
  /** Working directory (default: the repository). */
  cwd?: string;
}

export async function startProcess(opts: StartOptions): Promise<Proc> {
  const port = await freePort();
  const proc = spawn(process.execPath, opts.argv, {
    cwd: opts.cwd ?? root,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      ...opts.env,
      HOST: "127.0.0.1",
      PORT: String(port),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  proc.stdout!.on("data", keep);
  proc.stderr!.on("data", keep);
  const exited = new Promise<void>((resolve) => proc.on("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.timeoutMs ?? 180_000);
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null)
      throw new Error(`${opts.argv.join(" ")} exited early: ${out}`);
    try {
      const r = await fetch(url + opts.readyPath, { method: opts.readyMethod ?? "GET" });
      await r.arrayBuffer();
      if (r.status < 500) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`${opts.argv.join(" ")} did not become ready: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const pid = proc.pid!;
  return {
    url,
    proc,
    pid,
    output: () => out,
    rssMb: () => rssMb(pid),
    peakRssMb: () => procStatus(pid, "VmHWM"),
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Samples a process's RSS every 100 ms until stopped; returns the highest value seen, in MB. */
export function sampleRss(pid: number): () => number {
  let peak = rssMb(pid);
  const timer = setInterval(() => {
    peak = Math.max(peak, rssMb(pid));
  }, 100);
  return () => {
    clearInterval(timer);
    return Math.max(peak, rssMb(pid));
  };
}

/**
 * Where a day's results go: `<dir>/<stem>.json`, or `<stem>-2.json`, `-3`, … when a run of that day is already
 * there (results are committed, and a later run never replaces an earlier one, not even one kept only as its
 * `.md`). The `.md` beside it takes the same name.
 */
export function resultsFile(dir: string, stem: string): string {
  const taken = (f: string) => fs.existsSync(f) || fs.existsSync(f.replace(/\.json$/, ".md"));
  let file = path.join(dir, `${stem}.json`);
  for (let n = 2; taken(file); n++) file = path.join(dir, `${stem}-${n}.json`);
  return file;
}
