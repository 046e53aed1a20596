// A knowledge search hit's snippet, read once for every client. The API gives it as HTML: the passage's text
// with `&`, `<` and `>` escaped, and the matched words wrapped in `<mark>…</mark>`. Because the passage is
// escaped before the marks are added, the only tags in it are those marks, so it splits without an HTML parser.
// Clients render the parts as text (a terminal, or React elements in the console), never as markup: the passage
// is a document's content, and documents may come from agents.

export interface SnippetPart {
  text: string;
  /** A word of the query matched here. */
  match: boolean;
}

const ENTITY: Record<string, string> = { "&lt;": "<", "&gt;": ">", "&amp;": "&" };
const unescape = (s: string) => s.replace(/&(?:lt|gt|amp);/g, (e) => ENTITY[e] ?? e);

/** The snippet as text runs, each marked or not; empty runs are dropped. */
export function snippetParts(html: string): SnippetPart[] {
  const parts: SnippetPart[] = [];
  // Split keeps the captured tags; an unmatched `<mark>` (a truncated snippet) marks up to the end.
  let match = false;
  for (const piece of html.split(/(<\/?mark>)/)) {
    if (piece === "<mark>") match = true;
    else if (piece === "</mark>") match = false;
    else if (piece) {
      const text = unescape(piece);
      const last = parts.at(-1);
      if (last && last.match === match) last.text += text;
      else parts.push({ text, match });
    }
  }
  return parts;
}

/** The snippet as plain text, marks dropped. */
export function snippetText(html: string): string {
  return snippetParts(html)
    .map((p) => p.text)
    .join("");
}
