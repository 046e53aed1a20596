import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, type TestContext } from "../harness.js";
import { count, createDoc, search, sha256, traceEvents } from "./helpers.js";

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t.close();
});

const UNSTORABLE = "must not contain NUL or unpaired surrogate characters";
const docCount = () => count(t.database, "SELECT 1 FROM knowledge_documents");
const chunksOf = (id: number) => count(t.database, "SELECT 1 FROM knowledge_chunks WHERE document_id = $1", [id]);

describe("create", () => {
  test("the reference's example: 201, Location, envelope, chunk, trace entry with a content hash", async () => {
    const body = {
      title: "Architecture Decision Record",
      content: "We chose PostgreSQL because...",
      metadata: { type: "adr" },
    };
    const r = await t.json("POST", "/api/knowledge/documents", { body });
    expect(r.status).toBe(201);
    const d = r.body.data;
    expect(r.headers.location).toBe(`/api/knowledge/documents/${d.id}`);
    expect(Object.keys(d).sort()).toEqual([
      "content",
      "document_id",
      "id",
      "inserted_at",
      "metadata",
      "title",
      "updated_at",
    ]);
    expect(d).toMatchObject(body);
    expect(Number.isInteger(d.id)).toBe(true);
    expect(d.document_id).toMatch(/^doc-[a-z2-7]{10}$/);
    expect(d.inserted_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(await chunksOf(d.id)).toBe(1);

    const entry = (await traceEvents(t, "knowledge.document_created")).find((e) => e.data.document_id === d.id)!;
    expect(entry.actor).toBe("admin:test-admin");
    expect(entry.data).toEqual({
      document_id: d.id,
      key: d.document_id,
      title: body.title,
      metadata: { type: "adr" },
      content_hash: sha256(body.content),
      content_bytes: body.content.length,
      chunks: 1,
    });

    const got = await t.json("GET", `/api/knowledge/documents/${d.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual({ data: d });
  });

  test("wrapped body; metadata defaults to {}; members may create", async () => {
    const r = await t.json("POST", "/api/knowledge/documents", {
      token: t.member,
      body: { document: { title: "Wrapped", content: "Body text" } },
    });
    expect(r.status).toBe(201);
    expect(r.body.data).toMatchObject({ title: "Wrapped", content: "Body text", metadata: {} });
  });

  test("content of exactly 1 MiB is accepted and split into chunks", async () => {
    const para = "Deployment notes for the release train, one paragraph at a time. ".repeat(15).trim();
    let content = "";
    while (content.length < 1024 * 1024) content += `${para}\n\n`;
    content = content.slice(0, 1024 * 1024);
    const d = await createDoc(t, { title: "Huge", content });
    expect(d.content.length).toBe(1024 * 1024);
    expect(await chunksOf(d.id)).toBeGreaterThan(500);
  });

  const big = "é".repeat(512 * 1024 + 1); // 524,289 characters, 1,048,578 bytes
  const bad: Array<[string, unknown, Record<string, string[]>]> = [
    ["missing title", { content: "c" }, { title: ["is required"] }],
    ["missing content", { title: "t" }, { content: ["is required"] }],
    ["empty title", { title: "", content: "c" }, { title: ["must NOT have fewer than 1 characters"] }],
    ["empty content", { title: "t", content: "" }, { content: ["must NOT have fewer than 1 characters"] }],
    [
      "title too long",
      { title: "t".repeat(1001), content: "c" },
      { title: ["must NOT have more than 1000 characters"] },
    ],
    ["content not a string", { title: "t", content: 5 }, { content: ["must be string"] }],
    ["metadata an array", { title: "t", content: "c", metadata: [1] }, { metadata: ["must be object"] }],
    ["unknown field", { title: "t", content: "c", tags: ["x"] }, { tags: ["is not a known field"] }],
    ["id given", { title: "t", content: "c", id: 5 }, { id: ["is not a known field"] }],
    ["unknown field inside wrapper", { document: { title: "t", content: "c", x: 1 } }, { x: ["is not a known field"] }],
    ["body an array", [1], { body: ["must be object"] }],
    [
      "content over 1 MiB of UTF-8",
      { title: "t", content: big },
      { content: ["must be at most 1048576 bytes (UTF-8)"] },
    ],
    // PostgreSQL cannot store these: refused as the caller's error, never a 500.
    ["NUL in content", { title: "t", content: "a\u0000b" }, { content: [UNSTORABLE] }],
    ["NUL in title", { title: "\u0000", content: "c" }, { title: [UNSTORABLE] }],
    ["unpaired surrogate in content", { title: "t", content: "a\ud800b" }, { content: [UNSTORABLE] }],
    [
      "NUL in a metadata value",
      { title: "t", content: "c", metadata: { a: { b: ["ok", "x\u0000"] } } },
      { "metadata.a.b.1": [UNSTORABLE] },
    ],
    [
      "unpaired surrogate in a metadata value",
      { title: "t", content: "c", metadata: { a: "\udc00" } },
      { "metadata.a": [UNSTORABLE] },
    ],
    [
      "NUL in a metadata key",
      { title: "t", content: "c", metadata: { "k\u0000": 1 } },
      { "metadata.k\u0000": ["is not an allowed key"] },
    ],
    [
      "__proto__ in metadata",
      JSON.parse('{"title":"t","content":"c","metadata":{"__proto__":{"x":1}}}'),
      { "metadata.__proto__": ["is not an allowed key"] },
    ],
  ];
  test.each(bad)("%s → 422 and nothing stored", async (_name, body, errors) => {
    const before = await docCount();
    const r = await t.json("POST", "/api/knowledge/documents", { body });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
    expect(await docCount()).toBe(before);
  });

  test("malformed JSON → 400; wrong content type → 415; a body beyond 8 MiB → 413", async () => {
    const j = await t.json("POST", "/api/knowledge/documents", { payload: '{"title": ' });
    expect(j.status).toBe(400);
    expect(j.body).toEqual({ errors: { detail: "Malformed JSON in request body" } });
    const ct = await t.json("POST", "/api/knowledge/documents", {
      payload: "x",
      headers: { "content-type": "text/plain" },
    });
    expect(ct.status).toBe(415);
    const huge = await t.json("POST", "/api/knowledge/documents", {
      body: { title: "t", content: "x".repeat(8 * 1024 * 1024) },
    });
    expect(huge.status).toBe(413);
    expect(huge.body).toEqual({ errors: { detail: "Request body is larger than the server accepts" } });
  });
});

describe("get and list", () => {
  test.each(["999999", "abc", "0", "-1", "1.5", "99999999999999999999"])("GET unknown %s → 404", async (id) => {
    const r = await t.json("GET", `/api/knowledge/documents/${encodeURIComponent(id)}`);
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ errors: { detail: "Not Found" } });
  });

  test("pagination walks every document once, oldest first", async () => {
    for (let i = 0; i < 5; i++) await createDoc(t, { title: `page ${i}`, content: "x" });
    const all = (await t.json("GET", "/api/knowledge/documents", { query: { limit: "500" } })).body.data;
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const query: Record<string, string> = { limit: "2" };
      if (cursor) query.cursor = cursor;
      const r = await t.json("GET", "/api/knowledge/documents", { query });
      expect(r.status).toBe(200);
      seen.push(...r.body.data.map((d: any) => d.id));
      cursor = r.body.meta.next_cursor;
    } while (cursor);
    expect(seen).toEqual(all.map((d: any) => d.id));
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
  });

  test("metadata filters: JSON (exact values) and metadata[key]=value (as text)", async () => {
    const a = await createDoc(t, {
      title: "f-a",
      content: "x",
      metadata: { kind: "flt", priority: 1, tags: ["a", "b"] },
    });
    const b = await createDoc(t, { title: "f-b", content: "x", metadata: { kind: "flt", priority: "1", tags: ["a"] } });
    const c = await createDoc(t, { title: "f-c", content: "x", metadata: { kind: "other", priority: 2 } });
    const ids = async (query: Record<string, string>) => {
      const r = await t.json("GET", "/api/knowledge/documents", { query: { limit: "500", ...query } });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return r.body.data.map((d: any) => d.id);
    };
    expect(await ids({ metadata: '{"kind":"flt"}' })).toEqual([a.id, b.id]);
    expect(await ids({ metadata: '{"kind":"flt","priority":1}' })).toEqual([a.id]);
    expect(await ids({ metadata: '{"priority":"1"}' })).toEqual([b.id]);
    // Exact, not containment: ["a"] is not ["a","b"].
    expect(await ids({ metadata: '{"tags":["a"]}' })).toEqual([b.id]);
    expect(await ids({ "metadata[kind]": "flt" })).toEqual([a.id, b.id]);
    expect(await ids({ "metadata[priority]": "1" })).toEqual([a.id, b.id]);
    expect(await ids({ "metadata[kind]": "other", "metadata[priority]": "2" })).toEqual([c.id]);
    expect(await ids({ "metadata[kind]": "nothing-has-this" })).toEqual([]);
  });

  const badQueries: Array<[string, Record<string, string[]>]> = [
    ["limit=0", { limit: ["must be >= 1"] }],
    ["limit=x", { limit: ["must be integer"] }],
    ["cursor=garbage", { cursor: ["is not a valid cursor"] }],
    ["metadata=not-json", { metadata: ['must be a JSON object, e.g. {"type":"adr"}'] }],
    ["metadata=%5B1%5D", { metadata: ['must be a JSON object, e.g. {"type":"adr"}'] }],
    ["metadata=null", { metadata: ['must be a JSON object, e.g. {"type":"adr"}'] }],
    ["metadata[kind]=a&metadata[kind]=b", { "metadata[kind]": ["must be given once"] }],
    ["metadata=%7B%22k%22%3A%22%5Cu0000%22%7D", { "metadata.k": [UNSTORABLE] }],
    ["metadata=%7B%22k%22%3A%22%5Cud800%22%7D", { "metadata.k": [UNSTORABLE] }],
    ["metadata=%7B%22%5Cu0000%22%3A1%7D", { "metadata.\u0000": [UNSTORABLE] }],
    ["metadata[k]=%00", { "metadata[k]": [UNSTORABLE] }],
  ];
  test.each(badQueries)("GET ?%s → 422", async (qs, errors) => {
    const r = await t.json("GET", `/api/knowledge/documents?${qs}`);
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
  });
});

describe("update", () => {
  test("changes only the named fields, re-indexes new content, traces the change without the content", async () => {
    const d = await createDoc(t, {
      title: "Queue design",
      content: "We use a Kafka topic per tenant.",
      metadata: { v: 1 },
    });
    expect((await search(t, { query: "kafka" })).map((h) => h.id)).toContain(d.id);
    const content = "We moved to a RabbitMQ exchange per tenant.";
    const r = await t.json("PATCH", `/api/knowledge/documents/${d.id}`, { body: { document: { content } } });
    expect(r.status).toBe(200);
    expect(r.body.data).toMatchObject({ id: d.id, title: "Queue design", content, metadata: { v: 1 } });
    expect(new Date(r.body.data.updated_at).getTime()).toBeGreaterThanOrEqual(
      new Date(r.body.data.inserted_at).getTime(),
    );
    expect((await search(t, { query: "kafka" })).map((h) => h.id)).not.toContain(d.id);
    expect((await search(t, { query: "rabbitmq" })).map((h) => h.id)).toContain(d.id);
    const entry = (await traceEvents(t, "knowledge.document_updated")).find((e) => e.data.document_id === d.id)!;
    expect(entry.data).toEqual({
      document_id: d.id,
      changes: { content_hash: sha256(content), content_bytes: content.length, chunks: 1 },
    });
  });

  test("a new title is searchable and the old one is not; metadata is replaced whole", async () => {
    const d = await createDoc(t, {
      title: "Xylophone procurement",
      content: "Buying instruments.",
      metadata: { a: 1, b: 2 },
    });
    const r = await t.json("PATCH", `/api/knowledge/documents/${d.id}`, {
      body: { title: "Marimba procurement", metadata: { c: 3 } },
    });
    expect(r.status).toBe(200);
    expect(r.body.data.metadata).toEqual({ c: 3 });
    expect((await search(t, { query: "xylophone" })).map((h) => h.id)).not.toContain(d.id);
    expect((await search(t, { query: "marimba" }))[0]?.id).toBe(d.id);
    const entry = (await traceEvents(t, "knowledge.document_updated")).find((e) => e.data.document_id === d.id)!;
    expect(entry.data.changes).toEqual({ title: "Marimba procurement", metadata: { c: 3 }, chunks: 1 });
  });

  test("naming the current values is a no-op: no trace entry, updated_at unchanged", async () => {
    const d = await createDoc(t, { title: "Same", content: "Same content", metadata: { x: 1, y: [1, 2] } });
    const before = (await traceEvents(t, "knowledge.document_updated")).length;
    const r = await t.json("PATCH", `/api/knowledge/documents/${d.id}`, {
      body: { title: "Same", content: "Same content", metadata: { y: [1, 2], x: 1 } },
    });
    expect(r.status).toBe(200);
    expect(r.body.data.updated_at).toBe((d as typeof d & { updated_at: string }).updated_at);
    expect((await traceEvents(t, "knowledge.document_updated")).length).toBe(before);
  });

  const bad: Array<[string, unknown, Record<string, string[]>]> = [
    ["empty title", { title: "" }, { title: ["must NOT have fewer than 1 characters"] }],
    ["null content", { content: null }, { content: ["must be string"] }],
    ["unknown field", { inserted_at: "2020-01-01T00:00:00Z" }, { inserted_at: ["is not a known field"] }],
    [
      "content over 1 MiB",
      { content: "é".repeat(512 * 1024 + 1) },
      { content: ["must be at most 1048576 bytes (UTF-8)"] },
    ],
    ["NUL in title", { title: "a\u0000" }, { title: [UNSTORABLE] }],
  ];
  test.each(bad)("%s → 422 and nothing changes", async (_name, body, errors) => {
    const d = await createDoc(t, { title: "Stable", content: "Stable content" });
    const r = await t.json("PATCH", `/api/knowledge/documents/${d.id}`, { body });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
    expect((await t.json("GET", `/api/knowledge/documents/${d.id}`)).body.data).toEqual(d);
  });

  test("unknown document → 404", async () => {
    const r = await t.json("PATCH", "/api/knowledge/documents/999999", { body: { title: "x" } });
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ errors: { detail: "Not Found" } });
  });
});

describe("delete", () => {
  test("204; gone from reads, lists and search; chunks gone; traced; a second delete is 404", async () => {
    const d = await createDoc(t, { title: "Ephemeral quokka", content: "Temporary note about quokkas." });
    const r = await t.req("DELETE", `/api/knowledge/documents/${d.id}`);
    expect(r.statusCode).toBe(204);
    expect(r.body).toBe("");
    expect((await t.json("GET", `/api/knowledge/documents/${d.id}`)).status).toBe(404);
    expect(await chunksOf(d.id)).toBe(0);
    expect(await search(t, { query: "quokka" })).toEqual([]);
    const entry = (await traceEvents(t, "knowledge.document_deleted")).find((e) => e.data.document_id === d.id)!;
    expect(entry.data).toEqual({ document_id: d.id, title: "Ephemeral quokka", content_hash: sha256(d.content) });
    const again = await t.json("DELETE", `/api/knowledge/documents/${d.id}`);
    expect(again.status).toBe(404);
    expect(again.body).toEqual({ errors: { detail: "Not Found" } });
  });
});

describe("auth", () => {
  const routes: Array<[string, string, unknown?]> = [
    ["POST", "/api/knowledge/documents", { title: "t", content: "c" }],
    ["GET", "/api/knowledge/documents"],
    ["GET", "/api/knowledge/documents/1"],
    ["PATCH", "/api/knowledge/documents/1", { title: "t" }],
    ["DELETE", "/api/knowledge/documents/1"],
    ["POST", "/api/knowledge/search", { query: "q" }],
  ];

  test.each(routes)("%s %s without a token → 401", async (method, url, body) => {
    const r = await t.json(method, url, { token: null, body });
    expect(r.status).toBe(401);
    expect(r.headers["www-authenticate"]).toBe("Bearer");
    expect(r.body).toEqual({ errors: { detail: "Unauthorized" } });
  });

  test.each(routes)("%s %s with an unknown token → 401", async (method, url, body) => {
    expect((await t.json(method, url, { token: "mc_nope", body })).status).toBe(401);
  });

  test("an agent token may search and read documents, and nothing else", async () => {
    const agent = await t.agentToken("kb-agent");
    const d = await createDoc(t, { title: "Agent readable", content: "Pangolin handling guide." });
    const s = await t.json("POST", "/api/knowledge/search", { token: agent, body: { query: "pangolin" } });
    expect(s.status).toBe(200);
    expect(s.body.data[0].id).toBe(d.id);
    const g = await t.json("GET", `/api/knowledge/documents/${d.id}`, { token: agent });
    expect(g.status).toBe(200);
    expect(g.body.data.content).toBe("Pangolin handling guide.");

    const before = await docCount();
    const denied: Array<[string, string, unknown?]> = [
      ["POST", "/api/knowledge/documents", { title: "t", content: "c" }],
      ["GET", "/api/knowledge/documents"],
      ["PATCH", `/api/knowledge/documents/${d.id}`, { title: "hijacked" }],
      ["DELETE", `/api/knowledge/documents/${d.id}`],
    ];
    for (const [method, url, body] of denied) {
      const r = await t.json(method, url, { token: agent, body });
      expect(r.status, `${method} ${url}`).toBe(403);
      expect(r.body).toEqual({ errors: { detail: "Forbidden" } });
    }
    expect(await docCount()).toBe(before);
    expect((await t.json("GET", `/api/knowledge/documents/${d.id}`)).body.data.title).toBe("Agent readable");
  });

  test("members may update and delete", async () => {
    const d = await createDoc(t, { title: "Member doc", content: "c" });
    expect(
      (await t.json("PATCH", `/api/knowledge/documents/${d.id}`, { token: t.member, body: { title: "M2" } })).status,
    ).toBe(200);
    expect((await t.json("DELETE", `/api/knowledge/documents/${d.id}`, { token: t.member })).status).toBe(204);
  });
});

test("the routes are in the OpenAPI description", async () => {
  const doc = await t.json("GET", "/openapi.json", { token: null });
  expect(Object.keys(doc.body.paths)).toEqual(
    expect.arrayContaining(["/api/knowledge/documents", "/api/knowledge/documents/{id}", "/api/knowledge/search"]),
  );
  expect(doc.body.paths["/api/knowledge/search"].post.summary).toBe("Search knowledge");
});

describe("document keys (document_id)", () => {
  test("given on create or generated; every path takes it as well as the integer id; search hits name it", async () => {
    const r = await t.json("POST", "/api/knowledge/documents", {
      body: { document_id: "adr-007", title: "Pangolin decision", content: "We pick pangolins." },
    });
    expect(r.status).toBe(201);
    expect(r.body.data).toMatchObject({ document_id: "adr-007", title: "Pangolin decision" });
    const byKey = await t.json("GET", "/api/knowledge/documents/adr-007");
    expect(byKey.body).toEqual({ data: r.body.data });
    expect((await t.json("GET", `/api/knowledge/documents/${r.body.data.id}`)).body).toEqual({ data: r.body.data });
    const patched = await t.json("PATCH", "/api/knowledge/documents/adr-007", {
      body: { document_id: "adr-007", title: "Pangolin decision, revised" },
    });
    expect(patched.status).toBe(200);
    const hit = (await search(t, { query: "pangolin" }))[0]!;
    expect([hit.document_id, hit.id]).toEqual(["adr-007", r.body.data.id]);
    expect((await t.json("DELETE", "/api/knowledge/documents/adr-007")).status).toBe(204);
    expect((await t.json("GET", "/api/knowledge/documents/adr-007")).status).toBe(404);
  });

  const bad: Array<[string, Record<string, unknown>, Record<string, string[]>]> = [
    ["all digits", { document_id: "42" }, { document_id: ["has an invalid format"] }],
    ["a slash", { document_id: "a/b" }, { document_id: ["has an invalid format"] }],
    ["empty", { document_id: "" }, { document_id: ["has an invalid format"] }],
    ["not a string", { document_id: 7 }, { document_id: ["must be string"] }],
  ];
  test.each(bad)("create with a key that is %s → 422, nothing created", async (_name, extra, errors) => {
    const before = await count(t.database, "SELECT 1 FROM knowledge_documents");
    const r = await t.json("POST", "/api/knowledge/documents", { body: { title: "t", content: "c", ...extra } });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
    expect(await count(t.database, "SELECT 1 FROM knowledge_documents")).toBe(before);
  });

  test("a taken key → 422; a key cannot be changed (422), naming the current one is fine", async () => {
    expect(
      (await t.json("POST", "/api/knowledge/documents", { body: { document_id: "dup-doc", title: "t", content: "c" } }))
        .status,
    ).toBe(201);
    const dup = await t.json("POST", "/api/knowledge/documents", {
      body: { document_id: "dup-doc", title: "t2", content: "c2" },
    });
    expect(dup.status).toBe(422);
    expect(dup.body).toEqual({ errors: { document_id: ["has already been taken"] } });
    const change = await t.json("PATCH", "/api/knowledge/documents/dup-doc", { body: { document_id: "other" } });
    expect(change.status).toBe(422);
    expect(change.body).toEqual({ errors: { document_id: ["cannot be changed"] } });
    expect((await t.json("GET", "/api/knowledge/documents/dup-doc")).body.data.title).toBe("t");
  });
});
