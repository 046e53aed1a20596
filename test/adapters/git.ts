// Real temporary git repositories for the worktree tests.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/** git in `cwd` with a fixed identity (the machine running the tests may have none). */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", ["-c", "user.name=Test Person", "-c", "user.email=test@example.com", ...args], {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  }).trim();
}

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A repository on `main` with a README, a file to delete and an initial commit. */
export function makeRepo(): string {
  const dir = tmpDir("mc-repo-");
  git(dir, "init", "-q", "-b", "main");
  fs.writeFileSync(path.join(dir, "README.md"), "# Demo app\n\nA small service.\n");
  fs.writeFileSync(path.join(dir, "OLD.md"), "one\ntwo\n");
  git(dir, "add", "-A");
  git(dir, "commit", "-q", "-m", "Initial commit");
  return dir;
}

/** A bare repository to push to. */
export function makeBare(): string {
  const dir = tmpDir("mc-bare-");
  git(dir, "init", "-q", "--bare");
  return dir;
}

export function branchExists(repo: string, branch: string): boolean {
  try {
    git(repo, "rev-parse", "--verify", "--quiet", `refs/heads/${branch}`);
    return true;
  } catch {
    return false;
  }
}
