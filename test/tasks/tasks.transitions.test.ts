// The full transition table, through every route that can move a task: every (from, to) pair via report
// and via PATCH, and approve / reject from every status. The expectations come from the contract's table
// (helpers.LEGAL), not from the module under test.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, type TestContext } from "../harness.js";
import { canMoveTask, isTerminalTask, moveError, TASK_STATUSES } from "../../src/tasks/tasks.state.js";
import {
  createMission,
  createTask,
  forceStatus,
  LEGAL,
  logCount,
  STATUSES,
  taskTrace,
  type Status,
} from "./helpers.js";

let t: TestContext;
let missionKey: string;
beforeAll(async () => {
  t = await createTestContext();
  missionKey = (await createMission(t)).mission_id;
});
afterAll(async () => {
  await t.close();
});

const pairs = STATUSES.flatMap((from) => STATUSES.map((to) => [from, to] as [Status, Status]));

/** The 422 message a report or PATCH gets for from → to, or null when the move is allowed. */
function expectedError(from: Status, to: Status): string | null {
  if (from === to) return null;
  if (from === "pending_review" && to === "completed")
    return "only approve can move a task from pending_review to completed";
  if (from === "pending_review" && to === "rejected")
    return "only reject can move a task from pending_review to rejected";
  return LEGAL[from].includes(to) ? null : `cannot move from ${from} to ${to}`;
}

async function taskIn(from: Status) {
  const task = await createTask(t, missionKey, { outputs: { kept: true } });
  await forceStatus(t, task.task_id, from);
  const before = (await t.json("GET", `/api/tasks/${task.id}`)).body.data;
  return { task, before, traceBefore: (await taskTrace(t, task.task_id)).length };
}

describe("the pure state machine", () => {
  test("has exactly the contract's statuses and moves", () => {
    expect([...TASK_STATUSES]).toEqual([...STATUSES]);
    for (const [from, to] of pairs) {
      const legalSomehow = from === to || LEGAL[from].includes(to);
      expect(
        canMoveTask(from, to, "approve") || canMoveTask(from, to, "reject") || canMoveTask(from, to, "update"),
        `${from}→${to}`,
      ).toBe(legalSomehow);
      expect(moveError(from, to, "report")).toBe(expectedError(from, to));
    }
    expect(STATUSES.filter(isTerminalTask)).toEqual(["completed"]);
  });

  test("approve and reject own the review's outcome", () => {
    expect(canMoveTask("pending_review", "completed", "approve")).toBe(true);
    expect(canMoveTask("pending_review", "completed", "reject")).toBe(false);
    expect(canMoveTask("pending_review", "rejected", "reject")).toBe(true);
    expect(canMoveTask("pending_review", "rejected", "approve")).toBe(false);
    expect(canMoveTask("pending_review", "rejected", "dispatch")).toBe(false);
    // in_progress → completed is not a review outcome: a report may make it.
    expect(canMoveTask("in_progress", "completed", "report")).toBe(true);
  });
});

describe("via report", () => {
  test.each(pairs)("%s → %s", async (from, to) => {
    const { task, before, traceBefore } = await taskIn(from);
    const r = await t.json("POST", `/api/tasks/${task.task_id}/report`, {
      body: { progress: { status: to, outputs: { probe: 1 }, logs: [{ message: "probe" }] } },
    });
    const err = expectedError(from, to);
    const trace = (await taskTrace(t, task.task_id)).slice(traceBefore);
    if (err) {
      expect(r.status).toBe(422);
      expect(r.body).toEqual({ errors: { status: [err] } });
      // Nothing at all changed: status, outputs, updated_at, logs, trace.
      expect((await t.json("GET", `/api/tasks/${task.id}`)).body.data).toEqual(before);
      expect(await logCount(t, task.task_id)).toBe(0);
      expect(trace).toEqual([]);
      return;
    }
    expect(r.status).toBe(200);
    expect(r.body.data).toMatchObject({ status: to, outputs: { kept: true, probe: 1 }, logs: [{ message: "probe" }] });
    const expected: Array<[string, unknown]> = [];
    if (from !== to) expected.push(["task.status_changed", { from, to, via: "report" }]);
    expected.push(["task.reported", { outputs: { probe: 1 }, logs_added: 1 }]);
    expect(trace.map((e) => [e.event, e.data])).toEqual(expected);
  });
});

describe("via PATCH", () => {
  test.each(pairs)("%s → %s", async (from, to) => {
    const { task, before, traceBefore } = await taskIn(from);
    const r = await t.json("PATCH", `/api/tasks/${task.task_id}`, { body: { status: to } });
    const err = expectedError(from, to);
    const trace = (await taskTrace(t, task.task_id)).slice(traceBefore);
    if (err) {
      expect(r.status).toBe(422);
      expect(r.body).toEqual({ errors: { status: [err] } });
      expect((await t.json("GET", `/api/tasks/${task.id}`)).body.data).toEqual(before);
      expect(trace).toEqual([]);
      return;
    }
    expect(r.status).toBe(200);
    expect(r.body.data.status).toBe(to);
    if (from === to) {
      // Naming the current status is a no-op: no write, no entry.
      expect(r.body.data).toEqual(before);
      expect(trace).toEqual([]);
    } else {
      expect(trace.map((e) => [e.event, e.data, e.actor])).toEqual([
        ["task.status_changed", { from, to, via: "update" }, "admin:test-admin"],
      ]);
    }
  });
});

describe("approve and reject", () => {
  test.each(STATUSES.flatMap((s) => [["approve", s] as const, ["reject", s] as const]))(
    "%s from %s",
    async (action, from) => {
      const { task, before, traceBefore } = await taskIn(from);
      const r = await t.json("POST", `/api/tasks/${task.id}/${action}`, { body: { comment: "why" } });
      const trace = (await taskTrace(t, task.task_id)).slice(traceBefore);
      if (from !== "pending_review") {
        expect(r.status).toBe(422);
        expect(r.body).toEqual({ errors: { status: [`cannot ${action} a task that is ${from}`] } });
        expect((await t.json("GET", `/api/tasks/${task.id}`)).body.data).toEqual(before);
        expect(trace).toEqual([]);
        return;
      }
      const to = action === "approve" ? "completed" : "rejected";
      expect(r.status).toBe(200);
      expect(r.body.data.status).toBe(to);
      expect(trace.map((e) => [e.event, e.data])).toEqual([
        ["task.status_changed", { from: "pending_review", to, comment: "why", via: action }],
      ]);
    },
  );
});
