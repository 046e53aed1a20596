// The conflict radar (src/tasks/conflicts.ts), end to end through the runtime: agents run real processes in
// their tasks' worktrees of one real git repository; the files each task's runs change (the worktree's diff,
// and a Claude Code Write as it happens) are compared between open tasks, both sides of an overlap get
// `outputs.conflicts`, the trace (and so the event stream) says so, a dispatch policy can act on it, and an
// approval takes the approved task out of the others' lists.
import fs from "node:fs";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { relativePaths } from "../../src/tasks/conflicts.js";
import { createTestContext, waitFor, type TestContext } from "../harness.js";
import { git, makeRepo, tmpDir } from "../adapters/git.js";
import { fakeCliDir } from "../adapters/recordings.js";
import { openSse } from "../trace/helpers.js";

let t: TestContext;
const dataDir = tmpDir("mc-radar-data-");
const cleanup: string[] = [dataDir];

beforeAll(async () => {
  t = await createTestContext({ MC_DATA_DIR: dataDir }, { listen: true });
});
afterAll(async () => {
  await t.close();
  for (const d of cleanup) fs.rmSync(d, { recursive: true, force: true });
});

let n = 0;
/** A mission on one repository with one `command` agent per script (each edits files in its worktree). */
async function world(scripts: string[], sharedRepo?: string) {
  n++;
  const repo = sharedRepo ?? makeRepo();
  if (sharedRepo === undefined) cleanup.push(repo);
  const m = `radar-${n}`;
  expect(
    (await t.json("POST", "/api/missions", { body: { mission_id: m, goal: "Build authentication module" } })).status,
  ).toBe(201);
  const agents: string[] = [];
  for (const [i, script] of scripts.entries()) {
    const a = `radar-${n}-agent-${i}`;
    expect(
      (
        await t.json("POST", "/api/agents", {
          body: { agent_id: a, adapter_module: "command", config: { command: ["sh", "-c", script], repo } },
        })
      ).status,
    ).toBe(201);
    expect((await t.json("POST", `/api/missions/${m}/agents`, { body: { agent_id: a } })).status).toBe(201);
    agents.push(a);
  }
  expect((await t.json("POST", `/api/missions/${m}/start`)).status).toBe(200);
  const tasks: string[] = [];
  for (const a of agents) {
    const r = await t.json("POST", `/api/missions/${m}/tasks`, { body: { objective: `work of ${a}`, agent_id: a } });
    tasks.push(r.body.data.task_id);
  }
  return { m, repo, agents, tasks };
}

const task = async (key: string) => (await t.json("GET", `/api/tasks/${key}`)).body.data;
async function run(key: string, status = "pending_review") {
  expect((await t.json("POST", `/api/tasks/${key}/execute`)).status).toBe(202);
  return waitFor(
    async () => {
      const x = await task(key);
      return x.status === status ? x : null;
    },
    30_000,
    `${key} to be ${status}`,
  );
}
/** The radar runs right after a run is recorded, in its own transaction: wait for its verdict. */
async function conflictsOf(key: string, expected: unknown[]) {
  return waitFor(
    async () => {
      const x = await task(key);
      // Deep equality, whatever the key order (PostgreSQL's jsonb sorts keys).
      return isDeepStrictEqual(x.outputs.conflicts ?? [], expected) ? x : null;
    },
    15_000,
    `${key}'s conflicts to be ${JSON.stringify(expected)}`,
  );
}
/** Entries' data in any order (sorted by the task named), for checks of several written at once. */
const cleared = async (key: string) =>
  (await entries(key, "task.conflict_cleared")).sort((x, y) => String(x.with_task_id).localeCompare(y.with_task_id));
const byKey = <T extends { with_task_id: string }>(xs: T[]) =>
  xs.sort((x, y) => x.with_task_id.localeCompare(y.with_task_id));
const byTaskKey = <T extends { task_id: string }>(xs: T[]) => xs.sort((x, y) => x.task_id.localeCompare(y.task_id));
const entries = async (key: string, event: string) =>
  (
    (await t.json("GET", "/api/trace", { query: { task_id: key, event, limit: "100" } })).body.data as Array<{
      data: any;
    }>
  ).map((e) => e.data);

describe("conflict radar", () => {
  test("two open tasks that changed the same file list each other, with a trace entry each; a third on other files stays out", async () => {
    const { repo, tasks } = await world([
      "echo a >> README.md && mkdir -p src && echo a > src/a.js",
      "echo b >> README.md && echo b > OLD.md",
      "mkdir -p docs && echo c > docs/c.md",
    ]);
    const [a, b, c] = tasks as [string, string, string];
    const ta = await run(a);
    expect(ta.outputs).toMatchObject({ changed_files: ["README.md", "src/a.js"], repo: path.resolve(repo) });
    await run(b);
    await run(c);
    const xa = await conflictsOf(a, [{ task_id: b, files: ["README.md"] }]);
    await conflictsOf(b, [{ task_id: a, files: ["README.md"] }]);
    await new Promise((r) => setTimeout(r, 500));
    expect((await task(c)).outputs.conflicts ?? []).toEqual([]);
    expect(await entries(a, "task.conflict_detected")).toEqual([
      { with_task_id: b, files: ["README.md"], repo: xa.outputs.repo },
    ]);
    expect(await entries(b, "task.conflict_detected")).toEqual([
      { with_task_id: a, files: ["README.md"], repo: xa.outputs.repo },
    ]);
    expect(await entries(c, "task.conflict_detected")).toEqual([]);
  });

  test("a dispatch policy on the files in common blocks the rerun; approving one clears it from the other", async () => {
    const { m, tasks } = await world(["echo a >> README.md", "echo b >> README.md"]);
    const [a, b] = tasks as [string, string];
    await run(a);
    await run(b);
    await conflictsOf(b, [{ task_id: a, files: ["README.md"] }]);
    const p = await t.json("POST", "/api/policies", {
      body: {
        policy: {
          policy_id: `no-conflicting-reruns-${n}`,
          scope: `mission:${m}`,
          conditions: { action_type: "dispatch", "task.conflicts.files": "README.md" },
          actions: [{ block: "README.md is being changed by another task" }],
        },
      },
    });
    expect(p.status).toBe(201);
    expect((await t.json("POST", `/api/tasks/${b}/reject`, { body: { comment: "again" } })).status).toBe(200);
    const blocked = await t.json("POST", `/api/tasks/${b}/execute`);
    expect(blocked.status).toBe(403);
    expect(blocked.body.errors).toEqual({ policy: ["README.md is being changed by another task"] });
    const evals = await entries(b, "policy.evaluated");
    expect(evals.at(-1).action.task.conflicts).toEqual({ task_ids: [a], files: ["README.md"], count: 1 });

    // Approving A: its branch is out of play, so B no longer conflicts with it, and B may run again.
    expect((await t.json("POST", `/api/tasks/${a}/approve`, { body: {} })).status).toBe(200);
    await conflictsOf(b, []);
    expect(await entries(b, "task.conflict_cleared")).toEqual([
      { with_task_id: a, repo: (await task(a)).outputs.repo },
    ]);
    expect((await t.json("POST", `/api/tasks/${b}/execute`)).status).toBe(202);
  });

  test("a task that leaves the open set by any other move leaves the lists too (a PATCH to pending, its mission cancelled), so a stale conflict no longer blocks a dispatch", async () => {
    const { m, repo, tasks } = await world(["echo a >> README.md", "echo b >> README.md"]);
    const [a, b] = tasks as [string, string];
    // C works on the same repository for another mission.
    const other = await world(["echo c >> README.md"], repo);
    const c = other.tasks[0]!;
    await run(a);
    await run(b);
    await run(c);
    const r = path.resolve(repo);
    // Lists are sorted by task id (the keys are random).
    await conflictsOf(
      b,
      byTaskKey([
        { task_id: a, files: ["README.md"] },
        { task_id: c, files: ["README.md"] },
      ]),
    );
    const p = await t.json("POST", "/api/policies", {
      body: {
        policy: {
          policy_id: `no-stale-conflicts-${n}`,
          scope: `mission:${m}`,
          conditions: { action_type: "dispatch", "task.conflicts.files": "README.md" },
          actions: [{ block: "README.md is being changed by another task" }],
        },
      },
    });
    expect(p.status).toBe(201);
    expect((await t.json("POST", `/api/tasks/${b}/reject`, { body: { comment: "again" } })).status).toBe(200);
    expect((await t.json("POST", `/api/tasks/${b}/execute`)).status).toBe(403);

    // A is rejected, then put back to pending by a PATCH: out of the open set, so out of B's list at once.
    expect((await t.json("POST", `/api/tasks/${a}/reject`, { body: { comment: "later" } })).status).toBe(200);
    expect((await t.json("PATCH", `/api/tasks/${a}`, { body: { status: "pending" } })).status).toBe(200);
    expect((await task(b)).outputs.conflicts).toEqual([{ task_id: c, files: ["README.md"] }]);
    expect((await task(a)).outputs.conflicts).toEqual([]);
    expect((await task(c)).outputs.conflicts).toEqual([{ task_id: b, files: ["README.md"] }]);
    expect(await cleared(a)).toEqual(
      byKey([
        { with_task_id: b, repo: r },
        { with_task_id: c, repo: r },
      ]),
    );
    expect((await t.json("POST", `/api/tasks/${b}/execute`)).status).toBe(403);

    // C's mission is cancelled: its rejected task fails with it, and leaves B's list in that move.
    expect((await t.json("POST", `/api/tasks/${c}/reject`, { body: { comment: "no" } })).status).toBe(200);
    expect((await t.json("PATCH", `/api/missions/${other.m}`, { body: { status: "cancelled" } })).status).toBe(200);
    expect((await task(c)).status).toBe("failed");
    expect((await task(c)).outputs.conflicts).toEqual([]);
    expect((await task(b)).outputs.conflicts).toEqual([]);
    expect(await cleared(b)).toEqual(
      byKey([
        { with_task_id: a, repo: r },
        { with_task_id: c, repo: r },
      ]),
    );
    expect(await cleared(c)).toEqual(
      byKey([
        { with_task_id: a, repo: r },
        { with_task_id: b, repo: r },
      ]),
    );
    // Nothing stale is left for the dispatch policy: B runs.
    expect((await t.json("POST", `/api/tasks/${b}/execute`)).status).toBe(202);
    await waitFor(async () => ((await task(b)).status === "pending_review" ? true : null), 30_000, "b's rerun");
  });

  test("an agent's own report moving its task to failed takes it out of the other's list in that report", async () => {
    const { tasks, agents } = await world(["echo a >> README.md", "echo b >> README.md"]);
    const [a, b] = tasks as [string, string];
    await run(a);
    await run(b);
    await conflictsOf(a, [{ task_id: b, files: ["README.md"] }]);
    // B back to work (open to open: the conflict stays), then its agent gives up on it.
    expect((await t.json("PATCH", `/api/tasks/${b}`, { body: { status: "in_progress" } })).status).toBe(200);
    expect((await task(a)).outputs.conflicts).toEqual([{ task_id: b, files: ["README.md"] }]);
    const token = await t.agentToken(agents[1]!);
    const r = await t.json("POST", `/api/tasks/${b}/report`, {
      token,
      body: { progress: { status: "failed", logs: [{ message: "cannot do it" }] } },
    });
    expect(r.status).toBe(200);
    expect(r.body.data.outputs.conflicts).toEqual([]);
    expect((await task(a)).outputs.conflicts).toEqual([]);
    const repo = (await task(a)).outputs.repo;
    expect(await entries(a, "task.conflict_cleared")).toEqual([{ with_task_id: b, repo }]);
    expect(await entries(b, "task.conflict_cleared")).toEqual([{ with_task_id: a, repo }]);
  });

  test("a conflict reaches the live event stream (GET /api/events over HTTP): task.conflict_detected for each task, naming the other", async () => {
    const { m, tasks } = await world(["echo a >> README.md", "echo b >> README.md"]);
    const [a, b] = tasks as [string, string];
    const sse = await openSse(t.url!, "/api/events", {
      token: t.admin,
      query: { mission_id: m, event: "task.conflict_detected" },
    });
    try {
      expect(sse.status).toBe(200);
      await run(a);
      await run(b);
      const seen = await sse.until((es) => es.length >= 2, 20_000, "two task.conflict_detected events on the stream");
      const got = seen.map((e) => ({ event: e.json.event, task_id: e.json.task_id, data: e.json.data }));
      expect(byTaskKey(got)).toEqual(
        byTaskKey([
          {
            event: "task.conflict_detected",
            task_id: a,
            data: expect.objectContaining({ with_task_id: b, files: ["README.md"] }),
          },
          {
            event: "task.conflict_detected",
            task_id: b,
            data: expect.objectContaining({ with_task_id: a, files: ["README.md"] }),
          },
        ]),
      );
    } finally {
      sse.close();
    }
  });

  test("a require_approval policy on the files in common parks the rerun (awaiting_approval); approving that decision lets it run", async () => {
    const { m, tasks } = await world(["echo a >> README.md", "echo b >> README.md"]);
    const [a, b] = tasks as [string, string];
    await run(a);
    await run(b);
    await conflictsOf(b, [{ task_id: a, files: ["README.md"] }]);
    const p = await t.json("POST", "/api/policies", {
      body: {
        policy: {
          policy_id: `approve-conflicting-reruns-${n}`,
          scope: `mission:${m}`,
          conditions: { action_type: "dispatch", "task.conflicts.count": { $gte: 1 } },
          actions: [{ require_approval: "Another open task changed the same files" }],
        },
      },
    });
    expect(p.status).toBe(201);
    expect((await t.json("POST", `/api/tasks/${b}/reject`, { body: { comment: "again" } })).status).toBe(200);
    const parked = await t.json("POST", `/api/tasks/${b}/execute`);
    expect(parked.status).toBe(202);
    expect(parked.body.data.status).toBe("awaiting_approval");
    expect(parked.body.data.policy).toMatchObject({
      decision: "require_approval",
      messages: ["Another open task changed the same files"],
    });
    expect((await task(b)).status).toBe("rejected");
    const ok = await t.json("POST", `/api/tasks/${b}/execute`, {
      token: t.member,
      body: { approve_policy: String(parked.body.data.policy.decision_id) },
    });
    expect(ok.status).toBe(202);
    expect(ok.body.data.id).toBe(parked.body.data.id);
    // The approved dispatch runs: B goes through in_progress back to review.
    await waitFor(
      async () => ((await task(b)).status === "pending_review" ? true : null),
      30_000,
      "the approved dispatch to run B",
    );
    const moves = (await entries(b, "task.status_changed")).map((d) => `${d.from}>${d.to}`);
    expect(moves.filter((x) => x === "rejected>in_progress")).toHaveLength(1);
  });

  test("approving a task whose work is now on the base: the other is re-checked against the new base and keeps the overlap", async () => {
    const { repo, tasks } = await world(["echo a >> README.md", "echo b >> README.md && echo b > OLD.md"]);
    const [a, b] = tasks as [string, string];
    const ta = await run(a);
    await run(b);
    await conflictsOf(b, [{ task_id: a, files: ["README.md"] }]);
    // A's branch is merged into main (as a merge after the review would), then A is approved.
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge A", ta.outputs.branch);
    expect((await t.json("POST", `/api/tasks/${a}/approve`, { body: {} })).status).toBe(200);
    await conflictsOf(b, [{ task_id: a, files: ["README.md"], base_branch: "main" }]);
    const detected = await entries(b, "task.conflict_detected");
    expect(detected.at(-1)).toEqual({
      with_task_id: a,
      base_branch: "main",
      files: ["README.md"],
      repo: path.resolve(repo),
    });
    expect((await task(a)).outputs.conflicts).toEqual([]);

    // B's next run without catching up with main: the overlap with the base stays. Once B's branch has main
    // merged in, the next check finds it gone.
    expect((await t.json("POST", `/api/tasks/${b}/reject`, { body: { comment: "again" } })).status).toBe(200);
    await run(b);
    await new Promise((r) => setTimeout(r, 500));
    await conflictsOf(b, [{ task_id: a, files: ["README.md"], base_branch: "main" }]);
    const wt = path.join(dataDir, "worktrees", b);
    git(wt, "merge", "-q", "-X", "ours", "-m", "Catch up with main", "main");
    expect((await t.json("POST", `/api/tasks/${b}/reject`, { body: { comment: "and again" } })).status).toBe(200);
    await run(b);
    await conflictsOf(b, []);
    expect((await entries(b, "task.conflict_cleared")).at(-1)).toEqual({
      with_task_id: a,
      base_branch: "main",
      repo: path.resolve(repo),
    });
  });

  // Each CLI's writing tool calls, as its recording has them: Claude Code's Write/Edit, Codex's file_change
  // items, Gemini's write_file/replace tool events.
  test.each([
    {
      adapter: "claude_code",
      bin: "claude",
      // Write src/login.js, Write test/login.test.js, Edit README.md.
      first: ["src/login.js"],
      last: ["README.md", "src/login.js", "test/login.test.js"],
    },
    {
      adapter: "codex",
      bin: "codex",
      // file_change add src/login.js, add test/login.test.js, update src/login.js.
      first: ["src/login.js"],
      last: ["src/login.js", "test/login.test.js"],
    },
    {
      adapter: "gemini_cli",
      bin: "gemini",
      // write_file src/login.js, replace README.md.
      first: ["src/login.js"],
      last: ["README.md", "src/login.js"],
    },
  ])("a $adapter write is recorded as it happens (before the run's diff)", async ({ adapter, bin, first, last }) => {
    n++;
    const repo = makeRepo();
    cleanup.push(repo);
    const m = `radar-${n}`;
    const a = `radar-${bin}-${n}`;
    await t.json("POST", "/api/missions", { body: { mission_id: m, goal: "g" } });
    expect(
      (
        await t.json("POST", "/api/agents", {
          body: { agent_id: a, adapter_module: adapter, config: { binary: path.join(fakeCliDir, bin), repo } },
        })
      ).status,
    ).toBe(201);
    await t.json("POST", `/api/missions/${m}/agents`, { body: { agent_id: a } });
    await t.json("POST", `/api/missions/${m}/start`);
    const key = (
      await t.json("POST", `/api/missions/${m}/tasks`, { body: { objective: "Implement login endpoint", agent_id: a } })
    ).body.data.task_id;
    await run(key);
    const live = (await entries(key, "task.reported"))
      .filter((d) => d.via === "conflict_radar")
      .map((d) => d.outputs.changed_files);
    expect(live[0]).toEqual(first);
    expect(live.at(-1)).toEqual(last);
  });

  test("paths from tool calls: relative to the worktree; outside it, or climbing out, they are dropped", () => {
    expect(
      relativePaths("/wt/task-1", [
        "/wt/task-1/src/a.js",
        "src/b.js",
        "./c.js",
        "/etc/passwd",
        "../x",
        "a/../../y",
        "/wt/task-10/z",
        "",
      ]),
    ).toEqual(["src/a.js", "src/b.js", "c.js"]);
  });
});
