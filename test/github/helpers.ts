// Shared set-up for the GitHub tests: an app configured against the fake GitHub server, and helpers to
// wait for sync runs and to deliver signed webhooks.
import { createHmac, randomUUID } from "node:crypto";
import { expect } from "vitest";
import { createTestContext, waitFor, type TestContext } from "../harness.js";
import type { FakeGithub } from "../fixtures/fake-github/server.js";

export const SECRET = "whsec-test-0123456789abcdef";
export const REPO = "octo/hello";
export const OTHER = "octo/world";

export function githubEnv(fake: FakeGithub, env: Record<string, string> = {}): Record<string, string> {
  return {
    GITHUB_TOKEN: fake.token,
    GITHUB_REPOS: `${REPO},${OTHER}`,
    GITHUB_API_URL: fake.url,
    GITHUB_WEBHOOK_SECRET: SECRET,
    GITHUB_SYNC_INTERVAL_S: "0",
    ...env,
  };
}

export async function githubContext(fake: FakeGithub, env: Record<string, string> = {}) {
  return createTestContext(githubEnv(fake, env));
}

export interface RunApi {
  id: number;
  status: string;
  repos: string[];
  issues_synced: number;
  error: string | null;
  started_at: string | null;
  finished_at: string | null;
  resume_at: string | null;
  trigger: string;
  requested_by: string;
  results: Array<{
    repo: string;
    status: string;
    issues_synced: number;
    pull_requests_skipped: number;
    pages: number;
    error: string | null;
  }>;
}

export async function getRun(t: TestContext, id: number): Promise<RunApi> {
  const r = await t.json("GET", `/api/github/sync/${id}`);
  expect(r.status).toBe(200);
  return r.body.data;
}

/** Waits until the run is finished (or paused by a rate limit). */
export async function waitRun(
  t: TestContext,
  id: number,
  done: (r: RunApi) => boolean = (r) => r.status === "succeeded" || r.status === "failed",
) {
  return waitFor(
    async () => {
      const r = await getRun(t, id);
      return done(r) ? r : null;
    },
    20_000,
    `sync run ${id}`,
  );
}

/** POST /api/github/sync and wait for that run to finish. */
export async function syncNow(t: TestContext): Promise<RunApi> {
  const r = await t.json("POST", "/api/github/sync");
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  return waitRun(t, r.body.data.id);
}

export function sign(payload: string, secret = SECRET) {
  return `sha256=${createHmac("sha256", secret).update(payload).digest("hex")}`;
}

export interface DeliverOptions {
  delivery?: string;
  signature?: string | null;
  secret?: string;
  contentType?: string;
}

/** A webhook delivery as GitHub sends it: no bearer token, signed body. */
export async function deliver(t: TestContext, event: string, payload: unknown, o: DeliverOptions = {}) {
  const text = typeof payload === "string" ? payload : JSON.stringify(payload);
  const headers: Record<string, string> = {
    "content-type": o.contentType ?? "application/json",
    "x-github-event": event,
    "x-github-delivery": o.delivery ?? randomUUID(),
    "user-agent": "GitHub-Hookshot/fake",
  };
  const signature = o.signature === undefined ? sign(text, o.secret) : o.signature;
  if (signature !== null) headers["x-hub-signature-256"] = signature;
  return t.json("POST", "/api/github/webhook", { token: null, payload: text, headers });
}

export async function createMission(t: TestContext, key = `m-${randomUUID().slice(0, 8)}`) {
  const r = await t.json("POST", "/api/missions", { body: { mission_id: key, goal: "g" } });
  expect(r.status).toBe(201);
  return r.body.data as { id: number; mission_id: string };
}

export async function traceOf(t: TestContext, query: Record<string, string>) {
  const r = await t.json("GET", "/api/trace", { query: { limit: "500", ...query } });
  expect(r.status).toBe(200);
  return r.body.data as Array<{
    event: string;
    actor: string;
    data: any;
    mission_id: string | null;
    task_id: string | null;
  }>;
}
