import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";
import { id, insertedAt, updatedAt } from "./columns.js";

const tsvector = customType<{ data: string }>({ dataType: () => "tsvector" });

export const knowledgeDocuments = pgTable(
  "knowledge_documents",
  {
    id: id(),
    /** The document's key (given on create, or generated); documents written before keys read `doc-<id>`. */
    documentId: text("document_id").notNull().unique(),
    title: text("title").notNull(),
    content: text("content").notNull(),
    metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default({}),
    /** SHA-256 of the content: what trace entries record instead of the content itself. */
    contentHash: text("content_hash").notNull(),
    /**
     * Set for documents written by the server itself (e.g. `task:<task_id>` for an approved task's summary) so
     * writing the same source again replaces its document instead of adding another. Null for direct writes.
     */
    sourceKey: text("source_key").unique(),
    insertedAt: insertedAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index("knowledge_documents_metadata_idx").using("gin", sql`${t.metadata} jsonb_path_ops`)],
);

// The searchable passages of a document. A chunk's text never changes after insert: a new title or content
// replaces all of the document's chunks, so an embedding stored against a chunk id always describes that text.
// The embedding itself lives in an `embedding vector` column that is added at start-up only where the pgvector
// extension is available (see src/knowledge/knowledge.vector.ts); drizzle does not know about it.
export const knowledgeChunks = pgTable(
  "knowledge_chunks",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    documentId: integer("document_id")
      .notNull()
      .references(() => knowledgeDocuments.id, { onDelete: "cascade" }),
    ordinal: integer("ordinal").notNull(),
    text: text("text").notNull(),
    /** Title (weight A) and chunk text (weight B), English configuration. */
    tsv: tsvector("tsv").notNull(),
    /** SHA-256 of the text sent to the embeddings endpoint (title + chunk text). */
    inputHash: text("input_hash").notNull(),
    // Embedding queue state: a chunk is queued while `embed_pending`; the worker leases it by moving
    // `embed_next_at` into the future and, on failure, backs off by the same column. Never dropped.
    embedPending: boolean("embed_pending").notNull().default(true),
    embedAttempts: integer("embed_attempts").notNull().default(0),
    embedNextAt: timestamp("embed_next_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    embedError: text("embed_error"),
    embeddingModel: text("embedding_model"),
    embeddingDims: integer("embedding_dims"),
    embeddedAt: timestamp("embedded_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [
    uniqueIndex("knowledge_chunks_document_ordinal_idx").on(t.documentId, t.ordinal),
    index("knowledge_chunks_tsv_idx").using("gin", t.tsv),
    index("knowledge_chunks_text_trgm_idx").using("gin", t.text.op("gin_trgm_ops")),
    index("knowledge_chunks_embed_queue_idx")
      .on(t.embedNextAt)
      .where(sql`${t.embedPending}`),
  ],
);

// The words that occur in knowledge titles and chunks, for typo correction: a query word the corpus does not
// contain is matched, by trigram similarity through this table's index, against the words it does contain.
// Append-only (ON CONFLICT DO NOTHING, never updated or deleted): a word left over from a deleted document
// only costs a correction that matches nothing.
export const knowledgeTerms = pgTable("knowledge_terms", { term: text("term").primaryKey() }, (t) => [
  index("knowledge_terms_trgm_idx").using("gin", t.term.op("gin_trgm_ops")),
]);

// The words of each document's title, for the title part of search: a query word is matched, by trigram
// similarity through the vocabulary's index, against the distinct title words, and each matching word leads
// to its documents through the index on (word, document_id). Scoring titles by their words costs a lookup
// per matching word instead of a trigram comparison with every title that shares trigrams with the query
// word (thousands for a common word). Words are lower-cased runs of letters and digits, as pg_trgm splits a
// text into words (knowledge.repo.ts replaceTitleWords). The vocabulary is append-only like knowledge_terms; a
// document's words are replaced with its title, in the same transaction, and go with the document.
export const knowledgeTitleWords = pgTable("knowledge_title_words", { word: text("word").primaryKey() }, (t) => [
  index("knowledge_title_words_trgm_idx").using("gin", t.word.op("gin_trgm_ops")),
]);

export const knowledgeDocumentTitleWords = pgTable(
  "knowledge_document_title_words",
  {
    documentId: integer("document_id")
      .notNull()
      .references(() => knowledgeDocuments.id, { onDelete: "cascade" }),
    word: text("word").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.documentId, t.word] }),
    index("knowledge_document_title_words_word_idx").on(t.word, t.documentId),
  ],
);
