// Property-based bad input to every route of the OpenAPI document: path parameters, query, the route's own
// headers and body. Every answer is a 2xx, or a 4xx in the contract's error shape that changed nothing in the
// database; never a 5xx, never a hang, never a stack trace. Requests per route: MC_SOAK_FUZZ_RUNS (10;
// `npm run test:soak`: 300); a failure prints the FUZZ_SEED that replays it.
import net from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { requestFor, urlOf, type FuzzRequest } from "./arbitraries.js";
import { fingerprint, isErrorShape, operationsOf, send, settledFingerprint, type Operation } from "./openapi.js";
import { startLiveApp, type LiveApp } from "./server.js";
import { createFixtureSet, type FixtureSet } from "./world.js";
import { soak } from "../reliability/soak.js";

const RUNS = soak.fuzzRuns;
vi.setConfig({ testTimeout: 60_000 + RUNS * 10_000, hookTimeout: 300_000 });

const OWN = "fuzz-agent";
// Set up at collection time, so there is one test per route of the served OpenAPI document.
// Rate limits off: this is about input, and the whole run comes from two tokens.
const live: LiveApp = await startLiveApp({ MC_RATE_LIMIT: "0" });
const ops: Operation[] = operationsOf((await live.call("GET", "/openapi.json", { token: null })).json);
let agentToken: string;
/** The admin token the requests use: made last, so the ids "1" and "2" the fuzzing uses name other tokens. */
let adminToken: string;
let fx: FixtureSet;
/** Keys and ids that exist, so some requests reach the services' own checks. */
let known: string[];
/** The fingerprint as of the last answer, or null when background work may still be settling. */
let lastFp: string | null = null;
/** Answers by status class, over the whole run. */
const seen = { ok: 0, refused: 0, statuses: new Set<number>() };

beforeAll(async () => {
  const admin = (method: string, url: string, body?: unknown) => live.call(method, url, { body });
  expect((await admin("POST", "/api/agents", { agent_id: OWN })).status).toBe(201);
  agentToken = await live.agentToken(OWN);
  fx = await createFixtureSet(admin, OWN, "fz");
  known = [...new Set([...Object.values(fx), OWN, "1", "2", "no-force-push-protected"])];
  adminToken = (await admin("POST", "/api/tokens", { role: "admin", name: "fuzz-admin" })).json.data.token;
  live.secrets.add(adminToken);
});

afterAll(async () => {
  await live.close();
});

/** What a leaked stack trace or source path looks like. */
const STACK = /\n\s+at .+:\d+:\d+|node_modules|\b(src|dist)\/[\w./-]+\.[jt]s\b|\.ts:\d+/;

async function check(op: Operation, req: FuzzRequest, caller: "admin" | "agent") {
  const before = lastFp ?? (await settledFingerprint(live.db.database));
  const url = urlOf(op, req);
  const b = req.body;
  const r = await send(live.base, op.method, url, {
    token: caller === "admin" ? adminToken : agentToken,
    headers: req.headers,
    ...(b.kind === "json" ? { body: b.value } : b.kind === "raw" ? { raw: b.text, contentType: b.contentType } : {}),
    timeoutMs: 30_000,
  });
  const what = `${op.method} ${url.slice(0, 300)} ${JSON.stringify(req.headers).slice(0, 200)} as ${caller} → ${r.status} ${r.text.slice(0, 300)}`;
  seen.statuses.add(r.status);
  if (r.status < 300) seen.ok++;
  else seen.refused++;
  expect(r.status, what).toBeGreaterThanOrEqual(200);
  expect(r.status, what).toBeLessThan(500);
  expect(r.headers.get("x-request-id"), what).toBeTruthy();
  if (r.status >= 400) {
    expect(r.headers.get("content-type") ?? "", what).toContain("application/json");
    expect(isErrorShape(r.json), `not the error shape: ${what}`).toBe(true);
    expect(STACK.test(r.text), `internals in: ${what}`).toBe(false);
    const after = await fingerprint(live.db.database);
    expect(after, `a ${r.status} changed the database: ${what}`).toBe(before);
    lastFp = after;
  } else {
    lastFp = null;
  }
}

/** Long strings shortened, so a failure is readable; the seed replays it (FUZZ_SEED=…). */
function short(v: unknown): string {
  const s = JSON.stringify(v, (_k, x) =>
    typeof x === "string" && x.length > 120 ? `${x.slice(0, 40)}…(${x.length} chars)` : x,
  );
  return (s ?? String(v)).slice(0, 3000);
}

async function report(d: fc.RunDetails<[FuzzRequest, "admin" | "agent"]>) {
  if (!d.failed) return;
  const cause = d.errorInstance instanceof Error ? d.errorInstance.message : String(d.errorInstance);
  throw new Error(
    `FUZZ_SEED=${d.seed} (path ${d.counterexamplePath}): ${short(d.counterexample)}\n${cause.slice(0, 3000)}`,
  );
}

describe("bad input to every route of the OpenAPI document", () => {
  test("the document lists the routes", () => {
    expect(ops.length).toBeGreaterThan(50);
  });

  test("the fingerprint sees a change", async () => {
    const before = await fingerprint(live.db.database);
    expect(before).toMatch(/tasks:\d+:/);
    expect((await live.call("POST", "/api/sprints", { body: { name: "fingerprinted" } })).status).toBe(201);
    expect(await fingerprint(live.db.database)).not.toBe(before);
    lastFp = null;
  });

  test.each(ops.map((op) => [op.key, op] as const))(
    "%s: 2xx, or a 4xx in the error shape that changed nothing",
    async (_key, op) => {
      await fc.assert(
        fc.asyncProperty(requestFor(op, known), fc.constantFrom("admin" as const, "agent" as const), (req, caller) =>
          check(op, req, caller),
        ),
        { numRuns: RUNS, endOnFailure: true, seed: soak.seed, asyncReporter: report },
      );
    },
  );

  // Found by this test: these were answered by Fastify or Node in their own shape, without a request id.
  test.each([
    ["a malformed percent-escape", `/api/missions/%C0%AE`, 400, "Malformed URL"],
    [
      "a path parameter over 500 characters",
      `/api/missions/${"k".repeat(501)}`,
      414,
      "A path parameter is longer than the server accepts",
    ],
    [
      "headers over 16 KiB",
      `/api/missions/${"k".repeat(17_000)}`,
      431,
      "The request line and headers are larger than the server accepts",
    ],
  ])("%s is answered in the error shape with a request id", async (_what, url, status, detail) => {
    const r = await send(live.base, "GET", url, { token: adminToken });
    expect(r.status).toBe(status);
    expect(r.json).toEqual({ errors: { detail } });
    expect(r.headers.get("x-request-id")).toBeTruthy();
  });

  test("an unknown field named like an Object.prototype member is reported as the field", async () => {
    for (const name of ["valueOf", "toString", "hasOwnProperty"]) {
      const r = await send(live.base, "POST", "/api/missions", { token: adminToken, body: { goal: "g", [name]: 1 } });
      expect(r.status).toBe(422);
      expect(r.json).toEqual({ errors: { [name]: ["is not a known field"] } });
    }
  });

  test("a NUL character in a query value is 422 naming it, in a path parameter 404 (the database cannot store it)", async () => {
    for (const url of ["/api/agents?capability=%00", "/api/trace?event=a%00b", "/api/tasks?agent_id=%00"]) {
      const r = await send(live.base, "GET", url, { token: adminToken });
      expect(r.status, url).toBe(422);
      expect(Object.values(r.json.errors)).toEqual([["must not contain NUL or unpaired surrogate characters"]]);
    }
    for (const url of ["/api/missions/a%00b", "/api/policies/templates/x%00"]) {
      const r = await send(live.base, url.includes("templates") ? "POST" : "GET", url, { token: adminToken });
      expect(r.status, url).toBe(404);
    }
  });

  test("a request that is not HTTP gets a 400 in the error shape, and the connection is closed", async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const sock = net.connect(Number(new URL(live.base).port), "127.0.0.1", () => sock.write("HELLO / WHAT\r\n\r\n"));
      let text = "";
      sock.on("data", (d) => (text += d.toString()));
      sock.on("close", () => resolve(text));
      sock.on("error", reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toMatch(/\r\nconnection: close\r\n/i);
    expect(answer).toMatch(/\r\nx-request-id: \S+\r\n/i);
    expect(JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4))).toEqual({
      errors: { detail: "Malformed HTTP request" },
    });
  });

  test("the generated requests reached both successes and refusals", () => {
    const stats = `${seen.ok} successes, ${seen.refused} refusals, statuses ${[...seen.statuses].sort().join(" ")}`;
    expect(seen.ok, stats).toBeGreaterThan(0);
    expect(seen.refused, stats).toBeGreaterThan(0);
    for (const status of [400, 404, 422]) expect([...seen.statuses], stats).toContain(status);
  });
});
