// GITHUB_TOKEN and GITHUB_WEBHOOK_SECRET never appear in a response or a log line, whatever goes wrong.
// The app here logs everything (level trace) into memory.
import { afterAll, beforeAll, expect, test } from "vitest";
import pino from "pino";
import { buildApp, type App } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import { createTokensService } from "../../src/tokens/tokens.service.js";
import { createTestDb, SYSTEM, waitFor, type TestDb } from "../harness.js";
import { startFakeGithub, type FakeGithub } from "../fixtures/fake-github/server.js";
import { githubEnv, REPO, sign } from "./helpers.js";

let fake: FakeGithub;
let db: TestDb;
let app: App;
let admin: string;
const lines: string[] = [];
const responses: string[] = [];
const WEBHOOK_SECRET = "whsec-never-logged-5f2b9c";

beforeAll(async () => {
  fake = await startFakeGithub({ token: "ghp_valid_token_never_logged_8d1e" });
  fake.addIssue(REPO, { title: "x" });
  db = await createTestDb();
  // The app is given a token GitHub rejects, so the failure paths run.
  // The overload guard is off as in every test that is not about it (a busy machine is not the code's fault).
  const config = loadConfig({
    MC_DATA_DIR: "/tmp/mc-test-unused",
    MC_MAX_EVENT_LOOP_DELAY_MS: "0",
    ...githubEnv(fake, {
      GITHUB_REPOS: REPO,
      GITHUB_TOKEN: "ghp_rejected_token_never_logged_3c7a",
      GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET,
    }),
  });
  const logger = pino({ level: "trace" }, { write: (s: string) => void lines.push(s) });
  app = await buildApp({ config, database: db.database, logger });
  await app.ready();
  admin = (
    await createTokensService({ database: db.database, adminToken: null }).create({ role: "admin", name: "a" }, SYSTEM)
  ).token;
});
afterAll(async () => {
  await app?.close();
  await db?.drop();
  await fake?.close();
});

async function call(method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  const r = await app.inject({
    method: method as "GET",
    url,
    headers: { authorization: `Bearer ${admin}`, "content-type": "application/json", ...headers },
    payload: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  responses.push(JSON.stringify(r.headers), r.body);
  return r;
}

test("failed sync, failed merge, bad and good webhooks: neither secret in any response or log line", async () => {
  const s = await call("POST", "/api/github/sync");
  expect(s.statusCode).toBe(202);
  const id = JSON.parse(s.body).data.id;
  await waitFor(
    async () => JSON.parse((await call("GET", `/api/github/sync/${id}`)).body).data.status === "failed",
    15_000,
    "failed run",
  );

  const m = JSON.parse((await call("POST", "/api/missions", { goal: "g" })).body).data.mission_id;
  const task = JSON.parse((await call("POST", `/api/missions/${m}/tasks`, { objective: "o" })).body).data.task_id;
  await call("POST", `/api/tasks/${task}/report`, { status: "in_progress" });
  await call("POST", `/api/tasks/${task}/report`, {
    status: "pending_review",
    outputs: { pr_url: `https://github.com/${REPO}/pull/1` },
  });
  expect((await call("POST", `/api/tasks/${task}/approve`, {})).statusCode).toBe(502);

  const payload = JSON.stringify({ zen: "hi" });
  const bad = await call("POST", "/api/github/webhook", payload, {
    authorization: "",
    "x-github-event": "ping",
    "x-github-delivery": "1",
    "x-hub-signature-256": sign(payload, "wrong"),
  });
  expect(bad.statusCode).toBe(401);
  const good = await call("POST", "/api/github/webhook", payload, {
    authorization: "",
    "x-github-event": "ping",
    "x-github-delivery": "2",
    "x-hub-signature-256": sign(payload, WEBHOOK_SECRET),
  });
  expect(good.statusCode).toBe(200);

  const everything = [...lines, ...responses].join("\n");
  // The failures were logged (so this checks something), without either secret.
  expect(lines.some((l) => l.includes("GitHub sync of a repository failed"))).toBe(true);
  expect(lines.some((l) => l.includes("pull request merge failed"))).toBe(true);
  for (const secret of ["ghp_rejected_token_never_logged_3c7a", "ghp_valid_token_never_logged_8d1e", WEBHOOK_SECRET]) {
    expect(everything).not.toContain(secret);
  }
});
