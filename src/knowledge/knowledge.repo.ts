import { hash } from "node:crypto";
import { and, asc, eq, gt, lt, sql, type SQL } from "drizzle-orm";
import type { Executor } from "../db/client.js";
import { knowledgeChunks, knowledgeDocuments } from "../db/schema/index.js";
import type { Page } from "../core/pagination.js";
import type { Ref } from "../core/ids.js";
import { refWhere } from "../db/lookup.js";

export type DocumentRow = typeof knowledgeDocuments.$inferSelect;

export const sha256 = (s: string) => hash("sha256", s, "hex");

/** What the embeddings endpoint is given for a chunk: the title gives a passage its context. */
export const embeddingInput = (title: string, text: string) => `${title}\n\n${text}`;

export async function findDocument(exec: Executor, ref: Ref, opts: { lock?: boolean } = {}) {
  const q = exec
    .select()
    .from(knowledgeDocuments)
    .where(refWhere(knowledgeDocuments.id, knowledgeDocuments.documentId, ref))
    .limit(1);
  const rows = opts.lock ? await q.for("update") : await q;
  return rows[0];
}

export async function findDocumentBySource(exec: Executor, sourceKey: string) {
  const rows = await exec
    .select()
    .from(knowledgeDocuments)
    .where(eq(knowledgeDocuments.sourceKey, sourceKey))
    .limit(1)
    .for("update");
  return rows[0];
}

export interface MetadataFilter {
  /** Exact values of top-level keys, compared as JSON (`{"priority": 1}` does not match `"1"`). */
  exact?: Record<string, unknown>;
  /** Top-level keys compared as text, for query-string filters (`metadata[priority]=1` matches 1 and "1"). */
  text?: Record<string, string>;
}

/** Exact metadata matching on a documents alias. `@>` lets the GIN index find candidates; `->` makes it exact. */
export function metadataWhere(
  metadataCol: SQL | typeof knowledgeDocuments.metadata,
  f: MetadataFilter,
): SQL | undefined {
  const parts: SQL[] = [];
  if (f.exact && Object.keys(f.exact).length > 0) {
    parts.push(sql`${metadataCol} @> ${JSON.stringify(f.exact)}::jsonb`);
    for (const [k, v] of Object.entries(f.exact)) {
      parts.push(sql`(${metadataCol} -> ${k}::text) = ${JSON.stringify(v)}::jsonb`);
    }
  }
  for (const [k, v] of Object.entries(f.text ?? {})) {
    parts.push(sql`(${metadataCol} ->> ${k}::text) = ${v}::text`);
  }
  return parts.length === 0 ? undefined : and(...parts);
}

export async function listDocuments(exec: Executor, filter: MetadataFilter, page: Page) {
  return exec
    .select()
    .from(knowledgeDocuments)
    .where(
      and(
        metadataWhere(knowledgeDocuments.metadata, filter),
        page.after === null ? undefined : gt(knowledgeDocuments.id, page.after),
      ),
    )
    .orderBy(asc(knowledgeDocuments.id))
    .limit(page.limit + 1);
}

export async function insertDocument(exec: Executor, values: typeof knowledgeDocuments.$inferInsert) {
  const rows = await exec.insert(knowledgeDocuments).values(values).returning();
  return rows[0]!;
}

export async function updateDocument(exec: Executor, id: number, set: Partial<typeof knowledgeDocuments.$inferInsert>) {
  const rows = await exec
    .update(knowledgeDocuments)
    .set({ ...set, updatedAt: sql`now()` })
    .where(eq(knowledgeDocuments.id, id))
    .returning();
  return rows[0]!;
}

export async function deleteDocument(exec: Executor, id: number) {
  // Chunks go with it (ON DELETE CASCADE), and with them any queued embedding work.
  await exec.delete(knowledgeDocuments).where(eq(knowledgeDocuments.id, id));
}

const INSERT_BATCH = 100;

/** The words typo correction can suggest: lower-case runs of letters and digits, 3–40 long, with a letter. */
export function termsOf(texts: string[]): string[] {
  const out = new Set<string>();
  for (const text of texts) {
    for (const m of text.toLowerCase().matchAll(/[\p{L}\p{N}]+/gu)) {
      const w = m[0];
      if (w.length >= 3 && w.length <= 40 && /\p{L}/u.test(w)) out.add(w);
    }
  }
  // Sorted, so two writers inserting the same new words take their locks in the same order (no deadlock).
  return [...out].sort();
}

async function addTerms(exec: Executor, terms: string[]): Promise<void> {
  if (terms.length === 0) return;
  await exec.execute(sql`
    INSERT INTO knowledge_terms (term)
    SELECT t FROM jsonb_array_elements_text(${JSON.stringify(terms)}::jsonb) WITH ORDINALITY AS x(t, n)
     ORDER BY n
    ON CONFLICT DO NOTHING`);
}

/**
 * Title words are cut to this many characters: a title written without spaces (Chinese, Thai) is one word, and a
 * whole 1,000-character title would not fit a B-tree index entry (at most 2,704 bytes). Query words are at most 40.
 */
const MAX_TITLE_WORD = 200;

/**
 * Sets a document's title words (knowledge_document_title_words) to its title's and adds new ones to the title
 * vocabulary, in one statement. A title's words are lower-cased runs of letters and digits as the database's
 * regular expressions see them (`[[:alnum:]]`), split exactly as migration 0016 split the titles already
 * stored; a word is cut to its first MAX_TITLE_WORD characters. Only the words the
 * title lost are deleted, so the insert (ON CONFLICT DO NOTHING) never meets a row deleted in the same
 * statement. The vocabulary is inserted in sorted order, as addTerms is, so concurrent writers cannot deadlock.
 */
async function replaceTitleWords(exec: Executor, documentId: number, title: string): Promise<void> {
  await exec.execute(sql`
    WITH words AS (
      SELECT DISTINCT left(w, ${sql.raw(String(MAX_TITLE_WORD))}) AS w
        FROM regexp_split_to_table(lower(${title}::text), '[^[:alnum:]]+') AS w
       WHERE w <> ''
    ),
    gone AS (
      DELETE FROM knowledge_document_title_words
       WHERE document_id = ${documentId} AND word NOT IN (SELECT w FROM words)
    ),
    vocabulary AS (
      INSERT INTO knowledge_title_words (word) SELECT w FROM words ORDER BY w ON CONFLICT DO NOTHING
    )
    INSERT INTO knowledge_document_title_words (document_id, word)
    SELECT ${documentId}, w FROM words
    ON CONFLICT DO NOTHING`);
}

/**
 * Replaces a document's chunks (queued for embedding) and its title words, and adds their words to the
 * typo-correction vocabulary.
 * With `reuseModel` (pgvector in use), a new chunk whose embedding input equals an old chunk's, already embedded
 * with that model, takes over the old embedding instead of being queued again, so editing one section of a long
 * document re-embeds that section only.
 */
export async function replaceChunks(
  exec: Executor,
  documentId: number,
  title: string,
  texts: string[],
  reuseModel: string | null,
): Promise<void> {
  // Old chunks step aside to negative ordinals, so new ones can take 0..n-1 while the old are still readable.
  await exec
    .update(knowledgeChunks)
    .set({ ordinal: sql`-1 - ${knowledgeChunks.ordinal}` })
    .where(eq(knowledgeChunks.documentId, documentId));
  for (let i = 0; i < texts.length; i += INSERT_BATCH) {
    await exec.insert(knowledgeChunks).values(
      texts.slice(i, i + INSERT_BATCH).map((text, j) => ({
        documentId,
        ordinal: i + j,
        text,
        tsv: sql`setweight(to_tsvector('english', ${title}), 'A') || setweight(to_tsvector('english', ${text}), 'B')`,
        inputHash: sha256(embeddingInput(title, text)),
      })),
    );
  }
  if (reuseModel !== null) {
    await exec.execute(sql`
      UPDATE knowledge_chunks AS n
         SET embedding = o.embedding, embedding_model = o.embedding_model, embedding_dims = o.embedding_dims,
             embedded_at = o.embedded_at, embed_pending = false, embed_attempts = 0, embed_error = NULL
        FROM (SELECT DISTINCT ON (input_hash) input_hash, embedding, embedding_model, embedding_dims, embedded_at
                FROM knowledge_chunks
               WHERE document_id = ${documentId} AND ordinal < 0 AND NOT embed_pending
                 AND embedding IS NOT NULL AND embedding_model = ${reuseModel}
               ORDER BY input_hash, embedded_at DESC) AS o
       WHERE n.document_id = ${documentId} AND n.ordinal >= 0 AND n.input_hash = o.input_hash`);
  }
  await exec
    .delete(knowledgeChunks)
    .where(and(eq(knowledgeChunks.documentId, documentId), lt(knowledgeChunks.ordinal, 0)));
  await replaceTitleWords(exec, documentId, title);
  await addTerms(exec, termsOf([title, ...texts]));
}
