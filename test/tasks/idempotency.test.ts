// Idempotency-Key: first through the real routes (the retries an agent makes), then the machinery on its
// own, on a small app whose handler the test controls (in-flight duplicates, 5xx, expiry).
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, createTestDb, waitFor, type TestContext, type TestDb } from "../harness.js";
import { registerAuth, type Principal } from "../../src/http/auth.js";
import { registerErrorHandling } from "../../src/http/error-handler.js";
import { canonicalJson } from "../../src/core/canonical-json.js";
import { registerIdempotency } from "../../src/http/idempotency.js";
import { registerJsonParser } from "../../src/http/json.js";
import { validatorCompiler } from "../../src/http/validation.js";
import { createMission, createTask, forceStatus, logCount, taskTrace } from "./helpers.js";

let t: TestContext;
let missionKey: string;
beforeAll(async () => {
  t = await createTestContext();
  missionKey = (await createMission(t)).mission_id;
});
afterAll(async () => {
  await t.close();
});

const withKey = (key: string, extra: Record<string, unknown> = {}) => ({
  headers: { "idempotency-key": key },
  ...extra,
});

describe("on the task routes", () => {
  test("a retried report is answered from the first response and applied once", async () => {
    const task = await createTask(t, missionKey);
    const body = { progress: { status: "in_progress", outputs: { n: 1 }, logs: [{ message: "once" }] } };
    const first = await t.json("POST", `/api/tasks/${task.id}/report`, withKey("rep-1", { body }));
    expect(first.status).toBe(200);
    expect(first.headers["idempotent-replayed"]).toBeUndefined();
    const traceAfterFirst = await taskTrace(t, task.task_id);
    for (let i = 0; i < 3; i++) {
      const again = await t.json("POST", `/api/tasks/${task.id}/report`, withKey("rep-1", { body }));
      expect(again.status).toBe(200);
      expect(again.body).toEqual(first.body);
      expect(again.headers["idempotent-replayed"]).toBe("true");
      expect(again.headers["content-type"]).toBe("application/json; charset=utf-8");
    }
    expect(await logCount(t, task.task_id)).toBe(1);
    expect(await taskTrace(t, task.task_id)).toEqual(traceAfterFirst);
  });

  test("a retried create returns the same task (generated key, Location) and creates one", async () => {
    const m = await createMission(t);
    const first = await t.json(
      "POST",
      `/api/missions/${m.id}/tasks`,
      withKey("create-1", { body: { task: { objective: "o" } } }),
    );
    expect(first.status).toBe(201);
    // The same request bare instead of wrapped, keys in another order: still the same request.
    const again = await t.json(
      "POST",
      `/api/missions/${m.id}/tasks`,
      withKey("create-1", { body: { objective: "o" } }),
    );
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.location).toBe(first.headers.location);
    const list = await t.json("GET", `/api/missions/${m.id}/tasks`);
    expect(list.body.data).toHaveLength(1);
  });

  test("a retried approve is a 200 again, not a 422 for an already completed task", async () => {
    const task = await createTask(t, missionKey);
    await forceStatus(t, task.task_id, "pending_review");
    const first = await t.json(
      "POST",
      `/api/tasks/${task.id}/approve`,
      withKey("approve-1", { body: { comment: "LGTM" } }),
    );
    const again = await t.json(
      "POST",
      `/api/tasks/${task.id}/approve`,
      withKey("approve-1", { body: { comment: "LGTM" } }),
    );
    expect([first.status, again.status]).toEqual([200, 200]);
    expect(again.body).toEqual(first.body);
    const fresh = await t.json(
      "POST",
      `/api/tasks/${task.id}/approve`,
      withKey("approve-2", { body: { comment: "LGTM" } }),
    );
    expect(fresh.status).toBe(422);
  });

  test("the same key with a different body, or on another route, is 422 and changes nothing", async () => {
    const task = await createTask(t, missionKey);
    const ok = await t.json("POST", `/api/tasks/${task.id}/report`, withKey("k-diff", { body: { outputs: { a: 1 } } }));
    expect(ok.status).toBe(200);
    const error = { errors: { "idempotency-key": ["was already used for a different request"] } };
    const other = await t.json(
      "POST",
      `/api/tasks/${task.id}/report`,
      withKey("k-diff", { body: { outputs: { a: 2 } } }),
    );
    expect(other.status).toBe(422);
    expect(other.body).toEqual(error);
    const elsewhere = await t.json("POST", `/api/tasks/${task.id}/reject`, withKey("k-diff", { body: {} }));
    expect(elsewhere.status).toBe(422);
    expect(elsewhere.body).toEqual(error);
    expect((await t.json("GET", `/api/tasks/${task.id}`)).body.data.outputs).toEqual({ a: 1 });
  });

  test("keys are scoped per token", async () => {
    const task = await createTask(t, missionKey);
    const body = { logs: [{ message: "x" }] };
    expect((await t.json("POST", `/api/tasks/${task.id}/report`, withKey("shared", { body }))).status).toBe(200);
    const asMember = await t.json("POST", `/api/tasks/${task.id}/report`, withKey("shared", { body, token: t.member }));
    expect(asMember.status).toBe(200);
    expect(asMember.headers["idempotent-replayed"]).toBeUndefined();
    expect(await logCount(t, task.task_id)).toBe(2);
  });

  test("a caller's error is kept and replayed too; a validation error is not (nothing was claimed)", async () => {
    const task = await createTask(t, missionKey);
    const illegal = await t.json(
      "POST",
      `/api/tasks/${task.id}/report`,
      withKey("k-err", { body: { status: "completed" } }),
    );
    expect(illegal.status).toBe(422);
    await forceStatus(t, task.task_id, "in_progress");
    const replay = await t.json(
      "POST",
      `/api/tasks/${task.id}/report`,
      withKey("k-err", { body: { status: "completed" } }),
    );
    expect(replay.status).toBe(422);
    expect(replay.body).toEqual(illegal.body);
    expect(replay.headers["idempotent-replayed"]).toBe("true");

    const invalid = await t.json(
      "POST",
      `/api/tasks/${task.id}/report`,
      withKey("k-val", { body: { status: "nope" } }),
    );
    expect(invalid.status).toBe(422);
    const valid = await t.json(
      "POST",
      `/api/tasks/${task.id}/report`,
      withKey("k-val", { body: { status: "blocked" } }),
    );
    expect(valid.status).toBe(200);
    expect(valid.body.data.status).toBe("blocked");
  });

  test.each([
    ["too long", "k".repeat(256), "must NOT have more than 255 characters"],
    ["control character", "a\tb", "has an invalid format"],
  ])("a malformed key (%s) → 422, nothing done", async (_name, key, message) => {
    const task = await createTask(t, missionKey);
    const r = await t.json("POST", `/api/tasks/${task.id}/report`, withKey(key, { body: { status: "in_progress" } }));
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors: { "idempotency-key": [message] } });
    expect((await t.json("GET", `/api/tasks/${task.id}`)).body.data.status).toBe("pending");
  });

  test("without the header every POST does its work", async () => {
    const task = await createTask(t, missionKey);
    for (let i = 0; i < 2; i++)
      await t.json("POST", `/api/tasks/${task.id}/report`, { body: { logs: [{ message: "x" }] } });
    expect(await logCount(t, task.task_id)).toBe(2);
  });
});

describe("the machinery", () => {
  let db: TestDb;
  let app: FastifyInstance;
  let calls = 0;
  let gate: Promise<void> = Promise.resolve();
  let failNext = false;
  const principal = (tokenId: number): Principal => ({
    role: "member",
    tokenId,
    name: `t${tokenId}`,
    agentId: null,
    agentKey: null,
    actor: `member:t${tokenId}`,
  });

  beforeAll(async () => {
    db = await createTestDb();
    app = Fastify();
    app.setValidatorCompiler(validatorCompiler);
    registerJsonParser(app);
    registerErrorHandling(app);
    registerAuth(app, {
      authenticate: async (s) => (s === "mc_one" ? principal(1) : s === "mc_two" ? principal(2) : null),
    });
    registerIdempotency(app, db.database, { inFlightTimeoutMs: 60_000 });
    app.post("/api/work", { config: { access: "member" } }, async (req, reply) => {
      calls++;
      await gate;
      if (failNext) {
        failNext = false;
        throw new Error("boom");
      }
      return reply
        .code(201)
        .header("location", `/api/work/${calls}`)
        .send({ data: { call: calls, body: req.body } });
    });
    app.post("/api/open", { config: { access: "public" } }, async () => ({ data: { call: ++calls } }));
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    await db.drop();
  });

  const post = (url: string, key: string | null, body: unknown = { a: 1 }, token = "mc_one") =>
    app.inject({
      method: "POST",
      url,
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        ...(key ? { "idempotency-key": key } : {}),
      },
      payload: JSON.stringify(body),
    });

  test("a duplicate while the first is in flight gets 409 with Retry-After, then the stored response", async () => {
    let open!: () => void;
    gate = new Promise((r) => (open = r));
    const before = calls;
    const first = post("/api/work", "fly");
    // Until the first holds the key (it is in the handler): a fixed pause lost this race on a busy machine, and
    // the duplicate then took the key and waited on the gate forever.
    await waitFor(() => calls > before, 15_000, "the first request to reach the handler");
    const dup = await post("/api/work", "fly");
    expect(dup.statusCode).toBe(409);
    expect(dup.headers["retry-after"]).toBe("1");
    expect(dup.json()).toEqual({
      errors: { detail: "A request with this Idempotency-Key is still being processed; retry later" },
    });
    open();
    const done = await first;
    expect(done.statusCode).toBe(201);
    gate = Promise.resolve();
    const later = await post("/api/work", "fly");
    expect(later.statusCode).toBe(201);
    expect(later.body).toBe(done.body);
    expect(later.headers.location).toBe(done.headers.location);
    expect(calls).toBe(before + 1);
  });

  test("a 5xx releases the key: the retry does the work", async () => {
    failNext = true;
    const before = calls;
    const failed = await post("/api/work", "five");
    expect(failed.statusCode).toBe(500);
    const retry = await post("/api/work", "five");
    expect(retry.statusCode).toBe(201);
    expect(retry.headers["idempotent-replayed"]).toBeUndefined();
    expect(calls).toBe(before + 2);
  });

  test("after 24 hours a key is fresh again", async () => {
    const first = await post("/api/work", "old");
    await db.database.query("UPDATE idempotency_keys SET inserted_at = now() - interval '25 hours' WHERE key = 'old'");
    const again = await post("/api/work", "old", { other: "body" });
    expect(again.statusCode).toBe(201);
    expect(again.json().data.call).toBe(first.json().data.call + 1);
  });

  test("a claim abandoned mid-flight (its process died) is taken over after the timeout", async () => {
    await db.database.query(
      "INSERT INTO idempotency_keys (scope, key, fingerprint, inserted_at) VALUES ('token:1', 'dead', 'x', now() - interval '2 minutes')",
    );
    const r = await post("/api/work", "dead");
    expect(r.statusCode).toBe(201);
    const fresh = await db.database.query(
      "INSERT INTO idempotency_keys (scope, key, fingerprint) VALUES ('token:1', 'alive', 'x') RETURNING id",
    );
    expect(fresh).toHaveLength(1);
    expect((await post("/api/work", "alive")).statusCode).toBe(422); // different fingerprint, not yet abandoned
  });

  test("public routes and requests without the header are untouched", async () => {
    const before = calls;
    await post("/api/open", "pub");
    await post("/api/open", "pub");
    await post("/api/work", null);
    await post("/api/work", null);
    expect(calls).toBe(before + 4);
    const rows = await db.database.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM idempotency_keys WHERE key = 'pub'",
    );
    expect(rows[0]!.n).toBe(0);
  });

  test("another token's key of the same name is its own", async () => {
    const a = await post("/api/work", "same", { x: 1 }, "mc_one");
    const b = await post("/api/work", "same", { x: 1 }, "mc_two");
    expect(a.json().data.call).not.toBe(b.json().data.call);
  });

  test("canonical JSON ignores key order, not values", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 1, x: 2 }], c: null } })).toBe(
      canonicalJson({ a: { c: null, d: [1, { x: 2, y: 1 }] }, b: 1 }),
    );
    expect(canonicalJson({ a: [1, 2] })).not.toBe(canonicalJson({ a: [2, 1] }));
    expect(canonicalJson({ a: "1" })).not.toBe(canonicalJson({ a: 1 }));
  });
});
