// Git worktrees for coding-agent runs: when an agent's `config.repo` names a local git repository, each of
// its tasks gets its own worktree and branch, so agents never step on each other or on the checkout people
// work in. Invariants:
// - A task has at most one worktree: `<root>/<task>` on branch `agent/<agent>/<task>` (keys made safe for
//   paths and ref names by `safeName`), described by `<root>/.mc/<task>.json`, which is what the sweep reads.
// - A run reuses its task's worktree (a rerun after a rejection or a pause continues the same branch); a task
//   that moved to another agent or repository gets a fresh one, the new branch starting where the old ended.
// - Nothing an agent did is lost: what it left uncommitted is committed when its run ends and again before a
//   worktree is removed, and branches are never deleted.
// - A worktree is removed only when its task is completed or gone, or its mission has ended (completed,
//   failed, cancelled), and never while a run of this process uses it. In review, blocked, rejected or failed
//   (it may be retried), it stays.
// - Commands that change a repository's administrative state run one at a time per repository here.
// - Every git command runs from an argv list (never a shell), with a timeout, no terminal prompts, and an
//   environment that carries none of the server's secrets.
import { execFile } from "node:child_process";
import { hash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { eq, inArray } from "drizzle-orm";
import type { FastifyBaseLogger } from "fastify";
import type { Database } from "../../db/client.js";
import { missions, tasks } from "../../db/schema/index.js";
import type { LogLevel } from "./events.js";
import { isTerminalTask } from "../../tasks/tasks.state.js";
import { isTerminalMission, type MissionStatus } from "../../missions/missions.state.js";

export interface WorktreeConfig {
  repo: string;
  baseBranch: string | null;
  push: boolean;
  remote: string;
}

/** The agent's worktree settings: null without `config.repo`, a message when they are unusable. */
export function worktreeConfig(config: Record<string, unknown>): WorktreeConfig | null | { error: string } {
  const { repo, base_branch, push, remote } = config;
  if (repo === undefined || repo === null) return null;
  if (typeof repo !== "string" || repo.trim() === "")
    return { error: "agent config.repo must be the path of a local git repository" };
  if (base_branch !== undefined && base_branch !== null && !refLike(base_branch)) {
    return { error: "agent config.base_branch must be a branch name" };
  }
  if (push !== undefined && typeof push !== "boolean") return { error: "agent config.push must be true or false" };
  if (remote !== undefined && !remoteLike(remote)) return { error: "agent config.remote must be a remote name or URL" };
  return {
    repo: path.resolve(repo),
    baseBranch: typeof base_branch === "string" ? base_branch : null,
    push: push === true,
    remote: typeof remote === "string" ? remote : "origin",
  };
}

/** A name git will not take for an option or reject out of hand. */
function refLike(v: unknown): v is string {
  return typeof v === "string" && /^[^-\s~^:?*[\\][^\s~^:?*[\\]{0,254}$/.test(v) && !v.includes("..");
}

/** A remote name, path or URL: anything but an option or a string with spaces or control characters. */
function remoteLike(v: unknown): v is string {
  return (
    typeof v === "string" &&
    /^[^-\s][^\s]{0,1023}$/.test(v) &&
    ![...v].some((c) => c.charCodeAt(0) < 32 || c.charCodeAt(0) === 127)
  );
}

/**
 * A key as a path segment and ref-name component: unchanged when it already is one (`task-001`), otherwise
 * its unsafe characters replaced and a hash of the key appended, so two keys never share a name.
 */
export function safeName(key: string): string {
  if (/^[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$/.test(key) && !/\.lock$/i.test(key) && key.length <= 100)
    return key;
  const base =
    key
      .replace(/[^A-Za-z0-9_-]+/g, "_")
      .replace(/^[-_]+|[-_]+$/g, "")
      .slice(0, 80) || "x";
  return `${base}-${hash("sha256", key, "hex").slice(0, 8)}`;
}

interface Meta {
  name: string;
  task_key: string;
  task_db_id: number;
  agent_key: string;
  repo: string;
  path: string;
  branch: string;
  base: string;
  base_commit: string;
  objective: string;
  created_at: string;
}

export interface Worktree {
  name: string;
  path: string;
  repo: string;
  branch: string;
  /** The branch (or commit) the task's branch was made from; diff stats are measured against it. */
  base: string;
  baseCommit: string;
  /** Whether an earlier run's worktree was picked up again. */
  reused: boolean;
}

export interface FinishResult {
  outputs: Record<string, unknown>;
  notes: Array<{ level: LogLevel; message: string }>;
}

interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class GitError extends Error {}

/** Environment for git: enough to find credentials (HOME, ssh agent), nothing of the server's own. */
function gitEnv(): Record<string, string> {
  const env: Record<string, string> = { GIT_TERMINAL_PROMPT: "0", LC_ALL: "C" };
  for (const k of ["PATH", "HOME", "USER", "TMPDIR", "SSH_AUTH_SOCK", "GIT_SSH_COMMAND", "XDG_CONFIG_HOME"]) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  return env;
}

export function git(args: string[], cwd: string, timeoutMs = 60_000): Promise<GitResult> {
  return new Promise((resolve) => {
    execFile(
      "git",
      args,
      { cwd, env: gitEnv(), timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === "number"
            ? (err as { code: number }).code
            : -1
          : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr || (err && code === -1 ? err.message : "")) });
      },
    );
  });
}

async function must(args: string[], cwd: string, what: string, timeoutMs?: number): Promise<string> {
  const r = await git(args, cwd, timeoutMs);
  if (r.code !== 0) throw new GitError(`${what}: ${gitProblem(r.stderr) || `git exited with ${r.code}`}`);
  return r.stdout.trim();
}

/** What went wrong, from git's stderr: its first fatal or error line, else its last line. */
function gitProblem(s: string): string {
  const lines = s
    .trim()
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  const line = lines.find((l) => /^(fatal|error):/.test(l)) ?? lines.at(-1) ?? "";
  return line.slice(0, 500);
}

/**
 * Whether `dir` is itself the top of a git working tree. Asking git "is this inside a work tree?" is not
 * enough: a plain directory under MC_DATA_DIR is inside whatever repository holds the data directory (the
 * server's own checkout, often), and committing there would commit someone else's work.
 */
async function isWorktreeRoot(dir: string): Promise<boolean> {
  if (!isDir(dir)) return false;
  const r = await git(["rev-parse", "--show-toplevel"], dir);
  if (r.code !== 0) return false;
  try {
    return fs.realpathSync(r.stdout.trim()) === fs.realpathSync(dir);
  } catch {
    return false;
  }
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

export interface WorktreesOptions {
  /** `MC_DATA_DIR/worktrees`. */
  root: string;
  database: Database;
  log?: FastifyBaseLogger;
}

export class Worktrees {
  readonly root: string;
  private readonly metaDir: string;
  private readonly locks = new Map<string, Promise<unknown>>();
  /** Worktrees a run of this process is using: the sweep leaves them alone. */
  private readonly busy = new Set<string>();
  private sweeping: Promise<string[]> | null = null;

  constructor(private readonly opts: WorktreesOptions) {
    this.root = path.resolve(opts.root);
    this.metaDir = path.join(this.root, ".mc");
  }

  /** Runs `fn` after every earlier call for the same repository has settled. */
  private async locked<T>(repo: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(repo) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(repo, settled);
    try {
      return await run;
    } finally {
      if (this.locks.get(repo) === settled) this.locks.delete(repo);
    }
  }

  private metaPath(name: string) {
    return path.join(this.metaDir, `${name}.json`);
  }

  private readMeta(name: string): Meta | null {
    try {
      const m = JSON.parse(fs.readFileSync(this.metaPath(name), "utf8")) as Meta;
      return typeof m.repo === "string" && typeof m.branch === "string" && typeof m.path === "string" ? m : null;
    } catch {
      return null;
    }
  }

  private writeMeta(m: Meta) {
    fs.mkdirSync(this.metaDir, { recursive: true });
    const tmp = `${this.metaPath(m.name)}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(m, null, 2));
    fs.renameSync(tmp, this.metaPath(m.name));
  }

  /** Deletes a directory, but only one directly under the worktrees root. */
  private removeDir(p: string) {
    if (path.dirname(path.resolve(p)) !== this.root) return;
    fs.rmSync(p, { recursive: true, force: true });
  }

  /** The worktree for a run of `task` by `agent`: the task's existing one, or a new one on a new branch. */
  async prepare(
    cfg: WorktreeConfig,
    task: { id: number; taskId: string; objective: string },
    agent: { agentId: string },
  ): Promise<Worktree> {
    if (!isDir(cfg.repo)) throw new GitError(`config.repo ${cfg.repo} is not a directory`);
    const top = await git(["rev-parse", "--show-toplevel"], cfg.repo);
    if (top.code !== 0 || top.stdout.trim() === "")
      throw new GitError(`config.repo ${cfg.repo} is not a git repository with a working tree`);
    const repo = top.stdout.trim();
    const name = safeName(task.taskId);
    const branch = `agent/${safeName(agent.agentId)}/${name}`;
    const wtPath = path.join(this.root, name);
    if (this.busy.has(name)) throw new GitError(`the worktree of task ${task.taskId} is in use by another run`);
    this.busy.add(name);
    try {
      return await this.locked(repo, async () => {
        fs.mkdirSync(this.root, { recursive: true });
        const meta = this.readMeta(name);
        const live = meta !== null && (await isWorktreeRoot(wtPath));
        if (live && meta.repo === repo && meta.branch === branch) {
          return { name, path: wtPath, repo, branch, base: meta.base, baseCommit: meta.base_commit, reused: true };
        }
        // The task moved to another agent or repository: the old worktree is retired (its work committed to
        // its branch) and, in the same repository, the new branch continues from the old one.
        let startPoint: string | null = null;
        let base: { name: string; commit: string } | null = null;
        if (meta && live) {
          await this.retireLocked(meta);
          if (meta.repo === repo) {
            startPoint = meta.branch;
            base = { name: meta.base, commit: meta.base_commit };
          }
        } else if (meta || fs.existsSync(wtPath)) {
          // Left over without its description (or the reverse): whatever work it holds goes to its branch first.
          if (await isWorktreeRoot(wtPath))
            await commitLeftovers(wtPath, {
              objective: task.objective,
              taskKey: task.taskId,
              agentKey: agent.agentId,
            }).catch(() => null);
          this.removeDir(wtPath);
          if (meta && isDir(meta.repo)) await git(["worktree", "prune"], meta.repo);
        }
        await git(["worktree", "prune"], repo);
        base ??= await this.resolveBase(repo, cfg.baseBranch);
        const exists = (await git(["rev-parse", "--verify", "--quiet", `refs/heads/${branch}`], repo)).code === 0;
        if (exists) {
          await must(["worktree", "add", wtPath, branch], repo, `could not check out branch ${branch}`);
        } else {
          await must(
            ["worktree", "add", "-b", branch, wtPath, startPoint ?? base.commit],
            repo,
            `could not create worktree for ${branch}`,
          );
        }
        this.writeMeta({
          name,
          task_key: task.taskId,
          task_db_id: task.id,
          agent_key: agent.agentId,
          repo,
          path: wtPath,
          branch,
          base: base.name,
          base_commit: base.commit,
          objective: task.objective,
          created_at: new Date().toISOString(),
        });
        return { name, path: wtPath, repo, branch, base: base.name, baseCommit: base.commit, reused: false };
      });
    } catch (err) {
      this.busy.delete(name);
      throw err;
    }
  }

  /** `config.base_branch`, or the repository's current branch (its commit when HEAD is detached). */
  private async resolveBase(repo: string, wanted: string | null): Promise<{ name: string; commit: string }> {
    let name = wanted;
    if (name === null) {
      const head = await git(["symbolic-ref", "--quiet", "--short", "HEAD"], repo);
      name = head.code === 0 && head.stdout.trim() !== "" ? head.stdout.trim() : null;
    }
    const ref = name ?? "HEAD";
    const commit = await git(["rev-parse", "--verify", "--quiet", "--end-of-options", `${ref}^{commit}`], repo);
    if (commit.code !== 0) throw new GitError(`base branch ${ref} does not exist in ${repo}`);
    const sha = commit.stdout.trim();
    return { name: name ?? sha, commit: sha };
  }

  /** The run is over: its worktree may be swept again once its task is done. */
  release(wt: Worktree) {
    this.busy.delete(wt.name);
  }

  /**
   * End of a run: commits what the agent left uncommitted (the task's objective as the message, the agent
   * as the author), measures the branch against its base, and pushes it when configured.
   */
  async finish(
    wt: Worktree,
    cfg: WorktreeConfig,
    run: { objective: string; taskKey: string; agentKey: string },
  ): Promise<FinishResult> {
    const notes: FinishResult["notes"] = [];
    const outputs = await this.locked(wt.repo, async () => {
      const committed = await commitLeftovers(wt.path, run);
      if (committed)
        notes.push({
          level: "info",
          message: `committed what the agent left uncommitted as ${committed.slice(0, 12)} on ${wt.branch}`,
        });
      const head = await must(["rev-parse", "HEAD"], wt.path, "could not read the branch head");
      return { branch: wt.branch, base_branch: wt.base, commit: head, ...(await diffStats(wt, head)) };
    });
    if (cfg.push) {
      const r = await git(
        ["push", "--porcelain", cfg.remote, `refs/heads/${wt.branch}:refs/heads/${wt.branch}`],
        wt.path,
        120_000,
      );
      if (r.code === 0) {
        notes.push({ level: "info", message: `pushed ${wt.branch} to ${cfg.remote}` });
        Object.assign(outputs, { pushed: true, remote: cfg.remote });
      } else {
        const why = gitProblem(r.stderr) || `git exited with ${r.code}`;
        notes.push({ level: "warn", message: `push of ${wt.branch} to ${cfg.remote} failed: ${why}` });
        Object.assign(outputs, { pushed: false, remote: cfg.remote, push_error: why });
      }
    }
    return { outputs, notes };
  }

  /** Removes one worktree (committing leftovers first) and its description; the branch stays. */
  private async retireLocked(meta: Meta) {
    const repoOk = isDir(meta.repo);
    if (await isWorktreeRoot(meta.path)) {
      await commitLeftovers(meta.path, {
        objective: meta.objective,
        taskKey: meta.task_key,
        agentKey: meta.agent_key,
      }).catch((err: unknown) =>
        this.opts.log?.warn({ err, worktree: meta.path }, "committing leftovers before removing a worktree failed"),
      );
      if (repoOk) await git(["worktree", "remove", "--force", meta.path], meta.repo);
    }
    this.removeDir(meta.path);
    if (repoOk) await git(["worktree", "prune"], meta.repo);
    fs.rmSync(this.metaPath(meta.name), { force: true });
  }

  /**
   * Removes the worktrees whose task is completed or gone, or whose mission has ended. Returns the task keys
   * whose worktree was removed. Concurrent calls share one pass.
   */
  sweep(): Promise<string[]> {
    this.sweeping ??= this.sweepOnce().finally(() => {
      this.sweeping = null;
    });
    return this.sweeping;
  }

  private async sweepOnce(): Promise<string[]> {
    let files: string[];
    try {
      files = fs.readdirSync(this.metaDir).filter((f) => f.endsWith(".json"));
    } catch {
      return [];
    }
    const metas = files.map((f) => this.readMeta(f.slice(0, -5))).filter((m): m is Meta => m !== null);
    if (metas.length === 0) return [];
    const rows = await this.opts.database.db
      .select({ id: tasks.id, taskId: tasks.taskId, status: tasks.status, missionStatus: missions.status })
      .from(tasks)
      .innerJoin(missions, eq(missions.id, tasks.missionId))
      .where(inArray(tasks.id, [...new Set(metas.map((m) => m.task_db_id))]));
    const byId = new Map(rows.map((r) => [r.id, r]));
    const removed: string[] = [];
    for (const meta of metas) {
      if (this.busy.has(meta.name)) continue;
      const row = byId.get(meta.task_db_id);
      const done =
        !row ||
        row.taskId !== meta.task_key ||
        isTerminalTask(row.status) ||
        isTerminalMission(row.missionStatus as MissionStatus);
      if (!done) continue;
      try {
        await this.locked(meta.repo, () => this.retireLocked(meta));
        removed.push(meta.task_key);
        this.opts.log?.info(
          { task: meta.task_key, worktree: meta.path, branch: meta.branch },
          "removed the worktree of a finished task",
        );
      } catch (err) {
        this.opts.log?.warn({ err, worktree: meta.path }, "removing a worktree failed; will retry");
      }
    }
    return removed;
  }
}

/** Commits everything in the worktree that is not committed yet; the new commit's id, or null if clean. */
async function commitLeftovers(
  dir: string,
  run: { objective: string; taskKey: string; agentKey: string },
): Promise<string | null> {
  if (!(await isWorktreeRoot(dir))) throw new GitError(`${dir} is no longer a git worktree`);
  await must(["add", "--all"], dir, "could not stage the agent's changes");
  const staged = await git(["diff", "--cached", "--quiet"], dir);
  if (staged.code === 0) return null;
  // The agent is the author; the committer is whoever git is configured as here, or Mission Control.
  const configured = (await git(["config", "user.email"], dir)).stdout.trim() !== "";
  const identity = configured ? [] : ["-c", "user.name=Mission Control", "-c", "user.email=mission-control@localhost"];
  const objective = run.objective.replace(/\0/g, "").trim() || `task ${run.taskKey}`;
  const firstLine = objective.split("\n")[0]!;
  const subject = firstLine.length > 72 ? `${firstLine.slice(0, 71)}…` : firstLine;
  const message = ["-m", subject];
  if (objective !== subject) message.push("-m", objective.slice(0, 20_000));
  message.push("-m", `Mission-Control-Task: ${run.taskKey}\nMission-Control-Agent: ${run.agentKey}`);
  // --no-verify: the repository's hooks are for people's commits; this one only records what the agent did.
  await must(
    [
      ...identity,
      "commit",
      "--quiet",
      "--no-verify",
      `--author=${run.agentKey} <${run.agentKey}@mission-control.invalid>`,
      ...message,
    ],
    dir,
    "could not commit the agent's changes",
  );
  return must(["rev-parse", "HEAD"], dir, "could not read the new commit");
}

/** Most paths kept in `changed_files` (the conflict radar compares them between tasks). */
export const MAX_CHANGED_FILES = 1_000;

/**
 * Files changed, lines inserted and deleted on the branch since it left its base, and which files (paths
 * relative to the repository, sorted) with the repository they belong to: what the conflict radar compares.
 */
async function diffStats(wt: Worktree, head: string) {
  const mb = await git(["merge-base", "--end-of-options", wt.base, head], wt.path);
  const from = mb.code === 0 && mb.stdout.trim() !== "" ? mb.stdout.trim() : wt.baseCommit;
  // -z: paths unquoted, whatever characters they hold.
  const out = await must(
    ["diff", "--numstat", "-z", "--no-renames", from, head],
    wt.path,
    "could not measure the branch",
  );
  let files = 0;
  let insertions = 0;
  let deletions = 0;
  const paths: string[] = [];
  for (const record of out.split("\0")) {
    const m = /^(\d+|-)\t(\d+|-)\t([\s\S]+)$/.exec(record.replace(/^\n/, ""));
    if (!m) continue;
    files++;
    // Binary files count as changed with no lines.
    if (m[1] !== "-") insertions += Number(m[1]);
    if (m[2] !== "-") deletions += Number(m[2]);
    paths.push(m[3]!);
  }
  paths.sort();
  return {
    files_changed: files,
    insertions,
    deletions,
    changed_files: paths.slice(0, MAX_CHANGED_FILES),
    repo: wt.repo,
  };
}
