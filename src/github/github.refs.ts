// Pure parsing of the ways GitHub things are named: `owner/name#number` for a synced issue, and pull request
// URLs in task outputs. Repository names are case-insensitive on GitHub, so they are compared lower-cased.

const OWNER = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})";
const NAME = "[A-Za-z0-9._-]{1,100}";
const ISSUE_KEY_RE = new RegExp(`^(${OWNER})/(${NAME})#([0-9]{1,9})$`);
export const REPO_PATTERN = `^${OWNER}/${NAME}$`;
const MAX_INT = 2_147_483_647;

export type IssueRef = { id: number } | { repo: string; number: number };

/** `owner/name#number` of an issue. */
export function issueKey(repo: string, number: number): string {
  return `${repo}#${number}`;
}

/** The integer id or `owner/name#number`; null when it can name nothing (so the lookup is a 404). */
export function parseIssueRef(raw: string): IssueRef | null {
  if (/^[0-9]+$/.test(raw)) {
    const n = Number(raw);
    return n >= 1 && n <= MAX_INT ? { id: n } : null;
  }
  const m = ISSUE_KEY_RE.exec(raw);
  if (!m) return null;
  const number = Number(m[3]);
  if (number < 1) return null;
  return { repo: `${m[1]}/${m[2]}`.toLowerCase(), number };
}

export interface PullRef {
  /** Lower-cased `owner/name`. */
  repo: string;
  owner: string;
  name: string;
  number: number;
  url: string;
}

/**
 * A pull request URL as GitHub shows it, on any host (github.com or an Enterprise server):
 * `https://<host>/<owner>/<name>/pull/<n>`, optionally followed by a sub-page (`/files`), query or fragment.
 */
export function parsePullUrl(raw: unknown): PullRef | null {
  if (typeof raw !== "string" || raw.length > 2048) return null;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return null;
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") return null;
  const m = new RegExp(`^/(${OWNER})/(${NAME})/pull/([0-9]{1,9})(?:/.*)?$`).exec(u.pathname);
  if (!m) return null;
  const number = Number(m[3]);
  if (number < 1) return null;
  return { repo: `${m[1]}/${m[2]}`.toLowerCase(), owner: m[1]!, name: m[2]!, number, url: raw };
}
