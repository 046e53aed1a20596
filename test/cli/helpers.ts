// Runs the real `mc` (dist/cli/main.js, built once per run by test/fixtures/build-dist.ts) as a child process, in a scratch HOME so profiles never
// touch the user's.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { MC_BIN, NODE } from "../mcp/helpers.js";

export interface McResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function scratchHome(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "mc-cli-home-"));
}

/** Only what `mc` needs: no MC_* variable of the machine running the tests leaks in. */
export function baseEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? "", HOME: home, NO_COLOR: "1", ...extra };
}

export function spawnMc(
  args: string[],
  env: Record<string, string>,
  opts: { cwd?: string; stdin?: string } = {},
): ChildProcess {
  const child = spawn(NODE, [MC_BIN, ...args], { env, cwd: opts.cwd, stdio: ["pipe", "pipe", "pipe"] });
  if (opts.stdin !== undefined) child.stdin!.end(opts.stdin);
  else child.stdin!.end();
  return child;
}

export function mc(
  args: string[],
  env: Record<string, string>,
  opts: { cwd?: string; stdin?: string } = {},
): Promise<McResult> {
  return new Promise((resolve, reject) => {
    const child = spawnMc(args, env, opts);
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr!.on("data", (b: Buffer) => (stderr += b.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Collects a long-running `mc`'s stdout lines as they come. */
export function follow(args: string[], env: Record<string, string>) {
  const child = spawnMc(args, env);
  const lines: string[] = [];
  let buf = "";
  let stderr = "";
  child.stdout!.on("data", (b: Buffer) => {
    buf += b.toString();
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      lines.push(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  });
  child.stderr!.on("data", (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return { child, lines, exited, stderr: () => stderr };
}
