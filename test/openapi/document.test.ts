// The OpenAPI document as a contract (src/http/openapi.ts): every operation named and fully answered, named
// schemas, the wrapped and optional bodies, id-or-key path parameters, only `x-` extensions; and the harness's
// conformance check (test/fixtures/openapi-conformance.ts) refusing answers the document does not declare.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, type TestContext } from "../harness.js";
import { OpenApiConformance } from "../fixtures/openapi-conformance.js";
import { operationIdOf } from "../../src/http/openapi.js";

let t: TestContext;
let doc: any;
const METHODS = ["get", "post", "put", "patch", "delete"];
const operations = () =>
  Object.entries<any>(doc.paths).flatMap(([path, item]) =>
    Object.entries<any>(item)
      .filter(([m]) => METHODS.includes(m))
      .map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, method, path, op })),
  );
const resolveResponse = (r: any) => (r.$ref ? doc.components.responses[r.$ref.split("/").pop()] : r);

beforeAll(async () => {
  t = await createTestContext();
  doc = (await t.json("GET", "/openapi.json", { token: null })).body;
});
afterAll(async () => {
  await t.close();
});

describe("the document", () => {
  test("servers, licence, described tags", () => {
    expect(doc.servers).toEqual([{ url: "/", description: expect.any(String) }]);
    expect(doc.info.license).toMatchObject({ name: expect.any(String), identifier: expect.any(String) });
    const used = new Set(operations().flatMap(({ op }) => op.tags ?? []));
    expect(doc.tags.map((x: any) => x.name).sort()).toEqual([...used].sort());
    for (const tag of doc.tags) expect(tag.description).not.toBe(tag.name);
  });

  test("every operation: unique operationId, summary, tags, a 2xx, the standard errors with the Error schema", () => {
    const ids = new Set<string>();
    for (const { key, op, path } of operations()) {
      expect(op.operationId, key).toMatch(/^[a-z][A-Za-z]+$/);
      expect(ids.has(op.operationId), `${key}: duplicate operationId ${op.operationId}`).toBe(false);
      ids.add(op.operationId);
      expect(op.summary, key).toBeTruthy();
      expect(op.tags?.length, key).toBeGreaterThan(0);
      const statuses = Object.keys(op.responses);
      expect(
        statuses.some((s) => s.startsWith("2")),
        key,
      ).toBe(true);
      expect(statuses, key).toEqual(expect.arrayContaining(["400", "422", "503"]));
      if (path.startsWith("/api") && !(Array.isArray(op.security) && op.security.length === 0)) {
        expect(statuses, key).toEqual(expect.arrayContaining(["401", "403", "429"]));
      }
      if (path.includes("{")) expect(statuses, key).toEqual(expect.arrayContaining(["404"]));
      for (const [status, raw] of Object.entries<any>(op.responses)) {
        const r = resolveResponse(raw);
        expect(r.description, `${key} ${status}`).not.toBe("Default Response");
        expect(r.headers?.["x-request-id"], `${key} ${status}: x-request-id`).toBeDefined();
        // The readiness probe's 503 is its own report (which check failed), not an error.
        if (Number(status) >= 400 && key !== "GET /readyz") {
          expect(r.content["application/json"].schema.$ref, `${key} ${status}`).toBe("#/components/schemas/Error");
        }
        if (["409", "429", "503"].includes(status)) expect(r.headers["retry-after"], `${key} ${status}`).toBeDefined();
        if (status === "401") expect(r.headers["www-authenticate"], key).toBeDefined();
        if (status === "201") expect(r.headers.location, key).toBeDefined();
      }
    }
  });

  test("operationIds as a client sees them", () => {
    const byKey = Object.fromEntries(operations().map(({ key, op }) => [key, op.operationId]));
    expect(byKey).toMatchObject({
      "GET /api/tasks": "listTasks",
      "GET /api/tasks/{id}": "getTask",
      "PATCH /api/tasks/{id}": "updateTask",
      "POST /api/tasks/{id}/approve": "approveTask",
      "POST /api/missions/{mission_id}/tasks": "createMissionTask",
      "POST /api/missions/{id}/start": "startMission",
      "GET /api/trace/verify": "verifyTrace",
      "DELETE /api/key_results/{id}": "deleteKeyResult",
      "GET /healthz": "getHealth",
    });
    const table: Array<[string, string, string]> = [
      ["GET", "/api/policies", "listPolicies"],
      ["GET", "/api/objectives/:objective_id/key_results", "listObjectiveKeyResults"],
      ["POST", "/api/agents/:id/reset", "resetAgent"],
      ["GET", "/api/dispatches/:id", "getDispatch"],
      ["POST", "/api/knowledge/search", "searchKnowledge"],
    ];
    for (const [method, url, id] of table) expect(operationIdOf(method, url), `${method} ${url}`).toBe(id);
  });

  test("named schemas for resources and list envelopes; statuses as enums", () => {
    const schemas = doc.components.schemas;
    for (const name of [
      "Error",
      "Task",
      "TaskSummaryList",
      "Mission",
      "MissionList",
      "Agent",
      "AgentList",
      "TraceEntry",
      "TraceEntryList",
      "Dispatch",
      "Policy",
      "Document",
    ]) {
      expect(schemas[name], name).toBeDefined();
    }
    expect(schemas.Task.properties.status).toMatchObject({ $ref: "#/components/schemas/TaskStatus" });
    expect(schemas.TaskStatus.enum).toEqual(expect.arrayContaining(["pending", "pending_review", "completed"]));
    expect(schemas.MissionStatus.enum).toEqual(expect.arrayContaining(["planning", "active"]));
    expect(schemas.Error.required).toEqual(["errors"]);
    expect(Object.keys(schemas.Error.properties).sort()).toEqual(["errors", "policy_decision"]);
  });

  test("only x- extensions: the size limit keyword is emitted as x-max-json-bytes", () => {
    const text = JSON.stringify(doc);
    expect(text).not.toContain('"maxJsonBytes"');
    expect(text).not.toContain('"x-component"');
    expect(text).toContain('"x-max-json-bytes":65536');
  });

  test("wrapped bodies, optional bodies, read-only fields, id-or-key path parameters", () => {
    const create = doc.paths["/api/missions"].post.requestBody;
    expect(create.required).toBe(true);
    expect(create.content["application/json"].schema.oneOf).toEqual([
      { $ref: "#/components/schemas/MissionCreate" },
      {
        type: "object",
        required: ["mission"],
        additionalProperties: false,
        properties: { mission: { $ref: "#/components/schemas/MissionCreate" } },
      },
    ]);
    for (const [path, method] of [
      ["/api/tasks/{id}/approve", "post"],
      ["/api/tasks/{id}/reject", "post"],
      ["/api/tasks/{id}/execute", "post"],
      ["/api/tasks/{id}", "patch"],
      ["/api/agents", "post"],
    ] as const) {
      expect(doc.paths[path][method].requestBody.required, `${method} ${path}`).toBe(false);
    }
    expect(Object.keys(doc.components.schemas.AgentCreate.properties)).not.toContain("status");
    expect(Object.keys(doc.components.schemas.AgentUpdate.properties)).not.toContain("current_task_id");
    const id = doc.paths["/api/tasks/{id}"].get.parameters.find((p: any) => p.in === "path");
    expect(id.schema.oneOf.map((s: any) => s.type)).toEqual(["integer", "string"]);
  });
});

describe("the conformance check on every answer the suite sees", () => {
  const check = () => new OpenApiConformance(doc);
  const answer = (over: Partial<Parameters<OpenApiConformance["check"]>[0]>) => ({
    method: "GET",
    url: "/api/tasks/task-1",
    status: 200,
    contentType: "application/json; charset=utf-8",
    body: "{}",
    ...over,
  });

  test.each([
    ["an undeclared status", { status: 418, body: '{"errors":{"detail":"teapot"}}' }, /does not declare/],
    ["a success body missing its data", { body: '{"meta":{}}' }, /does not match/],
    ["an error body in another shape", { status: 404, body: '{"error":"Not Found"}' }, /does not match/],
    ["an error with an empty errors object", { status: 422, body: '{"errors":{}}' }, /does not match/],
    [
      "a task with a status outside its states",
      { url: "/api/tasks", body: '{"data":[{"status":"done"}],"meta":{"next_cursor":null}}' },
      /does not match/,
    ],
    ["a body that is not JSON", { status: 404, body: "Not Found" }, /not JSON/],
  ])("%s is refused", (_name, over, message) => {
    const problems = check().check(answer(over));
    expect(problems.length).toBe(1);
    expect(problems[0]).toMatch(message);
  });

  test.each([
    ["a 404 in the Error shape", { status: 404, body: '{"errors":{"detail":"Not Found"}}' }],
    [
      "a 422 naming fields",
      { method: "POST", url: "/api/missions", status: 422, body: '{"errors":{"goal":["is required"]}}' },
    ],
    [
      "a policy 403 with its decision",
      {
        method: "POST",
        url: "/api/tasks/t/execute",
        status: 403,
        body: '{"errors":{"policy":["no"]},"policy_decision":{"decision":"block"}}',
      },
    ],
    ["an unknown URL (no operation)", { url: "/api/nothing-here", status: 404, body: "" }],
    ["a HEAD request", { method: "HEAD", status: 200, body: "" }],
  ])("%s passes", (_name, over) => {
    expect(check().check(answer(over))).toEqual([]);
  });
});
