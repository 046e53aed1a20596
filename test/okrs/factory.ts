// Builders for the OKR, requirement and traceability tests. Objectives, key results, requirements and
// missions go through the API; tasks, their requirement links and sprints are inserted as rows, so these
// tests do not depend on the tasks and sprints routes.
import { expect } from "vitest";
import { agents, sprints, taskRequirements, tasks } from "../../src/db/schema/index.js";
import type { TestContext } from "../harness.js";
import type { TaskStatus } from "../../src/tasks/tasks.state.js";

export interface Made {
  id: number;
  key: string;
}

export function factory(t: TestContext) {
  let seq = 0;
  const next = (prefix: string) => `${prefix}-${++seq}-${Math.random().toString(36).slice(2, 8)}`;

  async function post(url: string, body: Record<string, unknown>) {
    const r = await t.json("POST", url, { body });
    expect(r.status, `POST ${url}: ${JSON.stringify(r.body)}`).toBe(201);
    return r.body.data;
  }

  return {
    next,
    async mission(body: Record<string, unknown> = {}): Promise<Made> {
      const m = await post("/api/missions", { goal: "g", ...body });
      return { id: m.id, key: m.mission_id };
    },
    async objective(body: Record<string, unknown> = {}) {
      return post("/api/objectives", { title: "Objective", ...body });
    },
    async keyResult(objective: string | number, body: Record<string, unknown> = {}) {
      return post(`/api/objectives/${objective}/key_results`, { title: "Key result", ...body });
    },
    async requirement(body: Record<string, unknown> = {}) {
      return post("/api/requirements", { title: "Requirement", ...body });
    },
    async sprint(key = next("sprint")): Promise<Made> {
      const [s] = await t.database.db.insert(sprints).values({ sprintId: key, name: key }).returning();
      return { id: s!.id, key: s!.sprintId };
    },
    async agent(key = next("agent")): Promise<Made> {
      const [a] = await t.database.db.insert(agents).values({ agentId: key, name: key }).returning({ id: agents.id });
      return { id: a!.id, key };
    },
    /** A task row, linked to the requirements with these integer ids. */
    async task(opts: {
      mission: Made;
      status?: TaskStatus;
      sprint?: Made;
      agent?: Made;
      requirements?: number[];
      key?: string;
      objective?: string;
    }): Promise<Made> {
      const key = opts.key ?? next("task");
      const [row] = await t.database.db
        .insert(tasks)
        .values({
          taskId: key,
          missionId: opts.mission.id,
          objective: opts.objective ?? `do ${key}`,
          status: opts.status ?? "pending",
          sprintId: opts.sprint?.id ?? null,
          agentId: opts.agent?.id ?? null,
        })
        .returning();
      const links = (opts.requirements ?? []).map((requirementId) => ({ taskId: row!.id, requirementId }));
      if (links.length > 0) await t.database.db.insert(taskRequirements).values(links);
      return { id: row!.id, key };
    },
  };
}

/** Trace entries of one event, oldest first. */
export async function traceOf(t: TestContext, event: string) {
  const r = await t.json("GET", "/api/trace", { query: { event, limit: "500" } });
  expect(r.status).toBe(200);
  return r.body.data as Array<{ event: string; actor: string; data: any; mission_id: string | null }>;
}
