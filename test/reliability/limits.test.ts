// The documented size limits: a request body (413), log lines per report, and every free-form JSON object a
// request may carry (metadata, outputs, config, context, policy actions): at most 64 KiB each as JSON (policy
// conditions have their own, smaller limit, tested with the policies; an action to evaluate is bounded by the
// body limit only: it may carry a file's content), and
// a task's outputs at most 256 KiB however many reports add to them (422 naming the field). A refused request
// changes nothing.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { MAX_JSON_OBJECT_BYTES } from "../../src/core/envelope.js";
import { MAX_TASK_OUTPUTS_BYTES } from "../../src/tasks/tasks.service.js";
import { createTestContext, type TestContext } from "../harness.js";
import { fingerprint } from "../security/openapi.js";

let t: TestContext;
let agent: string;
let documentId: number;

beforeAll(async () => {
  t = await createTestContext();
  agent = await t.agentToken("limits-agent");
  expect((await t.json("POST", "/api/missions", { body: { mission_id: "limits", goal: "g" } })).status).toBe(201);
  await t.json("POST", "/api/missions/limits/agents", { body: { agent_id: "limits-agent" } });
  for (const id of ["limits-t1", "limits-t2"]) {
    const r = await t.json("POST", "/api/missions/limits/tasks", {
      body: { task_id: id, objective: "o", agent_id: "limits-agent" },
    });
    expect(r.status).toBe(201);
  }
  const doc = await t.json("POST", "/api/knowledge/documents", { body: { title: "limits", content: "a document" } });
  expect(doc.status).toBe(201);
  documentId = doc.body.data.id;
});
afterAll(async () => {
  await t?.close();
});

/** `{"x": "aaa…"}` whose JSON is exactly `bytes` long. */
function objectOf(bytes: number): Record<string, string> {
  return { x: "a".repeat(bytes - '{"x":""}'.length) };
}

async function unchanged<T>(fn: () => Promise<T>): Promise<T> {
  const before = await fingerprint(t.database);
  const out = await fn();
  expect(await fingerprint(t.database)).toBe(before);
  return out;
}

describe("request bodies", () => {
  test("a body over MC_BODY_LIMIT is 413 in the error shape, and changes nothing", async () => {
    const r = await unchanged(() =>
      t.json("POST", "/api/missions", { body: { goal: "g", description: "d".repeat(t.config.bodyLimit) } }),
    );
    expect(r.status).toBe(413);
    expect(r.body).toEqual({ errors: { detail: "Request body is larger than the server accepts" } });
  });

  test("more than 1000 log lines in one report is 422", async () => {
    const logs = Array.from({ length: 1001 }, () => ({ message: "m" }));
    const r = await unchanged(() => t.json("POST", "/api/tasks/limits-t1/report", { token: agent, body: { logs } }));
    expect(r.status).toBe(422);
    expect(Object.keys(r.body.errors)).toEqual(["logs"]);
  });
});

describe("free-form JSON objects: at most 64 KiB each", () => {
  const cases: Array<[string, string, string, (o: Record<string, unknown>) => unknown, string]> = [
    ["mission metadata", "POST", "/api/missions", (o) => ({ goal: "g", metadata: o }), "metadata"],
    ["mission metadata (update)", "PATCH", "/api/missions/limits", (o) => ({ metadata: o }), "metadata"],
    ["task outputs (create)", "POST", "/api/missions/limits/tasks", (o) => ({ objective: "o", outputs: o }), "outputs"],
    ["task outputs (update)", "PATCH", "/api/tasks/limits-t2", (o) => ({ outputs: o }), "outputs"],
    ["task outputs (report)", "POST", "/api/tasks/limits-t2/report", (o) => ({ outputs: o }), "outputs"],
    // A valid command config of exactly the size: {"command":["<x minus 8 characters>"]}.
    [
      "agent config",
      "POST",
      "/api/agents",
      (o) => ({ adapter_module: "command", config: { command: [String(o.x).slice(8)] } }),
      "config",
    ],
    [
      "activity context",
      "POST",
      "/api/agents/limits-agent/activity",
      (o) => ({ event: "blocked", context: o }),
      "context",
    ],
    [
      "document metadata",
      "POST",
      "/api/knowledge/documents",
      (o) => ({ title: "t", content: "c", metadata: o }),
      "metadata",
    ],
    ["document metadata (update)", "PATCH", "/api/knowledge/documents/DOC", (o) => ({ metadata: o }), "metadata"],
    [
      "search filter",
      "POST",
      "/api/knowledge/search",
      (o) => ({ query: "q", filter: { metadata: o } }),
      "filter.metadata",
    ],
  ];

  test.each(cases)(
    "%s: one byte over is 422 naming the field; exactly the limit is accepted",
    async (_what, method, path, body, field) => {
      const url = path.replace("DOC", String(documentId));
      const over = await unchanged(() => t.json(method, url, { body: body(objectOf(MAX_JSON_OBJECT_BYTES + 1)) }));
      expect(over.status).toBe(422);
      expect(over.body).toEqual({ errors: { [field]: [`must be at most ${MAX_JSON_OBJECT_BYTES} bytes as JSON`] } });
      const at = await t.json(method, url, { body: body(objectOf(MAX_JSON_OBJECT_BYTES)) });
      expect(at.status, JSON.stringify(at.body).slice(0, 300)).toBeLessThan(300);
    },
  );

  test("policy actions: over the limit as a whole is 422 naming the field", async () => {
    const warn = "a".repeat(MAX_JSON_OBJECT_BYTES);
    const r = await unchanged(() =>
      t.json("POST", "/api/policies", { body: { conditions: { a: 1 }, actions: [{ warn }] } }),
    );
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors: { actions: [`must be at most ${MAX_JSON_OBJECT_BYTES} bytes as JSON`] } });
  });

  test("the size counts UTF-8 bytes, not characters", async () => {
    const chars = Math.floor(MAX_JSON_OBJECT_BYTES / 3); // "€" is 3 bytes in UTF-8
    const r = await unchanged(() =>
      t.json("PATCH", "/api/missions/limits", { body: { metadata: { x: "€".repeat(chars) } } }),
    );
    expect(r.status).toBe(422);
  });
});

describe("a task's outputs grow only so far", () => {
  test(`reports that would take outputs past ${MAX_TASK_OUTPUTS_BYTES} bytes are 422 and change nothing`, async () => {
    const chunk = MAX_JSON_OBJECT_BYTES - 1024;
    let n = 0;
    for (; n < 10; n++) {
      const r = await t.json("POST", "/api/tasks/limits-t1/report", {
        token: agent,
        body: { outputs: { [`part${n}`]: "b".repeat(chunk) }, logs: [{ message: `part ${n}` }] },
      });
      if (r.status !== 200) {
        expect(r.status).toBe(422);
        expect(r.body).toEqual({
          errors: { outputs: [`would make the task's outputs larger than ${MAX_TASK_OUTPUTS_BYTES} bytes as JSON`] },
        });
        break;
      }
    }
    expect(n).toBe(Math.floor(MAX_TASK_OUTPUTS_BYTES / chunk));
    const before = await t.json("GET", "/api/tasks/limits-t1");
    // The refused report added no log either, and a report without outputs still goes through.
    expect(before.body.data.logs.map((l: any) => l.message)).not.toContain(`part ${n}`);
    expect(
      (
        await t.json("POST", "/api/tasks/limits-t1/report", {
          token: agent,
          body: { logs: [{ message: "still here" }] },
        })
      ).status,
    ).toBe(200);
    // Replacing a key does not grow the outputs.
    const replace = await t.json("POST", "/api/tasks/limits-t1/report", {
      token: agent,
      body: { outputs: { part0: "small" } },
    });
    expect(replace.status).toBe(200);
  });
});
