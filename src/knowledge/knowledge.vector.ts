// pgvector is optional: PGlite ships it, a PostgreSQL server may not have it installed. A migration cannot
// depend on it, so the `embedding` column (and per-dimension HNSW indexes) are added here, at start-up and
// only where the extension can be created. Everything is idempotent and safe to race between processes.
import type { Database } from "../db/client.js";
import { pgErrorCode } from "../db/lookup.js";

export type VectorSupport = { ok: true } | { ok: false; reason: string };

/** HNSW indexes `vector` columns of up to 2,000 dimensions; larger embeddings are searched exactly. */
export const MAX_HNSW_DIMENSIONS = 2000;

async function installed(database: Database): Promise<boolean> {
  const rows = await database.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'vector'",
  );
  return (rows[0]?.n ?? 0) > 0;
}

async function hasColumn(database: Database): Promise<boolean> {
  const rows = await database.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = 'knowledge_chunks' AND column_name = 'embedding'`,
  );
  return (rows[0]?.n ?? 0) > 0;
}

/** Creates the extension (when available) and the embedding column; says why not when it cannot. */
export async function enableVector(database: Database): Promise<VectorSupport> {
  if (!(await installed(database))) {
    const avail = await database.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_available_extensions WHERE name = 'vector'",
    );
    if ((avail[0]?.n ?? 0) === 0)
      return { ok: false, reason: "the pgvector extension is not installed on the database server" };
    try {
      await database.query("CREATE EXTENSION IF NOT EXISTS vector");
    } catch (err) {
      // Another process may have created it a moment ago (a unique violation in the catalog); that is fine.
      if (!(await installed(database))) {
        return {
          ok: false,
          reason: `CREATE EXTENSION vector failed (${pgErrorCode(err) ?? "unknown error"}): ${(err as Error).message}`,
        };
      }
    }
  }
  if (!(await hasColumn(database))) {
    try {
      await database.query("ALTER TABLE knowledge_chunks ADD COLUMN IF NOT EXISTS embedding vector");
    } catch (err) {
      if (!(await hasColumn(database))) {
        return { ok: false, reason: `adding the embedding column failed (${pgErrorCode(err) ?? "unknown error"})` };
      }
    }
  }
  return { ok: true };
}

/**
 * A partial expression index per dimension: the column itself has no fixed dimension (the model decides it),
 * but HNSW needs one. Search orders by the same expression with the same predicate, so it can use the index.
 */
export async function ensureHnswIndex(database: Database, dims: number): Promise<boolean> {
  if (!Number.isInteger(dims) || dims < 1 || dims > MAX_HNSW_DIMENSIONS) return false;
  try {
    await database.query(
      `CREATE INDEX IF NOT EXISTS knowledge_chunks_embedding_${dims}_idx ON knowledge_chunks
         USING hnsw ((embedding::vector(${dims})) vector_cosine_ops) WHERE embedding_dims = ${dims}`,
    );
    return true;
  } catch {
    const rows = await database.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_indexes WHERE schemaname = current_schema() AND indexname = $1",
      [`knowledge_chunks_embedding_${dims}_idx`],
    );
    return (rows[0]?.n ?? 0) > 0;
  }
}
