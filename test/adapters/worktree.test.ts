// Worktrees against real temporary git repositories: where they go, which branch, what the end of a run
// commits and measures, pushing, and which worktrees the sweep removes.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { safeName, worktreeConfig, Worktrees, type WorktreeConfig } from "../../src/runtime/adapters/worktree.js";
import { createTestContext, type TestContext } from "../harness.js";
import { branchExists, git, makeBare, makeRepo, tmpDir } from "./git.js";

let t: TestContext;
const cleanup: string[] = [];

beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t.close();
  for (const d of cleanup) fs.rmSync(d, { recursive: true, force: true });
});

function setup() {
  const repo = makeRepo();
  const root = tmpDir("mc-wt-");
  cleanup.push(repo, root);
  const wts = new Worktrees({ root, database: t.database });
  const cfg = (more: Partial<WorktreeConfig> = {}): WorktreeConfig => ({
    repo,
    baseBranch: null,
    push: false,
    remote: "origin",
    ...more,
  });
  return { repo, root, wts, cfg };
}

let n = 0;
const task = (objective = "Implement login endpoint") => ({ id: 1_000_000 + ++n, taskId: `task-${n}`, objective });

describe("prepare", () => {
  test("a new worktree under the root on agent/<agent>/<task> from the current branch; the checkout is untouched", async () => {
    const { repo, root, wts, cfg } = setup();
    const tk = task();
    const wt = await wts.prepare(cfg(), tk, { agentId: "claude-1" });
    expect(wt).toMatchObject({
      path: path.join(root, tk.taskId),
      branch: `agent/claude-1/${tk.taskId}`,
      base: "main",
      reused: false,
      repo: fs.realpathSync(repo),
    });
    expect(wt.baseCommit).toBe(git(repo, "rev-parse", "main"));
    expect(git(wt.path, "rev-parse", "--abbrev-ref", "HEAD")).toBe(`agent/claude-1/${tk.taskId}`);
    expect(fs.readFileSync(path.join(wt.path, "README.md"), "utf8")).toBe("# Demo app\n\nA small service.\n");
    expect(git(repo, "rev-parse", "--abbrev-ref", "HEAD")).toBe("main");
    expect(git(repo, "status", "--porcelain")).toBe("");
    wts.release(wt);

    // The next run of the same task picks the same worktree up again.
    fs.writeFileSync(path.join(wt.path, "WIP.md"), "half done\n");
    const again = await wts.prepare(cfg(), tk, { agentId: "claude-1" });
    expect(again).toMatchObject({ path: wt.path, branch: wt.branch, reused: true });
    expect(fs.existsSync(path.join(again.path, "WIP.md"))).toBe(true);
    // …and while a run uses it, nothing else may.
    await expect(wts.prepare(cfg(), tk, { agentId: "claude-1" })).rejects.toThrow(
      `the worktree of task ${tk.taskId} is in use by another run`,
    );
    wts.release(again);
  });

  test("config.base_branch; a detached HEAD bases on its commit", async () => {
    const { repo, wts, cfg } = setup();
    git(repo, "checkout", "-q", "-b", "develop");
    fs.writeFileSync(path.join(repo, "DEV.md"), "dev\n");
    git(repo, "add", "-A");
    git(repo, "commit", "-q", "-m", "dev work");
    git(repo, "checkout", "-q", "main");
    const wt = await wts.prepare(cfg({ baseBranch: "develop" }), task(), { agentId: "a" });
    expect(wt.base).toBe("develop");
    expect(fs.existsSync(path.join(wt.path, "DEV.md"))).toBe(true);
    wts.release(wt);

    git(repo, "checkout", "-q", "--detach", "main");
    const sha = git(repo, "rev-parse", "HEAD");
    const wt2 = await wts.prepare(cfg(), task(), { agentId: "a" });
    expect(wt2.base).toBe(sha);
    expect(fs.existsSync(path.join(wt2.path, "DEV.md"))).toBe(false);
    wts.release(wt2);
  });

  test("a task that moves to another agent gets its own branch, continuing from the old one", async () => {
    const { repo, wts, cfg } = setup();
    const tk = task();
    const a = await wts.prepare(cfg(), tk, { agentId: "agent-a" });
    fs.writeFileSync(path.join(a.path, "A.md"), "from a\n");
    await wts.finish(a, cfg(), { objective: tk.objective, taskKey: tk.taskId, agentKey: "agent-a" });
    fs.writeFileSync(path.join(a.path, "LEFT.md"), "left by a\n");
    wts.release(a);
    const b = await wts.prepare(cfg(), tk, { agentId: "agent-b" });
    expect(b).toMatchObject({ branch: `agent/agent-b/${tk.taskId}`, path: a.path, reused: false, base: "main" });
    // What a left behind (even uncommitted) is on a's branch and in b's starting point.
    expect(fs.readFileSync(path.join(b.path, "A.md"), "utf8")).toBe("from a\n");
    expect(fs.readFileSync(path.join(b.path, "LEFT.md"), "utf8")).toBe("left by a\n");
    expect(git(repo, "log", "-1", "--format=%s", `agent/agent-a/${tk.taskId}`)).toBe(tk.objective);
    wts.release(b);
  });

  test("errors: not a directory, not a repository, unknown base branch", async () => {
    const { repo, wts, cfg } = setup();
    const plain = tmpDir("mc-plain-");
    cleanup.push(plain);
    await expect(wts.prepare(cfg({ repo: path.join(plain, "nope") }), task(), { agentId: "a" })).rejects.toThrow(
      /is not a directory$/,
    );
    await expect(wts.prepare(cfg({ repo: plain }), task(), { agentId: "a" })).rejects.toThrow(
      /is not a git repository with a working tree$/,
    );
    await expect(wts.prepare(cfg({ baseBranch: "release-9" }), task(), { agentId: "a" })).rejects.toThrow(
      `base branch release-9 does not exist in ${fs.realpathSync(repo)}`,
    );
    // A failed prepare leaves the task free to try again.
    const tk = task();
    await expect(wts.prepare(cfg({ baseBranch: "nope" }), tk, { agentId: "a" })).rejects.toThrow();
    const wt = await wts.prepare(cfg(), tk, { agentId: "a" });
    expect(wt.reused).toBe(false);
    wts.release(wt);
  });
});

describe("finish", () => {
  test("commits the leftovers (objective as message, agent as author) and measures the branch against its base", async () => {
    const { repo, wts, cfg } = setup();
    const tk = task("Implement login endpoint\n\nWith a 401 on bad credentials.");
    const wt = await wts.prepare(cfg(), tk, { agentId: "claude-1" });
    fs.mkdirSync(path.join(wt.path, "src"));
    fs.writeFileSync(path.join(wt.path, "src/login.js"), "a\nb\nc\n");
    fs.writeFileSync(path.join(wt.path, "README.md"), "# Demo app\n\nA small service with login.\n");
    fs.rmSync(path.join(wt.path, "OLD.md"));
    fs.writeFileSync(path.join(wt.path, "logo.bin"), Buffer.from([0, 1, 2, 0, 255]));
    const { outputs, notes } = await wts.finish(wt, cfg(), {
      objective: tk.objective,
      taskKey: tk.taskId,
      agentKey: "claude-1",
    });
    const head = git(repo, "rev-parse", wt.branch);
    expect(outputs).toEqual({
      branch: wt.branch,
      base_branch: "main",
      commit: head,
      files_changed: 4,
      insertions: 4,
      deletions: 3,
      changed_files: ["OLD.md", "README.md", "logo.bin", "src/login.js"],
      repo: wt.repo,
    });
    expect(notes).toEqual([
      { level: "info", message: `committed what the agent left uncommitted as ${head.slice(0, 12)} on ${wt.branch}` },
    ]);
    expect(git(repo, "log", "-1", "--format=%s", head)).toBe("Implement login endpoint");
    expect(git(repo, "log", "-1", "--format=%b", head)).toBe(
      "Implement login endpoint\n\nWith a 401 on bad credentials.\n\nMission-Control-Task: " +
        tk.taskId +
        "\nMission-Control-Agent: claude-1",
    );
    expect(git(repo, "log", "-1", "--format=%an <%ae>", head)).toBe("claude-1 <claude-1@mission-control.invalid>");
    expect(git(wt.path, "status", "--porcelain")).toBe("");
    // The main checkout never saw any of it.
    expect(fs.existsSync(path.join(repo, "src/login.js"))).toBe(false);

    // Nothing new: same commit, same stats, nothing committed.
    const again = await wts.finish(wt, cfg(), { objective: tk.objective, taskKey: tk.taskId, agentKey: "claude-1" });
    expect(again.outputs).toEqual(outputs);
    expect(again.notes).toEqual([]);
    wts.release(wt);
  });

  test("stats count from where the branch left its base, even after the base moved on", async () => {
    const { repo, wts, cfg } = setup();
    const tk = task();
    const wt = await wts.prepare(cfg(), tk, { agentId: "a" });
    fs.writeFileSync(path.join(wt.path, "NEW.md"), "x\ny\n");
    fs.writeFileSync(path.join(repo, "MAIN.md"), "1\n2\n3\n");
    git(repo, "add", "-A");
    git(repo, "commit", "-q", "-m", "main moves on");
    const { outputs } = await wts.finish(wt, cfg(), { objective: "o", taskKey: tk.taskId, agentKey: "a" });
    expect(outputs).toMatchObject({ files_changed: 1, insertions: 2, deletions: 0 });
    wts.release(wt);
  });

  test("config.push pushes the branch to the remote; a failed push is reported, not fatal", async () => {
    const { repo, wts, cfg } = setup();
    const bare = makeBare();
    cleanup.push(bare);
    git(repo, "remote", "add", "origin", bare);
    const tk = task();
    const wt = await wts.prepare(cfg({ push: true }), tk, { agentId: "a" });
    fs.writeFileSync(path.join(wt.path, "NEW.md"), "x\n");
    const { outputs, notes } = await wts.finish(wt, cfg({ push: true }), {
      objective: "o",
      taskKey: tk.taskId,
      agentKey: "a",
    });
    expect(outputs).toMatchObject({ pushed: true, remote: "origin" });
    expect(notes.at(-1)).toEqual({ level: "info", message: `pushed ${wt.branch} to origin` });
    expect(git(bare, "rev-parse", wt.branch)).toBe(outputs.commit);

    const failed = await wts.finish(wt, cfg({ push: true, remote: "upstream" }), {
      objective: "o",
      taskKey: tk.taskId,
      agentKey: "a",
    });
    expect(failed.outputs).toMatchObject({
      pushed: false,
      remote: "upstream",
      push_error: expect.stringMatching(/upstream/),
    });
    expect(failed.notes.at(-1)).toMatchObject({
      level: "warn",
      message: expect.stringMatching(new RegExp(`^push of ${wt.branch} to upstream failed: `)),
    });
    wts.release(wt);
  });
});

describe("sweep", () => {
  async function missionWithTasks(statuses: string[]) {
    const m = await t.json("POST", "/api/missions", { body: { goal: "g" } });
    const out: Array<{ id: number; taskId: string; objective: string }> = [];
    for (const s of statuses) {
      const r = await t.json("POST", `/api/missions/${m.body.data.mission_id}/tasks`, {
        body: { objective: `work ${s}` },
      });
      const key = r.body.data.task_id as string;
      const path: Record<string, string[]> = {
        pending: [],
        completed: ["in_progress", "completed"],
        pending_review: ["in_progress", "pending_review"],
        blocked: ["blocked"],
        failed: ["failed"],
        rejected: ["in_progress", "pending_review"],
      };
      for (const to of path[s]!)
        expect((await t.json("PATCH", `/api/tasks/${key}`, { body: { status: to } })).status).toBe(200);
      if (s === "rejected")
        expect((await t.json("POST", `/api/tasks/${key}/reject`, { body: { comment: "no" } })).status).toBe(200);
      out.push({ id: r.body.data.id, taskId: key, objective: `work ${s}` });
    }
    return { missionKey: m.body.data.mission_id as string, tasks: out };
  }

  test("removes the worktrees of completed tasks (committing leftovers first) and keeps the others; a mission that ended takes all", async () => {
    const { repo, wts, cfg } = setup();
    const { missionKey, tasks } = await missionWithTasks([
      "completed",
      "pending_review",
      "blocked",
      "failed",
      "rejected",
      "pending",
    ]);
    const wt = [];
    for (const tk of tasks) {
      const w = await wts.prepare(cfg(), tk, { agentId: "a" });
      wts.release(w);
      wt.push(w);
    }
    fs.writeFileSync(path.join(wt[0]!.path, "LEFTOVER.md"), "not committed\n");
    expect(await wts.sweep()).toEqual([tasks[0]!.taskId]);
    expect(fs.existsSync(wt[0]!.path)).toBe(false);
    for (const w of wt.slice(1)) expect(fs.existsSync(w.path)).toBe(true);
    // The branch stays, with what was left uncommitted.
    expect(git(repo, "show", `${wt[0]!.branch}:LEFTOVER.md`)).toBe("not committed");
    expect(git(repo, "log", "-1", "--format=%s", wt[0]!.branch)).toBe("work completed");
    expect(git(repo, "worktree", "list")).not.toContain(wt[0]!.path);
    expect(await wts.sweep()).toEqual([]);

    expect((await t.json("PATCH", `/api/missions/${missionKey}`, { body: { status: "cancelled" } })).status).toBe(200);
    expect((await wts.sweep()).sort()).toEqual(
      tasks
        .slice(1)
        .map((x) => x.taskId)
        .sort(),
    );
    for (const w of wt) {
      expect(fs.existsSync(w.path)).toBe(false);
      expect(branchExists(repo, w.branch)).toBe(true);
    }
    expect(git(repo, "worktree", "list").split("\n")).toHaveLength(1);
  });

  test("a worktree in use is left alone until its run releases it; a task that no longer exists loses its worktree", async () => {
    const { wts, cfg } = setup();
    const { tasks } = await missionWithTasks(["completed"]);
    const w = await wts.prepare(cfg(), tasks[0]!, { agentId: "a" });
    expect(await wts.sweep()).toEqual([]);
    wts.release(w);
    expect(await wts.sweep()).toEqual([tasks[0]!.taskId]);

    const ghost = { id: 2_000_000_000, taskId: "ghost-task", objective: "gone" };
    const g = await wts.prepare(cfg(), ghost, { agentId: "a" });
    wts.release(g);
    expect(await wts.sweep()).toEqual(["ghost-task"]);
  });

  test("a data directory inside another repository: a worktree replaced by a plain directory never commits to that repository", async () => {
    const enclosing = makeRepo();
    cleanup.push(enclosing);
    const repo = makeRepo();
    cleanup.push(repo);
    const root = path.join(enclosing, "data", "worktrees");
    const wts = new Worktrees({ root, database: t.database });
    const { tasks } = await missionWithTasks(["completed", "rejected"]);
    const cfg: WorktreeConfig = { repo, baseBranch: null, push: false, remote: "origin" };
    const done = await wts.prepare(cfg, tasks[0]!, { agentId: "a" });
    const again = await wts.prepare(cfg, tasks[1]!, { agentId: "a" });
    wts.release(done);
    wts.release(again);
    fs.writeFileSync(path.join(enclosing, "README.md"), "someone's unfinished edit\n");
    const before = git(enclosing, "rev-parse", "HEAD");
    for (const w of [done, again]) {
      fs.rmSync(w.path, { recursive: true, force: true });
      fs.mkdirSync(w.path);
      fs.writeFileSync(path.join(w.path, "stray.txt"), "x\n");
    }
    // The next run of the rejected task gets a real worktree again, on its branch.
    const fresh = await wts.prepare(cfg, tasks[1]!, { agentId: "a" });
    expect(fresh.reused).toBe(false);
    expect(git(fresh.path, "rev-parse", "--abbrev-ref", "HEAD")).toBe(again.branch);
    expect(fs.existsSync(path.join(fresh.path, "stray.txt"))).toBe(false);
    wts.release(fresh);
    expect(await wts.sweep()).toEqual([tasks[0]!.taskId]);
    expect(fs.existsSync(done.path)).toBe(false);
    expect(git(enclosing, "rev-parse", "HEAD")).toBe(before);
    expect(fs.readFileSync(path.join(enclosing, "README.md"), "utf8")).toBe("someone's unfinished edit\n");
  });

  test("a repository that was deleted: the worktree directory is still cleared", async () => {
    const { repo, wts, cfg } = setup();
    const { tasks } = await missionWithTasks(["completed"]);
    const w = await wts.prepare(cfg(), tasks[0]!, { agentId: "a" });
    wts.release(w);
    fs.rmSync(repo, { recursive: true, force: true });
    expect(await wts.sweep()).toEqual([tasks[0]!.taskId]);
    expect(fs.existsSync(w.path)).toBe(false);
  });
});

describe("names and config", () => {
  test("safe names: ordinary keys unchanged; others made safe and distinct", () => {
    expect(safeName("task-001")).toBe("task-001");
    expect(safeName("v1.2_fix")).toBe("v1.2_fix");
    const odd = ["a:b", "a_b:", "..", ".hidden", "x.lock", "-flag", "a..b", "ends."];
    const names = odd.map(safeName);
    for (const s of names) {
      expect(s).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$/);
      expect(s).not.toMatch(/\.lock$/);
    }
    expect(new Set(names).size).toBe(odd.length);
    expect(safeName("a:b")).toMatch(/^a_b-[0-9a-f]{8}$/);
  });

  test.each([
    [{}, null],
    [{ repo: "/srv/app" }, { repo: "/srv/app", baseBranch: null, push: false, remote: "origin" }],
    [
      { repo: "/srv/app", base_branch: "develop", push: true, remote: "git@github.com:org/app.git" },
      { repo: "/srv/app", baseBranch: "develop", push: true, remote: "git@github.com:org/app.git" },
    ],
    [{ repo: 5 }, { error: "agent config.repo must be the path of a local git repository" }],
    [{ repo: "" }, { error: "agent config.repo must be the path of a local git repository" }],
    [{ repo: "/r", base_branch: "--upload-pack=evil" }, { error: "agent config.base_branch must be a branch name" }],
    [{ repo: "/r", base_branch: "a..b" }, { error: "agent config.base_branch must be a branch name" }],
    [{ repo: "/r", push: "yes" }, { error: "agent config.push must be true or false" }],
    [{ repo: "/r", remote: "--exec=evil" }, { error: "agent config.remote must be a remote name or URL" }],
    [{ repo: "/r", remote: "has space" }, { error: "agent config.remote must be a remote name or URL" }],
  ])("worktreeConfig(%j)", (config, expected) => {
    expect(worktreeConfig(config)).toEqual(expected);
  });
});
