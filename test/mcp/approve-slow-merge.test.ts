// Approving while GitHub is slow to merge (the fake GitHub holds the merge request unanswered): approve_task
// answers that the approve goes on instead of blocking the MCP call, the merge happens once, and the next
// approve_task collects the outcome (success or GitHub's refusal); `mc tasks approve` waits for the API's
// answer, telling the person at the terminal what it waits for.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { createTestContext, waitFor, type TestContext } from "../harness.js";
import { startFakeGithub, type FakeGithub } from "../fixtures/fake-github/server.js";
import { createMission, githubEnv, REPO, traceOf } from "../github/helpers.js";
import { baseEnv, follow, scratchHome } from "../cli/helpers.js";
import { call, httpClient } from "./helpers.js";

let fake: FakeGithub;
let t: TestContext;
let member: Client;
let missionKey: string;

beforeAll(async () => {
  fake = await startFakeGithub();
  fake.repo(REPO);
  t = await createTestContext(githubEnv(fake), { listen: true });
  missionKey = (await createMission(t)).mission_id;
  member = await httpClient(t.url!, t.member);
});
afterAll(async () => {
  await member?.close();
  await t?.close();
  await fake?.close();
});

/** A task in pending_review whose outputs name a pull request of the fake GitHub. */
async function reviewTask(prNumber: number) {
  const c = await t.json("POST", `/api/missions/${missionKey}/tasks`, { body: { objective: "ship it" } });
  expect(c.status).toBe(201);
  const id = c.body.data.task_id as string;
  for (const status of ["in_progress", "pending_review"]) {
    const r = await t.json("POST", `/api/tasks/${id}/report`, {
      body: {
        status,
        ...(status === "pending_review" ? { outputs: { pr_url: `${fake.url}/${REPO}/pull/${prNumber}` } } : {}),
      },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
  }
  return id;
}

const merges = (n: number) => fake.repo(REPO).merges.filter((m) => m.number === n);
const statusOf = async (id: string) => (await t.json("GET", `/api/tasks/${id}`)).body.data.status as string;
const holdMerges = () => fake.hold({ method: "PUT", path: /\/pulls\/\d+\/merge$/ });

describe("approve_task while GitHub holds the merge", () => {
  test("answers that the approve goes on; one merge for two calls; the next call collects the completed task", async () => {
    const pr = fake.addPull(REPO);
    const id = await reviewTask(pr.number);
    const hold = holdMerges();
    try {
      // Two reviewers at once: both answered while the merge is held, and the second joins the first. The
      // second is sent once the first's merge reached GitHub, so which one carries the comment is not a race.
      const firstCall = call(member, "approve_task", { task: id, comment: "ship" });
      // A first call that fails (or answers) before its merge reaches GitHub is reported as such, not as a timeout.
      const arrived = await Promise.race([hold.arrived.then(() => true), firstCall.then(() => false)]);
      expect(arrived, "the merge reached GitHub before approve_task answered").toBe(true);
      const [first, second] = await Promise.all([firstCall, call(member, "approve_task", { task: id })]);
      for (const r of [first, second]) {
        expect(r.isError, r.text).toBe(false);
        expect(r.data).toEqual({
          task_id: id,
          approve: "in_progress",
          detail: expect.stringContaining("call approve_task again"),
        });
        expect(JSON.parse(r.text)).toEqual(r.data);
      }
      expect(await statusOf(id)).toBe("pending_review");
      expect(pr.merged).toBe(false);
    } finally {
      hold.release();
    }
    await waitFor(async () => (await statusOf(id)) === "completed", 20_000, "the approve to complete the task");
    expect(merges(pr.number)).toHaveLength(1);
    expect(pr.merged).toBe(true);
    const trace = await traceOf(t, { task_id: id });
    expect(trace.filter((e) => e.event === "github.merge_attempted")).toHaveLength(1);
    expect(trace.find((e) => e.event === "task.status_changed" && e.data.to === "completed")?.data).toMatchObject({
      via: "approve",
      channel: "mcp",
      comment: "ship",
    });

    // The outcome nobody waited for is collected once; after that the task is simply completed (422).
    const collected = await call(member, "approve_task", { task: id });
    expect(collected.isError, collected.text).toBe(false);
    expect(collected.data).toMatchObject({ task_id: id, status: "completed" });
    const again = await call(member, "approve_task", { task: id });
    expect(again.isError).toBe(true);
    expect(again.data).toEqual({ status: 422, errors: { status: ["cannot approve a task that is completed"] } });
  });

  test("GitHub's refusal after the call stopped waiting is the next call's tool error; the call after retries", async () => {
    const pr = fake.addPull(REPO, { mergeable: false });
    const id = await reviewTask(pr.number);
    const hold = holdMerges();
    let pending;
    try {
      pending = await call(member, "approve_task", { task: id });
      await hold.arrived;
    } finally {
      hold.release();
    }
    expect(pending.data).toMatchObject({ task_id: id, approve: "in_progress" });
    await waitFor(
      async () => (await traceOf(t, { task_id: id })).some((e) => e.event === "github.merge_failed"),
      20_000,
      "the merge to fail",
    );
    expect(await statusOf(id)).toBe("pending_review");

    const refused = await call(member, "approve_task", { task: id });
    expect(refused.isError).toBe(true);
    expect(refused.data.status).toBe(422);
    expect(refused.data.errors.merge[0]).toMatch(/^GitHub refused to merge octo\/hello#\d+ \(405\)/);

    // Collected: the next call is a new approve, which merges now that GitHub can.
    pr.mergeable = true;
    const retried = await call(member, "approve_task", { task: id });
    expect(retried.isError, retried.text).toBe(false);
    expect(retried.data).toMatchObject({ task_id: id, status: "completed" });
    expect(merges(pr.number)).toHaveLength(2);
  });
});

describe("mc tasks approve while GitHub holds the merge", () => {
  test("waits for the API's answer, saying on stderr what it waits for; exit 0 once merged", async () => {
    const pr = fake.addPull(REPO);
    const id = await reviewTask(pr.number);
    const hold = holdMerges();
    const home = scratchHome();
    const mc = follow(["tasks", "approve", id], baseEnv(home, { MC_URL: t.url!, MC_TOKEN: t.member }));
    let exit: number | null | undefined;
    void mc.exited.then((c) => (exit = c));
    try {
      await hold.arrived;
      await waitFor(
        () => mc.stderr().includes(`waiting for the server: approving ${id} merges its pull request first`),
        30_000,
        "the note",
      );
      expect(exit).toBeUndefined();
      expect(mc.lines).toEqual([]);
    } finally {
      hold.release();
    }
    expect(await mc.exited).toBe(0);
    expect(mc.lines).toEqual([`approved ${id} (completed)`]);
    expect(pr.merged).toBe(true);
  }, 60_000);
});
