// Splitting a document into searchable passages. Pure. A search lands on a chunk, so a chunk should be one
// coherent passage: chunks start at Markdown headings where they can, otherwise at paragraph, then sentence,
// then word boundaries, and each chunk after the first repeats the end of the previous one (the overlap) so a
// passage cut in two is still whole in one of them. Chunks are exact slices of the content (formatting kept).

export interface ChunkOptions {
  /** A chunk grows until the next unit would take it past this many characters. */
  target: number;
  /** How much of the previous chunk's end the next one repeats (not across a heading). */
  overlap: number;
  /** A heading starts a new chunk unless the current one is still shorter than this. */
  minBeforeHeading: number;
}

export const CHUNK_DEFAULTS: ChunkOptions = { target: 1200, overlap: 200, minBeforeHeading: 200 };

interface Unit {
  start: number;
  end: number;
  /** The unit begins with a Markdown heading (outside a code fence). */
  heading: boolean;
}

const HEADING_RE = /^ {0,3}#{1,6}(?:[ \t]|$)/;
const FENCE_RE = /^ {0,3}(```|~~~)/;

/** Never cut between the two halves of a surrogate pair. */
function safeCut(s: string, i: number): number {
  const c = s.charCodeAt(i - 1);
  return c >= 0xd800 && c <= 0xdbff ? i - 1 : i;
}

/** Paragraphs: runs of non-blank lines, as [start, end) offsets with trailing whitespace trimmed. */
function paragraphs(s: string): Unit[] {
  const out: Unit[] = [];
  let inFence = false;
  let cur: Unit | null = null;
  let pos = 0;
  while (pos <= s.length) {
    const nl = s.indexOf("\n", pos);
    const lineEnd = nl === -1 ? s.length : nl;
    const line = s.slice(pos, lineEnd);
    const blank = line.trim() === "";
    const fence = FENCE_RE.test(line);
    const heading = !inFence && !fence && HEADING_RE.test(line);
    if (blank && !inFence) {
      if (cur) out.push(cur);
      cur = null;
    } else {
      // A heading line always starts its own unit, even without a blank line before it.
      if (heading && cur) {
        out.push(cur);
        cur = null;
      }
      if (!cur) {
        const lead = line.length - line.trimStart().length;
        cur = { start: pos + lead, end: lineEnd, heading };
      } else {
        cur.end = lineEnd;
      }
    }
    if (fence) inFence = !inFence;
    if (nl === -1) break;
    pos = nl + 1;
  }
  if (cur) out.push(cur);
  for (const u of out) {
    while (u.end > u.start && /\s/.test(s[u.end - 1]!)) u.end--;
  }
  return out.filter((u) => u.end > u.start);
}

/** Splits [start, end) into pieces of at most `max` characters at sentence, then word boundaries. */
function splitLong(s: string, start: number, end: number, max: number): Array<[number, number]> {
  const pieces: Array<[number, number]> = [];
  let a = start;
  while (end - a > max) {
    const window = s.slice(a, a + max);
    let cut = -1;
    // The last sentence end in the window, not too close to its start (a tiny piece helps nobody).
    const sentence = /[.!?。！？][)"'\]]*\s+/g;
    for (let m = sentence.exec(window); m; m = sentence.exec(window)) {
      if (m.index + m[0].length >= max / 3) cut = m.index + m[0].length;
    }
    if (cut === -1) {
      const ws = window.search(/\s\S*$/);
      if (ws >= max / 3) cut = ws + 1;
    }
    if (cut === -1) cut = max;
    const b = safeCut(s, a + cut);
    let pieceEnd = b;
    while (pieceEnd > a && /\s/.test(s[pieceEnd - 1]!)) pieceEnd--;
    pieces.push([a, pieceEnd > a ? pieceEnd : b]);
    a = b;
    while (a < end && /\s/.test(s[a]!)) a++;
  }
  if (end > a) pieces.push([a, end]);
  return pieces;
}

/** The first word start at or after `pos` (and before `limit`), or `pos` when there is none. */
function wordStartFrom(s: string, pos: number, limit: number): number {
  if (pos === 0 || /\s/.test(s[pos - 1]!)) return pos;
  let i = pos;
  while (i < limit && !/\s/.test(s[i]!)) i++;
  while (i < limit && /\s/.test(s[i]!)) i++;
  return i < limit ? i : pos;
}

/** Splits content into chunk texts (see chunkRanges). */
export function chunkContent(content: string, opts: ChunkOptions = CHUNK_DEFAULTS): string[] {
  return chunkRanges(content, opts).map(([start, end]) => content.slice(start, end));
}

/**
 * The chunks as [start, end) offsets into the content, in order. Content no longer than `target` is one chunk,
 * as is content with nothing but whitespace. The result is never empty.
 */
export function chunkRanges(content: string, opts: ChunkOptions = CHUNK_DEFAULTS): Array<[number, number]> {
  const { target, overlap, minBeforeHeading } = opts;
  if (content.length <= target) return [[0, content.length]];
  const units: Unit[] = [];
  for (const p of paragraphs(content)) {
    if (p.end - p.start <= target) {
      units.push(p);
      continue;
    }
    splitLong(content, p.start, p.end, target).forEach(([start, end], i) =>
      units.push({ start, end, heading: p.heading && i === 0 }),
    );
  }
  if (units.length === 0) return [[0, content.length]];

  const chunks: Array<[number, number]> = [];
  let i = 0;
  let carry: number | null = null; // where the next chunk starts when it repeats the previous one's end
  while (i < units.length) {
    const start: number = carry ?? units[i]!.start;
    let end = units[i]!.end;
    let j = i + 1;
    while (j < units.length) {
      const u = units[j]!;
      if (u.heading && end - start >= minBeforeHeading) break;
      if (u.end - start > target) break;
      end = u.end;
      j++;
    }
    chunks.push([start, end]);
    if (j >= units.length) break;
    const next = units[j]!;
    carry = next.heading ? null : wordStartFrom(content, safeCut(content, Math.max(end - overlap, start)), next.start);
    i = j;
  }
  return chunks;
}
