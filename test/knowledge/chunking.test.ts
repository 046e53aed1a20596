import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { CHUNK_DEFAULTS, chunkContent, chunkRanges } from "../../src/knowledge/knowledge.chunking.js";

const { target, overlap } = CHUNK_DEFAULTS;

const sentence = (i: number) => `Sentence number ${i} talks about topic ${i % 7} and keeps going for a while.`;
const paragraph = (from: number, n: number) => Array.from({ length: n }, (_, i) => sentence(from + i)).join(" ");

/** Every non-whitespace character of the content lies inside at least one chunk. */
function uncovered(content: string, ranges: Array<[number, number]>): number[] {
  const covered = new Uint8Array(content.length);
  for (const [a, b] of ranges) covered.fill(1, a, b);
  const missing: number[] = [];
  for (let i = 0; i < content.length; i++) if (!covered[i] && /\S/.test(content[i]!)) missing.push(i);
  return missing;
}

const loneSurrogateAtEdge = (s: string) => /^[\udc00-\udfff]/.test(s) || /[\ud800-\udbff]$/.test(s);

describe("chunking", () => {
  test("content up to the target size is one chunk, exactly as given", () => {
    const content = "  # Title\n\nShort note.\n\n";
    expect(chunkContent(content)).toEqual([content]);
    const edge = "x".repeat(target);
    expect(chunkContent(edge)).toEqual([edge]);
  });

  test("each Markdown section starts its own chunk", () => {
    const sections = ["Context", "Decision", "Consequences"].map((h, i) => `## ${h}\n\n${paragraph(i * 100, 8)}`);
    const content = `# ADR-007\n\n${sections.join("\n\n")}\n`;
    const chunks = chunkContent(content);
    expect(chunks.length).toBeGreaterThanOrEqual(3);
    // The short document heading stays with the first section instead of being a chunk of its own.
    expect(chunks[0]!.startsWith("# ADR-007\n\n## Context\n")).toBe(true);
    for (const h of ["## Decision", "## Consequences"]) {
      expect(
        chunks.some((c) => c.startsWith(h)),
        h,
      ).toBe(true);
    }
    // A chunk that starts at a heading does not drag in the previous section's tail.
    const decision = chunks.find((c) => c.startsWith("## Decision"))!;
    expect(decision).not.toContain(sentence(7));
  });

  test("a long paragraph is split at sentence ends, with overlap between neighbours", () => {
    const content = paragraph(0, 80);
    const ranges = chunkRanges(content);
    expect(ranges.length).toBeGreaterThan(3);
    for (let i = 0; i + 1 < ranges.length; i++) {
      const [a, b] = ranges[i]!;
      const [c] = ranges[i + 1]!;
      expect(c, "next chunk starts inside the previous one").toBeLessThan(b);
      expect(b - c).toBeLessThanOrEqual(overlap);
      expect(c).toBeGreaterThan(a);
      // The overlap starts on a word, not in the middle of one.
      expect(content[c - 1]).toMatch(/\s/);
    }
    for (const [a, b] of ranges.slice(0, -1)) {
      // Every chunk but the last ends at a sentence end: the splitter prefers them.
      expect(content.slice(a, b)).toMatch(/[.!?]$/);
    }
    expect(uncovered(content, ranges)).toEqual([]);
  });

  test("a passage deep inside a long document lands in its own chunk", () => {
    const filler = Array.from({ length: 12 }, (_, i) => `## Section ${i}\n\n${paragraph(i * 50, 6)}`).join("\n\n");
    const needle =
      "## Rollback\n\nTo roll back a failed database migration, restore the snapshot taken before the deploy.";
    const content = `${filler}\n\n${needle}\n\n${filler}`;
    const chunks = chunkContent(content);
    const hit = chunks.filter((c) => c.includes("restore the snapshot"));
    expect(hit).toHaveLength(1);
    expect(hit[0]!.startsWith("## Rollback")).toBe(true);
    expect(hit[0]!.length).toBeLessThan(target + overlap);
  });

  test("text without any whitespace is cut at the target size", () => {
    const content = "a".repeat(target * 3 + 17);
    const ranges = chunkRanges(content);
    expect(ranges.map(([a, b]) => b - a).every((n) => n <= target + overlap)).toBe(true);
    expect(uncovered(content, ranges)).toEqual([]);
  });

  test("a cut never splits a surrogate pair", () => {
    const content = "😀".repeat(target * 2);
    for (const c of chunkContent(content)) expect(loneSurrogateAtEdge(c)).toBe(false);
  });

  test("a # line inside a code fence is not a heading", () => {
    const code = "```sh\n# not a heading: a shell comment\necho hi\n```";
    const content = `${paragraph(0, 12)}\n\n${code}\n\n${paragraph(20, 12)}`;
    const chunks = chunkContent(content);
    expect(chunks.some((c) => c.startsWith("# not a heading"))).toBe(false);
  });

  test("whitespace-only content is one chunk", () => {
    const content = " \n".repeat(target);
    expect(chunkContent(content)).toEqual([content]);
  });

  test("property: chunks are ordered slices that cover the content and stay bounded", () => {
    const word = fc.oneof(
      fc.constantFrom("alpha", "beta", "gamma.", "delta!", "epsilon?", "😀", "x".repeat(300)),
      fc.string({ minLength: 1, maxLength: 12 }),
    );
    const piece = fc.oneof(
      { weight: 8, arbitrary: word },
      { weight: 1, arbitrary: fc.constantFrom("\n\n", "\n## Heading\n", "\n```\n", "\n") },
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 800 }), (pieces) => {
        const content = pieces.join(" ");
        const ranges = chunkRanges(content);
        expect(ranges.length).toBeGreaterThan(0);
        let prevStart = -1;
        for (const [a, b] of ranges) {
          expect(a).toBeGreaterThan(prevStart);
          expect(b).toBeGreaterThan(a - (content.length === 0 ? 1 : 0));
          expect(b - a).toBeLessThanOrEqual(target + overlap);
          expect(loneSurrogateAtEdge(content.slice(a, b))).toBe(false);
          prevStart = a;
        }
        expect(uncovered(content, ranges)).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });
});
