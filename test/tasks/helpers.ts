// Shared set-up for the task tests. Records of other modules (agents, sprints, requirements, mission
// membership) are inserted straight into their tables so these tests do not depend on those routes.
import { eq } from "drizzle-orm";
import { expect } from "vitest";
import { agents, missionAgents, missions, requirements, sprints, tasks } from "../../src/db/schema/index.js";
import type { TestContext } from "../harness.js";

export const STATUSES = [
  "pending",
  "in_progress",
  "blocked",
  "pending_review",
  "rejected",
  "completed",
  "failed",
] as const;
export type Status = (typeof STATUSES)[number];

/** The contract's table, written out independently of src/tasks/tasks.state.ts. */
export const LEGAL: Record<Status, Status[]> = {
  pending: ["in_progress", "blocked", "failed"],
  in_progress: ["blocked", "pending_review", "completed", "failed"],
  blocked: ["pending", "in_progress", "failed"],
  pending_review: ["completed", "rejected", "in_progress"],
  rejected: ["pending", "in_progress"],
  failed: ["pending"],
  completed: [],
};

let seq = 0;
export const uniq = (prefix: string) => `${prefix}-${process.pid}-${++seq}`;

export async function createMission(t: TestContext, key = uniq("m")) {
  const r = await t.json("POST", "/api/missions", { body: { mission_id: key, goal: "g" } });
  expect(r.status).toBe(201);
  return r.body.data as { id: number; mission_id: string };
}

export async function createTask(t: TestContext, missionKey: string, body: Record<string, unknown> = {}) {
  const r = await t.json("POST", `/api/missions/${missionKey}/tasks`, { body: { objective: "do it", ...body } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.data;
}

export async function insertAgent(t: TestContext, key = uniq("agent")) {
  const rows = await t.database.db.insert(agents).values({ agentId: key, name: key }).returning();
  return rows[0]!;
}

export async function agentRow(t: TestContext, key: string) {
  const rows = await t.database.db.select().from(agents).where(eq(agents.agentId, key));
  return rows[0]!;
}

export async function insertSprint(t: TestContext, key = uniq("sprint")) {
  const rows = await t.database.db.insert(sprints).values({ sprintId: key, name: key }).returning();
  return rows[0]!;
}

export async function insertRequirement(t: TestContext, key = uniq("REQ")) {
  const rows = await t.database.db.insert(requirements).values({ requirementId: key, title: key }).returning();
  return rows[0]!;
}

export async function putAgentOnMission(t: TestContext, missionKey: string, agentKey: string) {
  const [m] = await t.database.db.select().from(missions).where(eq(missions.missionId, missionKey));
  const a = await agentRow(t, agentKey);
  await t.database.db.insert(missionAgents).values({ missionId: m!.id, agentId: a.id });
}

/** Puts a task into a status directly (test set-up for the transition table, not a code path under test). */
export async function forceStatus(t: TestContext, taskKey: string, status: Status) {
  await t.database.db.update(tasks).set({ status }).where(eq(tasks.taskId, taskKey));
}

export async function taskTrace(t: TestContext, taskKey: string) {
  const r = await t.json("GET", "/api/trace", { query: { task_id: taskKey, limit: "500" } });
  expect(r.status).toBe(200);
  return r.body.data as Array<{
    event: string;
    actor: string;
    data: any;
    mission_id: string;
    task_id: string;
    agent_id: string | null;
  }>;
}

export async function logCount(t: TestContext, taskKey: string) {
  const rows = await t.database.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM task_logs l JOIN tasks t ON t.id = l.task_id WHERE t.task_id = $1",
    [taskKey],
  );
  return rows[0]!.n;
}
