// The generated typed client (src/client: openapi-typescript + openapi-fetch, from GET /openapi.json) drives
// a whole workflow over real HTTP, with no cast: what a user generating a client from the document gets.
// Errors are typed as the document's one Error schema.
import { afterAll, beforeAll, describe, expect, expectTypeOf, test } from "vitest";
import { createClient, type components, type McClient, type operations } from "../../src/client/index.js";
import { OpenApiConformance } from "../fixtures/openapi-conformance.js";
import { createTestContext, waitFor, type TestContext } from "../harness.js";

type ApiError = components["schemas"]["Error"];
type Task = components["schemas"]["Task"];

let t: TestContext;
let member: McClient;
let anonymous: McClient;

/** fetch, plus the harness's check that each answer is one the document declares (these calls are real HTTP). */
function checkedFetch(conformance: OpenApiConformance): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    const res = await fetch(request);
    const url = new URL(request.url);
    const problems = conformance.check({
      method: request.method,
      url: url.pathname + url.search,
      status: res.status,
      contentType: res.headers.get("content-type") ?? undefined,
      body: await res.clone().text(),
    });
    if (problems.length > 0) throw new Error(`OpenAPI conformance: ${problems.join("\n")}`);
    return res;
  };
}
let checked: typeof fetch;

beforeAll(async () => {
  t = await createTestContext({}, { listen: true });
  checked = checkedFetch(new OpenApiConformance(t.app.swagger()));
  member = createClient({ baseUrl: t.url!, token: t.member, fetch: checked });
  anonymous = createClient({ baseUrl: t.url!, fetch: checked });
});
afterAll(async () => {
  await t.close();
});

describe("a full workflow through the generated client", () => {
  test("create mission, start, agent, put on mission, task, execute, report as the agent, approve, verify the trace", async () => {
    // The wrapped body form of the reference is part of the type.
    const created = await member.POST("/api/missions", {
      body: { mission: { mission_id: "client-m1", goal: "Typed client workflow" } },
    });
    expect(created.response.status).toBe(201);
    expect(created.response.headers.get("location")).toBe("/api/missions/client-m1");
    const mission = created.data!.data;
    expectTypeOf(mission.status).toEqualTypeOf<components["schemas"]["MissionStatus"]>();
    expect(mission).toMatchObject({ mission_id: "client-m1", status: "planning" });

    const agent = await member.POST("/api/agents", {
      body: { agent_id: "client-a1", adapter_module: "manual", capabilities: ["coding"] },
    });
    expect(agent.response.status).toBe(201);
    expect(agent.data!.data.agent_id).toBe("client-a1");

    const joined = await member.POST("/api/missions/{mission_id}/agents", {
      params: { path: { mission_id: mission.id } },
      body: { agent_id: "client-a1" },
    });
    expect(joined.response.status).toBe(201);

    // Actions without a body need none (the body is optional in the document).
    const started = await member.POST("/api/missions/{id}/start", { params: { path: { id: "client-m1" } } });
    expect(started.data!.data.status).toBe("active");

    const task = await member.POST("/api/missions/{mission_id}/tasks", {
      params: { path: { mission_id: "client-m1" } },
      body: { task: { task_id: "client-t1", objective: "Implement the login endpoint", agent_id: "client-a1" } },
    });
    expect(task.response.status).toBe(201);
    expect(task.data!.data).toMatchObject({ task_id: "client-t1", status: "pending", agent_id: "client-a1" });

    const executed = await member.POST("/api/tasks/{id}/execute", { params: { path: { id: "client-t1" } } });
    expect(executed.response.status).toBe(202);
    const dispatch = executed.data!.data;
    expect(dispatch).toMatchObject({ task_id: "client-t1", agent_id: "client-a1" });

    // The agent, with its own token, reports through the same client.
    const agentClient = createClient({ baseUrl: t.url!, token: await t.agentToken("client-a1"), fetch: checked });
    const working = await agentClient.POST("/api/tasks/{id}/report", {
      params: { path: { id: "client-t1" } },
      body: { status: "in_progress", logs: [{ message: "started", level: "info" }] },
    });
    expect(working.error).toBeUndefined();
    const reported = await agentClient.POST("/api/tasks/{id}/report", {
      params: { path: { id: "client-t1" }, header: { "idempotency-key": "client-t1-done" } },
      body: { progress: { status: "pending_review", outputs: { files_changed: 2 } } },
    });
    expect(reported.error).toBeUndefined();
    const review: Task = reported.data!.data;
    expect(review.status).toBe("pending_review");
    expect(review.outputs).toEqual({ files_changed: 2 });

    const approved = await member.POST("/api/tasks/{id}/approve", {
      params: { path: { id: "client-t1" } },
      body: { comment: "looks good" },
    });
    expect(approved.data!.data.status).toBe("completed");

    const seen = await waitFor(async () => {
      const d = await member.GET("/api/dispatches/{id}", { params: { path: { id: dispatch.id } } });
      return d.data?.data ?? null;
    });
    expect(seen.id).toBe(dispatch.id);

    const trace = await member.GET("/api/missions/{mission_id}/trace", {
      params: { path: { mission_id: "client-m1" }, query: { task_id: "client-t1", limit: 500 } },
    });
    const events = trace.data!.data.map((e) => e.event);
    expect(events).toEqual(expect.arrayContaining(["task.created", "task.status_changed"]));

    const verified = await member.GET("/api/trace/verify", { params: { query: { mission_id: "client-m1" } } });
    expect(verified.data!.data).toMatchObject({ valid: true, first_bad_id: null, reason: null });
  });
});

describe("typed errors", () => {
  test("every error answer is the Error schema, with the field messages of a 422", async () => {
    const missing = await member.GET("/api/tasks/{id}", { params: { path: { id: "no-such-task" } } });
    expectTypeOf(missing.error).toEqualTypeOf<ApiError | undefined>();
    expect(missing.response.status).toBe(404);
    expect(missing.error).toEqual({ errors: { detail: "Not Found" } });

    const invalid = await member.POST("/api/missions", { body: { goal: "" } });
    expectTypeOf(invalid.error).toEqualTypeOf<ApiError | undefined>();
    expect(invalid.response.status).toBe(422);
    expect(Object.keys(invalid.error!.errors)).toContain("goal");

    const unauthorized = await anonymous.GET("/api/missions");
    expect(unauthorized.response.status).toBe(401);
    expect(unauthorized.response.headers.get("www-authenticate")).toBe("Bearer");
    expect(unauthorized.error?.errors.detail).toBe("Unauthorized");
  });

  test("type-level: bodies, parameters and answers are checked by the compiler", () => {
    // Read-only fields are not part of a write body.
    expectTypeOf<components["schemas"]["AgentCreate"]>().not.toHaveProperty("status");
    expectTypeOf<components["schemas"]["AgentUpdate"]>().not.toHaveProperty("current_task_id");
    expectTypeOf<components["schemas"]["Agent"]>().toHaveProperty("status");
    // @ts-expect-error a task's status is one of its states
    const patch: components["schemas"]["TaskUpdate"] = { status: "done" };
    void patch;
    // Path parameters take the integer id or the key.
    expectTypeOf<operations["getTask"]["parameters"]["path"]["id"]>().toEqualTypeOf<number | string>();
    // Every error answer of an operation is the one Error schema.
    expectTypeOf<
      operations["approveTask"]["responses"][422]["content"]["application/json"]
    >().toEqualTypeOf<ApiError>();
    expectTypeOf<Task["status"]>().toEqualTypeOf<components["schemas"]["TaskStatus"]>();
  });
});
