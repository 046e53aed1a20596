// DELETE on missions, agents and tasks: 405 with Allow, in the contract's error shape, and nothing changes
// (issue 23, item 10: it answered 404, which reads as "no such record").
import { afterAll, beforeAll, expect, test } from "vitest";
import { createTestContext, type TestContext } from "../harness.js";

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
  expect((await t.json("POST", "/api/missions", { body: { mission_id: "m405", goal: "g" } })).status).toBe(201);
  expect((await t.json("POST", "/api/agents", { body: { agent_id: "a405" } })).status).toBe(201);
  expect((await t.json("POST", "/api/missions/m405/tasks", { body: { task_id: "t405", objective: "o" } })).status).toBe(
    201,
  );
});
afterAll(async () => {
  await t.close();
});

async function fingerprint() {
  const rows = await t.database.query<{ n: string }>(
    "SELECT (SELECT count(*) FROM missions) || '/' || (SELECT count(*) FROM agents) || '/' || (SELECT count(*) FROM tasks) || '/' || (SELECT count(*) FROM trace_entries) AS n",
  );
  return rows[0]!.n;
}

const cases: Array<[string, string, string]> = [
  ["/api/missions/m405", "GET, PATCH", "move it to completed, failed or cancelled with PATCH"],
  ["/api/agents/a405", "GET, PATCH", "take it off its missions with DELETE /api/missions/:mission_id/agents/:id"],
  ["/api/tasks/t405", "GET, PATCH", "move it to failed with PATCH"],
  // By integer id too, and for a record that does not exist: the method is what is refused.
  ["/api/missions/1", "GET, PATCH", "move it to completed, failed or cancelled with PATCH"],
  ["/api/tasks/no-such-task", "GET, PATCH", "move it to failed with PATCH"],
];

test.each(cases)("DELETE %s → 405, Allow: %s, nothing deleted", async (url, allow, how) => {
  const before = await fingerprint();
  for (const token of [t.admin, t.member]) {
    const r = await t.json("DELETE", url, { token });
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe(allow);
    expect(r.body).toEqual({
      errors: { detail: `Method Not Allowed: records the trace names are never deleted; ${how}` },
    });
  }
  expect(await fingerprint()).toBe(before);
});

test("without a token it is 401 first, as every /api route", async () => {
  const r = await t.json("DELETE", "/api/missions/m405", { token: null });
  expect(r.status).toBe(401);
  expect(r.body).toEqual({ errors: { detail: "Unauthorized" } });
});

test("an agent token gets the same 405", async () => {
  const token = await t.agentToken("a405");
  const r = await t.json("DELETE", "/api/tasks/t405", { token });
  expect(r.status).toBe(405);
});

test("the routes that do delete still do (a mission's agent, a token)", async () => {
  expect((await t.json("POST", "/api/missions/m405/agents", { body: { agent_id: "a405" } })).status).toBe(201);
  expect((await t.json("DELETE", "/api/missions/m405/agents/a405")).status).toBe(204);
});
