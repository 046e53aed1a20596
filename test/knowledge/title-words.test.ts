// The title words search scores titles by (knowledge_document_title_words and the knowledge_title_words
// vocabulary): kept with every write of a document, filled for the documents already stored when migration 0016
// runs, and what the title part of a search finds.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { openDatabase } from "../../src/db/client.js";
import { migrationsFolder, runMigrations } from "../../src/db/migrate.js";
import { createTestContext, type TestContext } from "../harness.js";
import { createDoc, search } from "./helpers.js";

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t.close();
});

async function wordsOf(documentId: number): Promise<string[]> {
  const rows = await t.database.query<{ word: string }>(
    "SELECT word FROM knowledge_document_title_words WHERE document_id = $1 ORDER BY word",
    [documentId],
  );
  return rows.map((r) => r.word);
}

async function vocabularyHas(words: string[]): Promise<string[]> {
  const rows = await t.database.query<{ word: string }>(
    "SELECT word FROM knowledge_title_words WHERE word = ANY($1::text[]) ORDER BY word",
    [words],
  );
  return rows.map((r) => r.word);
}

describe("a document's title words", () => {
  // What pg_trgm counts as words: lower-cased runs of letters and digits; everything else separates them.
  const titles: Array<[string, string[]]> = [
    ["Zephyr Quorum", ["quorum", "zephyr"]],
    ["ADR-007: the_cache  (v2)", ["007", "adr", "cache", "the", "v2"]],
    ["'; DROP TABLE knowledge_documents; --", ["documents", "drop", "knowledge", "table"]],
    ["<script>alert(1)</script>", ["1", "alert", "script"]],
    ["Repeat repeat REPEAT", ["repeat"]],
    ["---", []],
  ];
  test.each(titles)("%j is stored as %j", async (title, words) => {
    const doc = await createDoc(t, { title, content: "body text" });
    expect(await wordsOf(doc.id)).toEqual(words);
    expect(await vocabularyHas(words)).toEqual(words);
  });

  test("a new title replaces them; a new content alone keeps them; a delete removes them", async () => {
    const doc = await createDoc(t, { title: "Alpha Beta Gamma", content: "first" });
    expect(await wordsOf(doc.id)).toEqual(["alpha", "beta", "gamma"]);

    let r = await t.json("PATCH", `/api/knowledge/documents/${doc.id}`, { body: { title: "Gamma Delta" } });
    expect(r.status).toBe(200);
    expect(await wordsOf(doc.id)).toEqual(["delta", "gamma"]);

    r = await t.json("PATCH", `/api/knowledge/documents/${doc.id}`, { body: { content: "second" } });
    expect(r.status).toBe(200);
    expect(await wordsOf(doc.id)).toEqual(["delta", "gamma"]);

    r = await t.json("DELETE", `/api/knowledge/documents/${doc.id}`);
    expect(r.status).toBe(204);
    expect(await wordsOf(doc.id)).toEqual([]);
    // The vocabulary is append-only: a word nobody's title has any more matches no document.
    expect(await vocabularyHas(["alpha", "delta"])).toEqual(["alpha", "delta"]);
  });

  test("a title written without spaces is one word, cut to 200 characters", async () => {
    const title = "知识库".repeat(333); // 999 characters, ~3 KB of UTF-8: more than a B-tree entry holds
    const doc = await createDoc(t, { title, content: "x" });
    expect(await wordsOf(doc.id)).toEqual([title.slice(0, 200)]);
    expect((await search(t, { query: "知识库" })).map((h) => h.id)).toContain(doc.id);
  });
});

describe("the title part of search", () => {
  test("a misspelt word finds a title by its word, and stops finding it once the title changes", async () => {
    // "xylograph" is only ever in the title; "xylogrpah" is not a word of the corpus.
    const doc = await createDoc(t, { title: "Xylograph Handbook", content: "How the presses are kept." });
    let hits = await search(t, { query: "xylogrpah" });
    expect(hits.map((h) => h.id)).toContain(doc.id);

    const r = await t.json("PATCH", `/api/knowledge/documents/${doc.id}`, { body: { title: "Press Handbook" } });
    expect(r.status).toBe(200);
    // The old word stays in the typo-correction vocabulary, but neither the chunks nor the title have it now.
    hits = await search(t, { query: "xylogrpah" });
    expect(hits.map((h) => h.id)).not.toContain(doc.id);
  });

  test("a metadata filter applies to title matches too", async () => {
    const inTeam = await createDoc(t, { title: "Quasiturbine Design", content: "x", metadata: { team: "red" } });
    const other = await createDoc(t, { title: "Quasiturbine Design", content: "x", metadata: { team: "blue" } });
    const ids = (await search(t, { query: "quasiturbnie", filter: { metadata: { team: "red" } } })).map((h) => h.id);
    expect(ids).toContain(inTeam.id);
    expect(ids).not.toContain(other.id);
  });
});

describe("migration 0016", () => {
  test("fills the title words of the documents stored before it", async () => {
    // The migrations up to 0015 (a copy of the folder with a shorter journal), documents written as that
    // schema allowed, then the rest.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mc-migrations-"));
    const database = await openDatabase({ databaseUrl: null, dataDir: null, pgliteThread: false });
    try {
      fs.cpSync(migrationsFolder, dir, { recursive: true });
      const journalPath = path.join(dir, "meta/_journal.json");
      const journal = JSON.parse(fs.readFileSync(journalPath, "utf8")) as { entries: Array<{ tag: string }> };
      const at = journal.entries.findIndex((e) => e.tag.startsWith("0016_"));
      expect(at).toBeGreaterThan(0);
      fs.writeFileSync(journalPath, JSON.stringify({ ...journal, entries: journal.entries.slice(0, at) }));
      const { migrate } = await import("drizzle-orm/pglite/migrator");
      await migrate(database.db as never, { migrationsFolder: dir });
      await database.query(
        `INSERT INTO knowledge_documents (document_id, title, content, content_hash)
         VALUES ('old-1', 'Legacy Ledger: Ledger v1', 'c', 'h'), ('old-2', '!!!', 'c', 'h')`,
      );

      await runMigrations(database);
      const rows = await database.query<{ document_id: string; words: string[] | null }>(
        `SELECT d.document_id, array_agg(w.word ORDER BY w.word) FILTER (WHERE w.word IS NOT NULL) AS words
           FROM knowledge_documents d LEFT JOIN knowledge_document_title_words w ON w.document_id = d.id
          GROUP BY d.document_id ORDER BY d.document_id`,
      );
      expect(rows).toEqual([
        { document_id: "old-1", words: ["ledger", "legacy", "v1"] },
        { document_id: "old-2", words: null },
      ]);
      const vocabulary = await database.query<{ word: string }>("SELECT word FROM knowledge_title_words ORDER BY word");
      expect(vocabulary.map((v) => v.word)).toEqual(["ledger", "legacy", "v1"]);
    } finally {
      await database.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
