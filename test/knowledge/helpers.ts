import { createHash } from "node:crypto";
import { expect } from "vitest";
import type { Database } from "../../src/db/client.js";
import type { TestContext } from "../harness.js";
import { CORPUS } from "./corpus.js";

export const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");

export async function createDoc(t: TestContext, body: Record<string, unknown>, token?: string) {
  const r = await t.json("POST", "/api/knowledge/documents", { body, token });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.data as { id: number; title: string; content: string; metadata: Record<string, unknown> };
}

/** Loads the fixed corpus; returns document id → corpus key. */
export async function loadCorpus(t: TestContext): Promise<Map<number, string>> {
  const keys = new Map<number, string>();
  for (const d of CORPUS) {
    const doc = await createDoc(t, { title: d.title, content: d.content, metadata: d.metadata });
    keys.set(doc.id, d.key);
  }
  return keys;
}

export async function search(t: TestContext, body: Record<string, unknown>, token?: string) {
  const r = await t.json("POST", "/api/knowledge/search", { body, token });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.data as Array<{
    document_id: string;
    id: number;
    title: string;
    snippet: string;
    score: number;
    metadata: any;
  }>;
}

export async function traceEvents(t: TestContext, event: string) {
  const r = await t.json("GET", "/api/trace", { query: { event, limit: "500" } });
  expect(r.status).toBe(200);
  return r.body.data as Array<{
    event: string;
    actor: string;
    data: any;
    mission_id: string | null;
    task_id: string | null;
  }>;
}

export async function count(database: Database, sqlText: string, params: unknown[] = []): Promise<number> {
  const rows = await database.query<{ n: number }>(`SELECT count(*)::int AS n FROM (${sqlText}) AS x`, params);
  return rows[0]!.n;
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | null | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Whether the database under test can have pgvector (PGlite always; PostgreSQL only if installed). */
export async function vectorAvailable(database: Database): Promise<boolean> {
  return (await count(database, "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")) > 0;
}
