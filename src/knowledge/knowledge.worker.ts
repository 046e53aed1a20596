// The embedding worker: turns queued chunks into vectors in the background.
//
// Invariants:
// - The queue is the `knowledge_chunks` table itself: a chunk is queued exactly while `embed_pending` is true.
//   It is queued in the same transaction that writes it, so an acknowledged write is never missing from the
//   queue, and only this worker clears the flag, in the statement that stores the chunk's embedding.
// - A chunk's text never changes (a new title or content replaces the chunks), so an embedding stored against a
//   chunk id is always an embedding of that id's text. A chunk deleted meanwhile simply matches no row.
// - Claiming is a lease: the claiming statement moves `embed_next_at` a lease ahead (FOR UPDATE SKIP LOCKED), so
//   workers in other processes skip the chunk, and a worker that dies mid-request loses nothing: the chunk is
//   due again when the lease runs out.
// - A failure never drops a chunk: `embed_attempts` grows and `embed_next_at` backs off exponentially up to a cap;
//   it is retried for as long as it exists. A batch the endpoint rejects (400/413/422) is retried item by item at
//   once, so one bad input cannot hold back the others.
// - No transaction is open while the endpoint is called; stop() aborts the call and waits for the pass in progress to end.
import { sql } from "drizzle-orm";
import { singleFlight } from "../core/single-flight.js";
import type { Database } from "../db/client.js";
import { EmbeddingsError, toVectorLiteral, type EmbeddingsClient } from "./knowledge.embeddings.js";
import { embeddingInput } from "./knowledge.repo.js";
import { ensureHnswIndex } from "./knowledge.vector.js";

export interface WorkerOptions {
  batchSize: number;
  /** How long an idle worker sleeps before looking again (kick() wakes it sooner). */
  pollMs: number;
  leaseS: number;
  backoffBaseS: number;
  backoffCapS: number;
  requestTimeoutMs: number;
}

export const WORKER_DEFAULTS: WorkerOptions = {
  batchSize: 16,
  pollMs: 2000,
  leaseS: 120,
  backoffBaseS: 1,
  backoffCapS: 300,
  requestTimeoutMs: 30_000,
};

export interface KnowledgeLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

interface Claimed {
  id: number;
  title: string;
  text: string;
}

export interface EmbeddingWorker {
  start(): void;
  stop(): Promise<void>;
  /** Wake the worker now (after a write in this process). */
  kick(): void;
}

export function createEmbeddingWorker(deps: {
  database: Database;
  client: EmbeddingsClient;
  logger: KnowledgeLogger;
  options?: Partial<WorkerOptions>;
  /** Told about every outcome, so search can skip a failing endpoint instead of waiting on it. */
  onHealth?: (ok: boolean) => void;
}): EmbeddingWorker {
  const { database, client, logger } = deps;
  const opts = { ...WORKER_DEFAULTS, ...deps.options };
  const { db } = database;
  const indexed = new Set<number>();
  let running = false;
  let poll: NodeJS.Timeout | null = null;
  let inflight: AbortController | null = null;
  let failing = false;
  let lastFailureLog = 0;

  // One pass at a time. A kick during a pass runs one more after it; the poll finds chunks whose backoff or
  // lease has run out. A failed pass (the database, e.g. a connection lost) is logged and the next poll retries.
  const flight = singleFlight(drain, (err) => {
    if (running) logger.error({ err }, "knowledge: embedding worker round failed");
  });

  async function claim(): Promise<Claimed[]> {
    const res = await db.execute(sql`
      UPDATE knowledge_chunks AS c
         SET embed_next_at = now() + make_interval(secs => ${opts.leaseS})
        FROM knowledge_documents d
       WHERE d.id = c.document_id
         AND c.id IN (SELECT id FROM knowledge_chunks
                       WHERE embed_pending AND embed_next_at <= now()
                       ORDER BY embed_next_at, id
                       LIMIT ${opts.batchSize}
                         FOR UPDATE SKIP LOCKED)
      RETURNING c.id, d.title, c.text`);
    return (res as unknown as { rows: Claimed[] }).rows.map((r) => ({ ...r, id: Number(r.id) }));
  }

  async function store(items: Claimed[], vectors: number[][]): Promise<void> {
    const dims = vectors[0]!.length;
    const payload = items.map((c, i) => ({ id: c.id, e: toVectorLiteral(vectors[i]!) }));
    await db.execute(sql`
      UPDATE knowledge_chunks AS c
         SET embedding = v.e::vector, embedding_model = ${client.model}, embedding_dims = ${dims},
             embedded_at = now(), embed_pending = false, embed_attempts = 0, embed_error = NULL
        FROM jsonb_to_recordset(${JSON.stringify(payload)}::jsonb) AS v(id bigint, e text)
       WHERE c.id = v.id AND c.embed_pending`);
    if (!indexed.has(dims)) {
      indexed.add(dims);
      if (!(await ensureHnswIndex(database, dims))) {
        logger.info({ dims }, "knowledge: no HNSW index for embeddings of this dimension; vector search scans exactly");
      }
    }
  }

  async function fail(items: Claimed[], err: EmbeddingsError): Promise<void> {
    await db.execute(sql`
      UPDATE knowledge_chunks
         SET embed_attempts = embed_attempts + 1,
             embed_next_at = now() + make_interval(secs => least(${opts.backoffCapS}::float8,
                                                                  ${opts.backoffBaseS}::float8 * power(2, least(embed_attempts, 30)))),
             embed_error = ${err.message.slice(0, 500)}
       WHERE id IN (SELECT (jsonb_array_elements_text(${JSON.stringify(items.map((c) => c.id))}::jsonb))::bigint)
         AND embed_pending`);
  }

  function healthy(ok: boolean, err?: EmbeddingsError) {
    deps.onHealth?.(ok);
    if (ok && failing) {
      failing = false;
      logger.info({}, "knowledge: embeddings endpoint is answering again");
    } else if (!ok) {
      const now = Date.now();
      // Logged when it starts failing and then at most once a minute, not once per batch.
      if (!failing || now - lastFailureLog > 60_000) {
        logger.warn({ err: err?.message }, "knowledge: embeddings request failed; chunks stay queued and are retried");
        lastFailureLog = now;
      }
      failing = true;
    }
  }

  async function embed(items: Claimed[]): Promise<number[][]> {
    inflight = new AbortController();
    try {
      return await client.embed(
        items.map((c) => embeddingInput(c.title, c.text)),
        { timeoutMs: opts.requestTimeoutMs, signal: inflight.signal },
      );
    } finally {
      inflight = null;
    }
  }

  async function release(items: Claimed[]): Promise<void> {
    await db.execute(sql`
      UPDATE knowledge_chunks SET embed_next_at = now()
       WHERE id IN (SELECT (jsonb_array_elements_text(${JSON.stringify(items.map((c) => c.id))}::jsonb))::bigint)
         AND embed_pending`);
  }

  async function handle(items: Claimed[]): Promise<number> {
    try {
      const vectors = await embed(items);
      await store(items, vectors);
      healthy(true);
      return items.length;
    } catch (err) {
      if (!(err instanceof EmbeddingsError)) throw err;
      if (!running) {
        // Stopped mid-request: hand the chunks back now rather than when the lease runs out; no attempt counted.
        await release(items);
        return 0;
      }
      if (err.rejected && items.length > 1) {
        let n = 0;
        for (const item of items) n += await handle([item]);
        return n;
      }
      await fail(items, err);
      if (err.rejected) {
        // One chunk the endpoint will not take; its backoff (up to the cap) bounds how often this is logged.
        logger.warn(
          { chunk: items[0]!.id, err: err.message },
          "knowledge: the embeddings endpoint rejected a chunk; it stays queued",
        );
      } else {
        healthy(false, err);
      }
      return 0;
    }
  }

  /** One pass: claims and embeds batches until none is due (or the worker stops). */
  async function drain(): Promise<void> {
    while (running) {
      const items = await claim();
      if (items.length === 0) return;
      await handle(items);
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      poll = setInterval(() => void flight.trigger(), opts.pollMs);
      void flight.trigger();
    },
    async stop() {
      running = false;
      if (poll) clearInterval(poll);
      poll = null;
      inflight?.abort();
      await flight.idle();
    },
    kick() {
      if (running) void flight.trigger();
    },
  };
}
