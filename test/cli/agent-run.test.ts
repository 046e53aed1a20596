// End to end: a `command` agent whose process uses `mc` with the run's own environment (MC_API_URL,
// MC_AGENT_TOKEN, MC_TASK_ID, nothing configured) to report progress and submit its task for review.
import { afterAll, beforeAll, expect, test, vi } from "vitest";
import { createTestContext, waitFor, type TestContext } from "../harness.js";
import { uniq } from "../tasks/helpers.js";
import type { components } from "../../src/client/schema.js";
import { MC_BIN, NODE } from "../mcp/helpers.js";

vi.setConfig({ testTimeout: 180_000 });

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext({}, { listen: true });
});
afterAll(async () => t?.close());

test("a command agent reports and submits with mc and its run token", async () => {
  const mission = uniq("cli-run-m");
  const agent = uniq("cli-run-agent");
  const script = [
    `"${NODE}" "${MC_BIN}" tasks report "$MC_TASK_ID" --message "halfway there" --outputs '{"files_changed":2}'`,
    `"${NODE}" "${MC_BIN}" tasks submit "$MC_TASK_ID" --summary "Added the endpoint" --pr-url https://example.com/pr/9 --json`,
  ].join(" && ");
  expect((await t.json("POST", "/api/missions", { body: { mission_id: mission, goal: "g" } })).status).toBe(201);
  const a = await t.json("POST", "/api/agents", {
    body: { agent_id: agent, adapter_module: "command", config: { command: ["sh", "-c", script], timeout_s: 120 } },
  });
  expect(a.status, JSON.stringify(a.body)).toBe(201);
  expect((await t.json("POST", `/api/missions/${mission}/agents`, { body: { agent_id: agent } })).status).toBe(201);
  expect((await t.json("POST", `/api/missions/${mission}/start`)).status).toBe(200);
  const task = (
    await t.json("POST", `/api/missions/${mission}/tasks`, { body: { objective: "Add the endpoint", agent_id: agent } })
  ).body.data;
  expect((await t.json("POST", `/api/tasks/${task.task_id}/execute`)).status).toBe(202);

  const done = await waitFor(
    async () => {
      const x = (await t.json("GET", `/api/tasks/${task.task_id}`)).body.data;
      return x.status === "pending_review" && x.outputs.summary ? x : null;
    },
    150_000,
    "the agent to submit its task",
  );
  expect(done.outputs).toMatchObject({
    files_changed: 2,
    summary: "Added the endpoint",
    pr_url: "https://example.com/pr/9",
  });
  const messages = done.logs.map((l: { message: string }) => l.message);
  expect(messages).toContain("halfway there");
  expect(messages).toContain("Submitted for review: Added the endpoint");
  // The reports were the agent's own, with the run's token.
  const trace = (await t.json("GET", "/api/trace", { query: { task_id: task.task_id, event: "task.status_changed" } }))
    .body.data as components["schemas"]["TraceEntry"][];
  expect(trace.find((e) => e.data.to === "pending_review")?.actor).toContain(agent);
  await t.json("POST", `/api/missions/${mission}/pause`);
});
