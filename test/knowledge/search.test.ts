// Search over the fixed corpus, without embeddings (the lexical path every deployment has).
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { sql } from "drizzle-orm";
import { parseQuery, searchSql, TRGM_THRESHOLD } from "../../src/knowledge/knowledge.search.js";
import { createTestContext, type TestContext } from "../harness.js";
import { CORPUS } from "./corpus.js";
import { createDoc, loadCorpus, search } from "./helpers.js";

let t: TestContext;
let keyOf: Map<number, string>;
let idOf: Map<string, number>;
beforeAll(async () => {
  t = await createTestContext();
  keyOf = await loadCorpus(t);
  idOf = new Map([...keyOf].map(([id, key]) => [key, id]));
});
afterAll(async () => {
  await t.close();
});

/** Corpus keys of the results, best first (documents outside the corpus show as their id). */
async function ranked(query: string, extra: Record<string, unknown> = {}) {
  const hits = await search(t, { query, ...extra });
  return hits.map((h) => keyOf.get(h.id) ?? String(h.id));
}

describe("ranking", () => {
  const firsts: Array<[string, string]> = [
    ["authentication design decisions", "auth-adr"],
    ["why did we choose PostgreSQL", "db-adr"],
    ["how do we deploy to Kubernetes", "k8s-runbook"],
    ["login outage", "login-incident"],
    ["caching strategy", "cache-adr"],
    ["role based access control", "authz-adr"],
    ["billing design review", "billing-notes"],
    ["grafana alerts", "observability"],
    ['"signing key"', "login-incident"],
  ];
  test.each(firsts)("natural query %j → %s first", async (query, key) => {
    expect((await ranked(query))[0]).toBe(key);
  });

  test("a document matching only some of the words still ranks", async () => {
    // No document has all three words; both that have some of them are found.
    const r = await ranked("authentication caching redis");
    expect(r).toEqual(expect.arrayContaining(["cache-adr", "auth-adr"]));
  });

  test("words are stemmed: 'decided', 'deploys', 'invoicing' find decision, deployment, invoices", async () => {
    expect(await ranked("deploys")).toContain("k8s-runbook");
    expect(await ranked("invoicing")).toContain("billing-notes");
    expect(await ranked("rotating keys")).toContain("login-incident");
  });

  test("a title match weighs more than a body match", async () => {
    // "observability" is the observability runbook's title and a word in the Kubernetes runbook's body.
    expect(await ranked("observability")).toEqual(["observability", "k8s-runbook"]);
    // "Authentication" is ADR-001's title; the meeting notes and the incident only mention it.
    expect((await ranked("authentication"))[0]).toBe("auth-adr");
  });

  test("more of the query's words beat fewer", async () => {
    // ADR-001 has "Authentication" in its title and "rotating", "sign" and "token" in its body; the incident
    // report has every word of the query, in its body only.
    const r = await ranked("authentication signing key rotated grace period");
    expect(r[0]).toBe("login-incident");
    expect(r).toContain("auth-adr");
  });

  const typos: Array<[string, string]> = [
    ["authentcation desgn decisons", "auth-adr"],
    ["postgrsql", "db-adr"],
    ["kubernets deploymnt", "k8s-runbook"],
    ["obervability", "observability"],
    ["onbaording", "onboarding"],
    ["invalidaton", "cache-adr"],
  ];
  test.each(typos)("typo %j → %s first", async (query, key) => {
    expect((await ranked(query))[0]).toBe(key);
  });

  test("typo correction knows the words of every write, created or updated", async () => {
    const d = await createDoc(t, { title: "Brewing notes", content: "Notes on zymurgy." });
    expect((await search(t, { query: "zymurgi" }))[0]?.id).toBe(d.id);
    await t.json("PATCH", `/api/knowledge/documents/${d.id}`, { body: { content: "Notes on oenology." } });
    expect((await search(t, { query: "oenolgy" }))[0]?.id).toBe(d.id);
    // The old word's correction now matches nothing: the document no longer contains it.
    expect(await search(t, { query: "zymurgi" })).toEqual([]);
  });

  const partials: Array<[string, string]> = [
    ["authent", "auth-adr"],
    ["postgr", "db-adr"],
    ["kube", "k8s-runbook"],
    ["observ", "observability"],
    ["promethe", "observability"],
  ];
  test.each(partials)("partial word %j → %s first", async (query, key) => {
    expect((await ranked(query))[0]).toBe(key);
  });

  test("-word leaves out documents containing it", async () => {
    const r = await ranked("authentication -oauth");
    expect(r).not.toContain("auth-adr");
    expect(r).toEqual(expect.arrayContaining(["login-incident", "meeting"]));
    expect(await ranked('authentication -"signing key"')).not.toContain("login-incident");
  });

  test("nothing matching → empty list; stop words alone match nothing", async () => {
    expect(await search(t, { query: "zebra giraffe" })).toEqual([]);
    expect(await search(t, { query: "the and of" })).toEqual([]);
  });

  test("scores are best first", async () => {
    const hits = await search(t, { query: "authentication design decisions", limit: 50 });
    expect(hits.length).toBeGreaterThan(2);
    const scores = hits.map((h) => h.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    expect(scores.every((s) => s > 0)).toBe(true);
  });
});

describe("filter.metadata", () => {
  test("restricts results to exact metadata values", async () => {
    expect(await ranked("authentication", { filter: { metadata: { type: "incident" } } })).toEqual(["login-incident"]);
    const adr = await search(t, {
      query: "decisions",
      filter: { metadata: { type: "adr", team: "platform" } },
      limit: 50,
    });
    expect(adr.length).toBeGreaterThan(0);
    for (const h of adr) expect(h.metadata).toMatchObject({ type: "adr", team: "platform" });
    expect(adr.map((h) => keyOf.get(h.id))[0]).toBe("auth-adr");
  });

  test("applies to typo and partial matches too", async () => {
    expect(await ranked("authentcation", { filter: { metadata: { type: "notes" } } })).toEqual(["meeting"]);
    expect(await ranked("authent", { filter: { metadata: { status: "accepted" } } })).toEqual(
      expect.not.arrayContaining(["meeting", "login-incident"]),
    );
  });

  test("values compare exactly: types and whole arrays", async () => {
    const a = await createDoc(t, { title: "Tagged narwhal", content: "narwhal", metadata: { tags: ["x", "y"], n: 1 } });
    const b = await createDoc(t, { title: "Other narwhal", content: "narwhal", metadata: { tags: ["x"], n: "1" } });
    const ids = async (metadata: Record<string, unknown>) =>
      (await search(t, { query: "narwhal", filter: { metadata } })).map((h) => h.id).sort();
    expect(await ids({})).toEqual([a.id, b.id].sort());
    expect(await ids({ n: 1 })).toEqual([a.id]);
    expect(await ids({ n: "1" })).toEqual([b.id]);
    expect(await ids({ tags: ["x"] })).toEqual([b.id]);
    expect(await ids({ tags: ["x", "y"] })).toEqual([a.id]);
    expect(await ids({ missing: null })).toEqual([]);
    expect(await ids({ n: 1, tags: ["x"] })).toEqual([]);
  });
});

describe("snippets", () => {
  test("the matched words are marked", async () => {
    const [hit] = await search(t, { query: "PostgreSQL transactions" });
    expect(hit!.id).toBe(idOf.get("db-adr"));
    expect(hit!.snippet).toContain("<mark>PostgreSQL</mark>");
    expect(hit!.snippet).toContain("<mark>transactions</mark>");
    expect(hit!.title).toBe("ADR-002: Database choice");
    expect(hit!.metadata).toEqual({ type: "adr", team: "platform", status: "accepted" });
    expect(Object.keys(hit!).sort()).toEqual(["document_id", "id", "metadata", "score", "snippet", "title"]);
  });

  test("a misspelt word marks the word it found", async () => {
    const [hit] = await search(t, { query: "helm rollbak" });
    expect(hit!.id).toBe(idOf.get("k8s-runbook"));
    expect(hit!.snippet, hit!.snippet).toContain("<mark>rollback</mark>");
  });

  test("is one line of HTML-escaped text: the document's own markup cannot inject anything", async () => {
    await createDoc(t, {
      title: "Template gotchas",
      content: 'Never render <script>alert("x")</script> & friends\n\nin quokkatemplates.',
    });
    const [hit] = await search(t, { query: "quokkatemplates" });
    expect(hit!.snippet).toContain("&lt;script&gt;");
    expect(hit!.snippet).toContain("&amp;");
    expect(hit!.snippet).not.toContain("<script>");
    expect(hit!.snippet).not.toContain("\n");
    expect(hit!.snippet.replace(/<\/?mark>/g, "")).not.toMatch(/[<>]/);
  });

  test("a long document's snippet is the passage that matched, deep inside it", async () => {
    const filler = (n: number) =>
      Array.from(
        { length: n },
        (_, i) => `## Part ${i}\n\n${"Routine operational prose about schedules and rotas. ".repeat(20)}`,
      ).join("\n\n");
    const passage =
      "## Recovery\n\nTo recover a corrupted ledger, replay the write-ahead journal from the last checkpoint.";
    const d = await createDoc(t, {
      title: "Operations handbook",
      content: `${filler(15)}\n\n${passage}\n\n${filler(15)}`,
    });
    const [hit] = await search(t, { query: "corrupted ledger journal" });
    expect(hit!.id).toBe(d.id);
    expect(hit!.snippet).toContain("<mark>ledger</mark>");
    expect(hit!.snippet).toContain("<mark>journal</mark>");
    expect(hit!.snippet).not.toContain("Routine operational prose");
  });
});

describe("candidate tiers", () => {
  // The tiers only matter once a corpus is large; a smaller candidate count shows them at work here.
  async function run(query: string, candidates: number) {
    const rows = await t.database.db.transaction(async (tx) => {
      await tx.execute(sql`SELECT set_config('pg_trgm.word_similarity_threshold', ${String(TRGM_THRESHOLD)}, true)`);
      const res = await tx.execute(
        searchSql({ query: parseQuery(query), limit: 50, filter: {}, vector: null, candidates }),
      );
      return (res as unknown as { rows: Array<{ id: number }> }).rows;
    });
    return rows.map((r) => Number(r.id));
  }

  test("all the words first; fewer words only while there are not enough candidates", async () => {
    const all = [];
    for (let i = 0; i < 3; i++)
      all.push((await createDoc(t, { title: `Sky log ${i}`, content: "quasar nebula pulsar" })).id);
    const most = (await createDoc(t, { title: "Sky log 3", content: "quasar nebula" })).id;
    const one = (await createDoc(t, { title: "Sky log 4", content: "quasar" })).id;
    const q = "quasar nebula pulsar";
    expect((await run(q, 100)).slice(0, 3).sort()).toEqual([...all].sort());
    expect((await run(q, 100)).slice(3)).toEqual([most, one]);
    expect((await run(q, 4)).sort()).toEqual([...all, most].sort());
    expect((await run(q, 3)).sort()).toEqual([...all].sort());
  });
});

describe("limit", () => {
  test("default 10, at most limit, up to 50", async () => {
    for (let i = 0; i < 12; i++) await createDoc(t, { title: `Zeppelin log ${i}`, content: `zeppelin flight ${i}` });
    expect(await search(t, { query: "zeppelin" })).toHaveLength(10);
    expect(await search(t, { query: "zeppelin", limit: 3 })).toHaveLength(3);
    expect(await search(t, { query: "zeppelin", limit: 1 })).toHaveLength(1);
    expect(await search(t, { query: "zeppelin", limit: 50 })).toHaveLength(12);
  });
});

describe("bad requests", () => {
  const bad: Array<[string, unknown, Record<string, string[]>]> = [
    ["missing query", { limit: 5 }, { query: ["is required"] }],
    ["empty query", { query: "" }, { query: ["must NOT have fewer than 1 characters"] }],
    ["blank query", { query: "   \n " }, { query: ["must not be blank"] }],
    ["query too long", { query: "q".repeat(1001) }, { query: ["must NOT have more than 1000 characters"] }],
    ["query not a string", { query: ["a"] }, { query: ["must be string"] }],
    ["limit 0", { query: "q", limit: 0 }, { limit: ["must be >= 1"] }],
    ["limit 51", { query: "q", limit: 51 }, { limit: ["must be <= 50"] }],
    ["limit not an integer", { query: "q", limit: 2.5 }, { limit: ["must be integer"] }],
    ["limit a string", { query: "q", limit: "5" }, { limit: ["must be integer"] }],
    ["unknown field", { query: "q", top_k: 3 }, { top_k: ["is not a known field"] }],
    ["filter not an object", { query: "q", filter: "adr" }, { filter: ["must be object"] }],
    ["unknown filter", { query: "q", filter: { tags: ["a"] } }, { "filter.tags": ["is not a known field"] }],
    [
      "filter.metadata not an object",
      { query: "q", filter: { metadata: [1] } },
      { "filter.metadata": ["must be object"] },
    ],
    ["NUL in query", { query: "a\u0000b" }, { query: ["must not contain NUL or unpaired surrogate characters"] }],
  ];
  test.each(bad)("%s → 422", async (_name, body, errors) => {
    const r = await t.json("POST", "/api/knowledge/search", { body });
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors });
  });

  test("any text typed into the box is answered 200, never a 5xx", async () => {
    const special = fc.constantFrom(
      "&",
      "|",
      "!",
      ":*",
      "(",
      ")",
      "<->",
      "'",
      "\\",
      '"',
      "-",
      "or",
      "OR",
      "%",
      "_",
      "*",
      "😀",
      "é",
    );
    const word = fc.oneof(
      fc.string({ minLength: 1, maxLength: 10 }),
      special,
      fc.constantFrom("authentication", "postgr"),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(word, { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 50 }),
        async (words, limit) => {
          const query = words.join(fc.sample(fc.constantFrom(" ", "", "-", '"'), 1)[0]!);
          // Blank, too long or unstorable queries are 422s, tested above.
          // eslint-disable-next-line no-control-regex
          if (query.trim() === "" || query.length > 1000 || /\u0000|[\ud800-\udfff]/.test(query)) return;
          const r = await t.json("POST", "/api/knowledge/search", { body: { query, limit } });
          expect(r.status, query).toBe(200);
          expect(r.body.data.length).toBeLessThanOrEqual(limit);
        },
      ),
      { numRuns: 150 },
    );
  });
});

test("the reference's example: store a decision record, then search as in the contract", async () => {
  const doc = await createDoc(t, {
    title: "Architecture Decision Record",
    content: "We chose PostgreSQL because...",
    metadata: { type: "adr" },
  });
  const r = await t.json("POST", "/api/knowledge/search", {
    body: { query: "authentication design decisions", limit: 5 },
  });
  expect(r.status).toBe(200);
  expect(Object.keys(r.body)).toEqual(["data"]);
  expect(r.body.data.length).toBeGreaterThan(0);
  expect(r.body.data.length).toBeLessThanOrEqual(5);
  expect(keyOf.get(r.body.data[0].id)).toBe("auth-adr");
  const adr = await search(t, { query: "architecture decision", limit: 5, filter: { metadata: { type: "adr" } } });
  expect(adr[0]!.id).toBe(doc.id);
  expect(adr[0]!.snippet).toBe("We chose PostgreSQL because...");
  expect(CORPUS.length).toBeGreaterThan(5);
});
