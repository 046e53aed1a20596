// The embeddings path against a real local fake endpoint (test/fixtures/fake-embeddings.ts). Where the database
// has pgvector (PGlite always), chunks are embedded in the background and vector similarity joins the fusion;
// where it does not (the PostgreSQL here), search falls back to lexical with a warning at start-up.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createKnowledgeService, type KnowledgeService } from "../../src/knowledge/knowledge.service.js";
import type { KnowledgeLogger } from "../../src/knowledge/knowledge.worker.js";
import { startFakeEmbeddings, type FakeEmbeddings } from "../fixtures/fake-embeddings.js";
import { createTestContext, SYSTEM, type TestContext } from "../harness.js";
import { count, createDoc, loadCorpus, search, vectorAvailable, waitFor } from "./helpers.js";

interface ChunkState {
  id: number;
  embed_pending: boolean;
  embed_attempts: number;
  embed_error: string | null;
  embedding_model: string | null;
  embedding_dims: number | null;
}

let fake: FakeEmbeddings;
beforeAll(async () => {
  fake = await startFakeEmbeddings();
});
afterAll(async () => {
  await fake.close();
});

const API_KEY = "sk-test-secret-123456";

function embeddingsEnv(model = "fake-embed-256") {
  return { MC_EMBEDDINGS_URL: fake.url, MC_EMBEDDINGS_MODEL: model, MC_EMBEDDINGS_API_KEY: API_KEY };
}

async function chunks(t: TestContext, documentId: number): Promise<ChunkState[]> {
  return t.database.query<ChunkState>(
    `SELECT id, embed_pending, embed_attempts, embed_error, embedding_model, embedding_dims
       FROM knowledge_chunks WHERE document_id = $1 ORDER BY ordinal`,
    [documentId],
  );
}

/** The app's own knowledge service. */
const knowledgeOf = (t: TestContext): KnowledgeService => t.app.services.knowledge;

const pendingCount = (t: TestContext) => count(t.database, "SELECT 1 FROM knowledge_chunks WHERE embed_pending");

function section(name: string, words: string) {
  return `## ${name}\n\n${Array.from({ length: 40 }, (_, i) => `${words} paragraph line ${i}.`).join(" ")}`;
}

function capture(): KnowledgeLogger & { lines: Array<[string, object, string]> } {
  const lines: Array<[string, object, string]> = [];
  return {
    lines,
    info: (o, m) => lines.push(["info", o, m]),
    warn: (o, m) => lines.push(["warn", o, m]),
    error: (o, m) => lines.push(["error", o, m]),
  };
}

describe("with pgvector", () => {
  let t: TestContext;
  let vector = false;
  let keyOf: Map<number, string>;
  beforeAll(async () => {
    t = await createTestContext(embeddingsEnv());
    vector = await vectorAvailable(t.database);
    if (vector) keyOf = await loadCorpus(t);
  });
  afterAll(async () => {
    fake.mode = "ok";
    await t.close();
  });

  test("chunks are embedded in the background, with model and dimension, and an HNSW index", async (ctx) => {
    if (!vector) return ctx.skip();
    await waitFor("the corpus to be embedded", async () => (await pendingCount(t)) === 0);
    const states = await t.database.query<ChunkState>("SELECT * FROM knowledge_chunks");
    expect(states.length).toBeGreaterThanOrEqual(10);
    for (const c of states) {
      expect(c).toMatchObject({
        embedding_model: "fake-embed-256",
        embedding_dims: 256,
        embed_attempts: 0,
        embed_error: null,
      });
    }
    expect(await count(t.database, "SELECT 1 FROM knowledge_chunks WHERE embedding IS NULL")).toBe(0);
    expect(
      await count(t.database, "SELECT 1 FROM pg_indexes WHERE indexname = 'knowledge_chunks_embedding_256_idx'"),
    ).toBe(1);
    // The key goes to the endpoint as a bearer token, and nowhere else.
    expect(fake.requests.length).toBeGreaterThan(0);
    expect(fake.requests.every((r) => r.authorization === `Bearer ${API_KEY}` && r.model === "fake-embed-256")).toBe(
      true,
    );
    // Embedding input is title + chunk text.
    expect(fake.requests.flatMap((r) => r.input)).toContain(
      "ADR-002: Database choice\n\nWe chose PostgreSQL because it gives us transactions, JSONB documents and full-text search in one system. " +
        "MongoDB was considered and rejected for weaker transactional guarantees.",
    );
  });

  test("vector similarity joins the fusion: the right document stays first, and the query itself is embedded", async (ctx) => {
    if (!vector) return ctx.skip();
    await waitFor("the corpus to be embedded", async () => (await pendingCount(t)) === 0);
    const before = fake.requests.length;
    const hits = await search(t, { query: "authentication design decisions", limit: 5 });
    expect(keyOf.get(hits[0]!.id)).toBe("auth-adr");
    expect(fake.requests.slice(before).map((r) => r.input)).toEqual([["authentication design decisions"]]);
    // No word of this query is in the corpus: lexically nothing; with vectors, the nearest passages.
    const near = await search(t, { query: "zebra giraffe", limit: 3 });
    expect(near).toHaveLength(3);
    // Filters still apply to vector hits.
    const filtered = await search(t, { query: "zebra giraffe", limit: 50, filter: { metadata: { type: "runbook" } } });
    expect(filtered.map((h) => keyOf.get(h.id)).sort()).toEqual(["k8s-runbook", "observability"]);
  });

  test("a write never waits for the endpoint; the chunk is embedded once it answers", async (ctx) => {
    if (!vector) return ctx.skip();
    fake.mode = "hang";
    const started = Date.now();
    const d = await createDoc(t, { title: "Hanging endpoint note", content: "Written while the endpoint hangs." });
    expect(Date.now() - started).toBeLessThan(1500);
    expect((await chunks(t, d.id))[0]).toMatchObject({ embed_pending: true, embedding_model: null });
    // Lexical search finds it already, and does not hang on the query embedding either.
    const s0 = Date.now();
    expect((await search(t, { query: "hanging endpoint" }))[0]!.id).toBe(d.id);
    expect(Date.now() - s0).toBeLessThan(4000);
    fake.mode = "ok"; // drops the hanging request: a failure, retried after a backoff
    await waitFor("the chunk to be embedded", async () => !(await chunks(t, d.id))[0]!.embed_pending);
    expect((await chunks(t, d.id))[0]).toMatchObject({
      embedding_model: "fake-embed-256",
      embedding_dims: 256,
      embed_error: null,
    });
  });

  test("endpoint down (connection refused): chunks stay queued with the error, and are embedded when it is back", async (ctx) => {
    if (!vector) return ctx.skip();
    await fake.down();
    try {
      const d = await createDoc(t, { title: "Written during the outage", content: "The embeddings endpoint is down." });
      const failed = await waitFor("a failed attempt", async () => {
        const [c] = await chunks(t, d.id);
        return c!.embed_attempts >= 1 ? c : null;
      });
      expect(failed).toMatchObject({ embed_pending: true, embedding_model: null });
      expect(failed!.embed_error).toMatch(/^embeddings request failed/);
      expect(failed!.embed_error).not.toContain(API_KEY);
      // Search keeps working, lexically, while the endpoint is down.
      expect((await search(t, { query: "outage" }))[0]!.id).toBe(d.id);
      await fake.restart();
      await waitFor("the chunk to be embedded", async () => !(await chunks(t, d.id))[0]!.embed_pending, 25_000);
      expect((await chunks(t, d.id))[0]).toMatchObject({ embed_attempts: 0, embed_error: null, embedding_dims: 256 });
    } finally {
      await fake.restart().catch(() => {});
    }
  });

  test("503s and malformed answers are failures too, retried until they succeed", async (ctx) => {
    if (!vector) return ctx.skip();
    fake.mode = "error";
    const d = await createDoc(t, { title: "Overloaded endpoint", content: "Retried, never lost." });
    const c1 = await waitFor("a 503", async () =>
      (await chunks(t, d.id))[0]!.embed_attempts >= 1 ? (await chunks(t, d.id))[0] : null,
    );
    expect(c1!.embed_error).toBe("embeddings endpoint answered 503");
    fake.mode = "garbage";
    const c2 = await waitFor("a garbage answer", async () => {
      const [c] = await chunks(t, d.id);
      return c!.embed_error === "embeddings endpoint answered with invalid JSON" ? c : null;
    });
    expect(c2!.embed_attempts).toBeGreaterThanOrEqual(2);
    fake.mode = "ok";
    await waitFor("the chunk to be embedded", async () => !(await chunks(t, d.id))[0]!.embed_pending, 25_000);
  });

  test("an input the endpoint rejects does not hold back the others, and is kept, not dropped", async (ctx) => {
    if (!vector) return ctx.skip();
    const poison = section("Poison", "poison").replace("\n\n", `\n\n${fake.rejectMarker} `);
    const content = [section("Alpha", "alpha"), poison, section("Gamma", "gamma")].join("\n\n");
    const d = await createDoc(t, { title: "Mixed batch", content });
    const states = await waitFor("the good chunks to be embedded", async () => {
      const cs = await chunks(t, d.id);
      return cs.filter((c) => !c.embed_pending).length === cs.length - 1 ? cs : null;
    });
    expect(states.length).toBeGreaterThanOrEqual(3);
    const poisoned = states.filter((c) => c.embed_pending);
    expect(poisoned).toHaveLength(1);
    await waitFor("a recorded rejection", async () => {
      const c = (await chunks(t, d.id)).find((x) => x.id === poisoned[0]!.id)!;
      return c.embed_attempts >= 1 && c.embed_error === "embeddings endpoint answered 400";
    });
    // Still queued: retried with backoff for as long as the chunk exists.
    expect(
      await count(t.database, "SELECT 1 FROM knowledge_chunks WHERE id = $1 AND embed_pending", [poisoned[0]!.id]),
    ).toBe(1);
    // Deleting the document takes its queued work with it.
    expect((await t.req("DELETE", `/api/knowledge/documents/${d.id}`)).statusCode).toBe(204);
    expect(await count(t.database, "SELECT 1 FROM knowledge_chunks WHERE document_id = $1", [d.id])).toBe(0);
  });

  test("editing one section re-embeds that section only", async (ctx) => {
    if (!vector) return ctx.skip();
    const parts = [section("One", "first"), section("Two", "second"), section("Three", "third")];
    const d = await createDoc(t, { title: "Three sections", content: parts.join("\n\n") });
    await waitFor("all sections embedded", async () => (await chunks(t, d.id)).every((c) => !c.embed_pending));
    const n = (await chunks(t, d.id)).length;
    expect(n).toBeGreaterThanOrEqual(3);
    const before = fake.requests.length;
    parts[1] = section("Two", "rewritten");
    const r = await t.json("PATCH", `/api/knowledge/documents/${d.id}`, { body: { content: parts.join("\n\n") } });
    expect(r.status).toBe(200);
    const after = await chunks(t, d.id);
    expect(after).toHaveLength(n);
    expect(after.filter((c) => c.embed_pending).length).toBeGreaterThanOrEqual(1);
    expect(after.filter((c) => !c.embed_pending).length).toBeGreaterThanOrEqual(2);
    await waitFor("the edited section embedded", async () => (await chunks(t, d.id)).every((c) => !c.embed_pending));
    const sent = fake.requests
      .slice(before)
      .flatMap((q) => q.input)
      .filter((i) => i.startsWith("Three sections"));
    expect(sent.length).toBeGreaterThanOrEqual(1);
    expect(
      sent.every((i) => i.includes("rewritten") && !i.includes("first paragraph") && !i.includes("third paragraph")),
    ).toBe(true);
  });
});

describe("worker lifecycle and model changes (service level)", () => {
  let t: TestContext;
  let vector = false;
  beforeAll(async () => {
    t = await createTestContext(); // the app's own knowledge service has no embeddings here
    vector = await vectorAvailable(t.database);
  });
  afterAll(async () => {
    fake.mode = "ok";
    await t.close();
  });

  const service = (model: string, logger = capture()) =>
    createKnowledgeService({
      database: t.database,
      embeddings: { url: `${fake.url}/v1/embeddings`, model, apiKey: null },
      logger,
      worker: { pollMs: 50, backoffBaseS: 0.2, backoffCapS: 1 },
    });

  test("without embeddings configured, nothing is created or called", async () => {
    expect(knowledgeOf(t).vectorEnabled()).toBe(false);
    expect(
      await count(
        t.database,
        "SELECT 1 FROM information_schema.columns WHERE table_name = 'knowledge_chunks' AND column_name = 'embedding'",
      ),
    ).toBe(0);
  });

  test("changing the model re-embeds every chunk in the background", async (ctx) => {
    if (!vector) return ctx.skip();
    const a = service("fake-a-16");
    await a.start();
    const d = await a.create({ title: "Model change", content: "Embedded twice, once per model." }, SYSTEM);
    await waitFor("model a", async () => (await chunks(t, d.id))[0]!.embedding_model === "fake-a-16");
    expect((await chunks(t, d.id))[0]!.embedding_dims).toBe(16);
    await a.stop();

    const log = capture();
    const b = service("fake-b-32", log);
    await b.start();
    try {
      expect(
        log.lines.some(
          ([level, o, m]) =>
            level === "info" && /re-embedding/.test(m) && (o as { model?: unknown }).model === "fake-b-32",
        ),
      ).toBe(true);
      await waitFor("model b", async () => (await chunks(t, d.id))[0]!.embedding_model === "fake-b-32");
      expect((await chunks(t, d.id))[0]).toMatchObject({ embedding_dims: 32, embed_pending: false });
      // Search embeds the query with the new model and still finds the document.
      const hits = await b.search({ query: "embedded twice", limit: 5 });
      expect(hits[0]!.id).toBe(d.id);
      expect(fake.requests.at(-1)).toMatchObject({ model: "fake-b-32", input: ["embedded twice"] });
    } finally {
      await b.stop();
    }
  });

  test("a failing endpoint is logged once when it starts failing and once when it recovers, not per attempt", async (ctx) => {
    if (!vector) return ctx.skip();
    const log = capture();
    const s = service("fake-d-8", log);
    await s.start();
    try {
      fake.mode = "error";
      const d = await s.create({ title: "Noisy outage", content: "Logged once." }, SYSTEM);
      await waitFor("three failed attempts", async () => (await chunks(t, d.id))[0]!.embed_attempts >= 3);
      fake.mode = "ok";
      await waitFor("the chunk embedded", async () => !(await chunks(t, d.id))[0]!.embed_pending);
      await waitFor("the recovery logged", async () => log.lines.some(([, , m]) => /answering again/.test(m)));
      const relevant = log.lines
        .filter(([level, , m]) => level === "warn" || /answering again/.test(m))
        .map(([level, o, m]) => [level, m, (o as { err?: unknown }).err]);
      expect(relevant).toEqual([
        [
          "warn",
          "knowledge: embeddings request failed; chunks stay queued and are retried",
          "embeddings endpoint answered 503",
        ],
        ["info", "knowledge: embeddings endpoint is answering again", undefined],
      ]);
    } finally {
      fake.mode = "ok";
      await s.stop();
    }
  });

  test("stop() during a hanging request returns promptly and hands the chunk back without counting an attempt", async (ctx) => {
    if (!vector) return ctx.skip();
    const s = service("fake-c-8");
    await s.start();
    fake.mode = "hang";
    const asked = fake.requests.length;
    const d = await s.create({ title: "Stopped mid-request", content: "Handed back on stop." }, SYSTEM);
    await waitFor("the request to reach the endpoint", async () => fake.requests.length > asked);
    const t0 = Date.now();
    await s.stop();
    expect(Date.now() - t0).toBeLessThan(2000);
    const [c] = await chunks(t, d.id);
    expect(c).toMatchObject({ embed_pending: true, embed_attempts: 0 });
    expect(
      await count(t.database, "SELECT 1 FROM knowledge_chunks WHERE id = $1 AND embed_next_at <= now()", [c!.id]),
    ).toBe(1);
    fake.mode = "ok";
  });
});

describe("without pgvector", () => {
  let t: TestContext;
  let vector = true;
  beforeAll(async () => {
    t = await createTestContext(embeddingsEnv());
    vector = await vectorAvailable(t.database);
  });
  afterAll(async () => {
    await t.close();
  });

  test("start-up warns and search falls back to lexical; the endpoint is never called", async (ctx) => {
    if (vector) return ctx.skip();
    const log = capture();
    const s = createKnowledgeService({
      database: t.database,
      embeddings: { url: `${fake.url}/v1/embeddings`, model: "fake-embed-64", apiKey: null },
      logger: log,
    });
    await s.start();
    try {
      expect(log.lines).toEqual([
        [
          "warn",
          { reason: "the pgvector extension is not installed on the database server" },
          "knowledge: embeddings are configured but pgvector is not available; knowledge search is lexical only",
        ],
      ]);
      expect(s.vectorEnabled()).toBe(false);
      const asked = fake.requests.length;
      const d = await s.create({ title: "Lexical only", content: "Found without vectors." }, SYSTEM);
      expect((await s.search({ query: "vectors lexical", limit: 5 }))[0]!.id).toBe(d.id);
      await new Promise((r) => setTimeout(r, 300));
      expect(fake.requests.length).toBe(asked);
      expect((await chunks(t, d.id))[0]!.embed_pending).toBe(true); // kept for the day pgvector is installed
    } finally {
      await s.stop();
    }
  });

  test("the reference's example works through the app configured with an endpoint", async (ctx) => {
    if (vector) return ctx.skip();
    const keyOf = await loadCorpus(t);
    const doc = await createDoc(t, {
      title: "Architecture Decision Record",
      content: "We chose PostgreSQL because...",
      metadata: { type: "adr" },
    });
    const hits = await search(t, { query: "authentication design decisions", limit: 5 });
    expect(keyOf.get(hits[0]!.id)).toBe("auth-adr");
    expect(hits.length).toBeLessThanOrEqual(5);
    expect((await search(t, { query: "chose PostgreSQL", limit: 5 })).map((h) => h.id)).toContain(doc.id);
    expect(knowledgeOf(t).vectorEnabled()).toBe(false);
  });
});
