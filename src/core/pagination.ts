// Keyset pagination over the integer id: a cursor is the last id of the page it came from, so pages stay
// stable while rows are being added and each page costs an index range scan, never an OFFSET.
import { Type } from "@sinclair/typebox";
import { Invalid } from "./errors.js";

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, description: "page size; default 50, above 500 counts as 500" })),
  cursor: Type.Optional(Type.String({ description: "the previous page's meta.next_cursor" })),
};

export interface Page {
  limit: number;
  /** Rows must have an id greater than this. */
  after: number | null;
}

const PREFIX = "c1.";

export function encodeCursor(id: number): string {
  return Buffer.from(`${PREFIX}${id}`).toString("base64url");
}

export function decodeCursor(cursor: string): number {
  let text = "";
  if (/^[A-Za-z0-9_-]+$/.test(cursor)) text = Buffer.from(cursor, "base64url").toString("utf8");
  const m = /^c1\.([0-9]{1,16})$/.exec(text);
  if (!m || Buffer.from(text).toString("base64url") !== cursor) throw Invalid.field("cursor", "is not a valid cursor");
  return Number(m[1]);
}

export function pageOf(q: { limit?: number; cursor?: string }): Page {
  return {
    limit: Math.min(q.limit ?? DEFAULT_LIMIT, MAX_LIMIT),
    after: q.cursor === undefined ? null : decodeCursor(q.cursor),
  };
}

/** Queries fetch `limit + 1` rows; the extra one only says whether another page exists. */
export function toPage<R extends { id: number }, T>(rows: R[], page: Page, map: (r: R) => T) {
  const more = rows.length > page.limit;
  const slice = more ? rows.slice(0, page.limit) : rows;
  return {
    data: slice.map(map),
    meta: { next_cursor: more ? encodeCursor(slice[slice.length - 1]!.id) : null },
  };
}
