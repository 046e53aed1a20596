// Test harness: every test file gets an empty, migrated database (a lease on an in-memory PGlite loaded from a
// migrated template and emptied between files by fixtures/pglite-pool.ts, or with TEST_DATABASE_URL a new
// PostgreSQL database on that server), migrated exactly as at start-up, and an app built by buildApp.
import type { LightMyRequestResponse } from "fastify";
import { createTestScratchDatabase } from "./fixtures/scratch-database.js";
import { takePgliteTestDb } from "./fixtures/pglite-pool.js";
import { buildApp, type App } from "../src/app.js";
import { loadConfig, type Config } from "../src/config.js";
import { openDatabase, type Database } from "../src/db/client.js";
import { runMigrations } from "../src/db/migrate.js";
import { createTokensService } from "../src/tokens/tokens.service.js";
import type { Principal } from "../src/core/principal.js";
import { agents } from "../src/db/schema/index.js";
import { OpenApiConformance } from "./fixtures/openapi-conformance.js";

export const backend: "pglite" | "postgres" = process.env.TEST_DATABASE_URL ? "postgres" : "pglite";

export interface TestDb {
  database: Database;
  url: string | null;
  drop(): Promise<void>;
}

/** An empty, migrated database on the backend under test. */
export async function createTestDb(): Promise<TestDb> {
  const base = process.env.TEST_DATABASE_URL;
  if (!base) return takePgliteTestDb();
  const scratch = await createTestScratchDatabase(base);
  const database = await openDatabase({ databaseUrl: scratch.url, dataDir: null, poolSize: 5 });
  await runMigrations(database);
  return {
    database,
    url: scratch.url,
    async drop() {
      await database.close();
      await scratch.drop();
    },
  };
}

export const SYSTEM: Principal = {
  role: "admin",
  tokenId: null,
  name: "test",
  agentId: null,
  agentKey: null,
  actor: "admin:test",
};

export interface InjectOptions {
  token?: string | null;
  body?: unknown;
  /** Sent as-is, without JSON encoding. */
  payload?: string;
  headers?: Record<string, string>;
  query?: Record<string, string>;
}

export interface TestContext {
  app: App;
  /** Base URL when listening. */
  url: string | null;
  db: TestDb;
  database: Database;
  config: Config;
  admin: string;
  member: string;
  /** An agent-role token for the agent with this key (the agent is created when missing). */
  agentToken(agentKey: string): Promise<string>;
  req(method: string, url: string, opts?: InjectOptions): Promise<LightMyRequestResponse & { body: string }>;
  json(
    method: string,
    url: string,
    opts?: InjectOptions,
  ): Promise<{ status: number; body: any; headers: Record<string, unknown> }>;
  close(): Promise<void>;
}

export interface ContextOptions {
  /** Listen on a real port (for agents and clients that call back over HTTP). */
  listen?: boolean;
  /** How long a close waits for requests in flight (the app's default when unset). */
  shutdownGraceMs?: number;
}

export async function createTestContext(
  env: Record<string, string> = {},
  opts: ContextOptions = {},
): Promise<TestContext> {
  const db = await createTestDb();
  // The overload guard answers 503 when the event loop lags; on a busy test machine that is the machine, not
  // the code under test, so it is off unless a test turns it on (test/reliability/overload.test.ts does).
  const config = loadConfig({
    MC_DATA_DIR: "/tmp/mc-test-unused",
    LOG_LEVEL: "silent",
    MC_MAX_EVENT_LOOP_DELAY_MS: "0",
    ...env,
  });
  const app = await buildApp({ config, database: db.database, shutdownGraceMs: opts.shutdownGraceMs });
  if (opts.listen) await app.listen({ host: "127.0.0.1", port: 0 });
  else await app.ready();
  const tokens = createTokensService({ database: db.database, adminToken: null });
  const admin = (await tokens.create({ role: "admin", name: "test-admin" }, SYSTEM)).token;
  const member = (await tokens.create({ role: "member", name: "test-member" }, SYSTEM)).token;

  async function agentToken(agentKey: string) {
    await db.database.db.insert(agents).values({ agentId: agentKey, name: agentKey }).onConflictDoNothing();
    return (await tokens.create({ role: "agent", agent_id: agentKey, name: `agent-${agentKey}` }, SYSTEM)).token;
  }

  let conformance: OpenApiConformance | null = null;
  async function req(method: string, url: string, opts: InjectOptions = {}) {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    const token = opts.token === undefined ? admin : opts.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    let payload: string | undefined = opts.payload;
    if (payload === undefined && opts.body !== undefined) {
      payload = JSON.stringify(opts.body);
    }
    if (payload !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) {
      headers["content-type"] = "application/json";
    }
    const r = await app.inject({ method: method as "GET", url, headers, payload, query: opts.query });
    // Every answer must be one the OpenAPI document declares, with a body matching its schema.
    conformance ??= new OpenApiConformance(app.swagger());
    const problems = conformance.check({
      method,
      url,
      status: r.statusCode,
      contentType: r.headers["content-type"] as string | undefined,
      body: r.body,
    });
    if (problems.length > 0) throw new Error(`OpenAPI conformance: ${problems.join("\n")}`);
    return r;
  }

  async function json(method: string, url: string, opts: InjectOptions = {}) {
    const r = await req(method, url, opts);
    let body: unknown = null;
    if (r.body !== "") {
      body = JSON.parse(r.body);
    }
    return { status: r.statusCode, body, headers: r.headers as Record<string, unknown> };
  }

  const addr = app.server.address();
  return {
    app,
    url: opts.listen && addr && typeof addr === "object" ? `http://127.0.0.1:${addr.port}` : null,
    db,
    database: db.database,
    config,
    admin,
    member,
    agentToken,
    req,
    json,
    async close() {
      await app.close();
      await db.drop();
    },
  };
}

/** Polls `check` until it returns a truthy value (which is returned) or the time runs out. */
export async function waitFor<T>(
  check: () => Promise<T> | T,
  timeoutMs = 15_000,
  what = "condition",
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
