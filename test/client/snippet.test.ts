// The knowledge snippet read once for the CLI and the console (src/client/snippet.ts): HTML with escaped text
// and <mark> around matches in, text runs out. Against a real server too: a hostile document's passage comes
// back as its own characters, never as markup.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { snippetParts, snippetText } from "../../src/client/index.js";
import { createTestContext, type TestContext } from "../harness.js";

describe("snippetParts", () => {
  test.each([
    ["", []],
    ["plain words", [{ text: "plain words", match: false }]],
    [
      "the <mark>release</mark> checklist",
      [
        { text: "the ", match: false },
        { text: "release", match: true },
        { text: " checklist", match: false },
      ],
    ],
    [
      "<mark>a</mark><mark>b</mark> c",
      [
        { text: "ab", match: true },
        { text: " c", match: false },
      ],
    ],
    ["a &lt;b&gt; &amp; c", [{ text: "a <b> & c", match: false }]],
    // An escaped entity stays one level escaped: the document's own text was "&lt;".
    ["&amp;lt;", [{ text: "&lt;", match: false }]],
    // The document's own text "<mark>" arrives escaped, so it is text, not a match.
    ["&lt;mark&gt;x&lt;/mark&gt;", [{ text: "<mark>x</mark>", match: false }]],
    ["&quot; &#39; &nbsp;", [{ text: "&quot; &#39; &nbsp;", match: false }]],
    [
      "cut <mark>short",
      [
        { text: "cut ", match: false },
        { text: "short", match: true },
      ],
    ],
    ["stray </mark>end", [{ text: "stray end", match: false }]],
  ])("%j", (html, parts) => {
    expect(snippetParts(html)).toEqual(parts);
    expect(snippetText(html)).toBe(parts.map((p) => p.text).join(""));
  });
});

describe("a real search's snippet", () => {
  let t: TestContext;
  beforeAll(async () => {
    t = await createTestContext();
  });
  afterAll(() => t.close());

  test("a hostile passage reads back as its own text, the query's words marked", async () => {
    const content = `Rotate the <img src=x onerror=alert(1)> token & "restart" the gateway; see <mark>notes</mark> & more.`;
    const doc = await t.json("POST", "/api/knowledge/documents", { body: { title: "Gateway runbook", content } });
    expect(doc.status).toBe(201);
    const s = await t.json("POST", "/api/knowledge/search", { body: { query: "rotate gateway token" } });
    expect(s.status).toBe(200);
    const hit = s.body.data.find((h: { id: number }) => h.id === doc.body.data.id);
    expect(hit.snippet).not.toContain("<img");
    // ts_headline picks the passage (here it stops after the last matched word).
    const text = snippetText(hit.snippet);
    expect(content.startsWith(text)).toBe(true);
    expect(text).toContain(`<img src=x onerror=alert(1)> token & "restart" the gateway`);
    const marked = snippetParts(hit.snippet)
      .filter((p) => p.match)
      .map((p) => p.text.toLowerCase());
    expect(marked).toEqual(["rotate", "token", "gateway"]);
  });
});
