// Knowledge base: documents, their chunks, hybrid search, and (optionally) embeddings.
// Invariants: a document and its chunks are written in one transaction with the document's trace entry, and the
// chunks are queued for embedding by that same write (see knowledge.worker.ts), so the write never waits for the
// embeddings endpoint and never loses the work. Vector search takes part only when embeddings are configured
// and pgvector is usable (decided once, in start()); otherwise search is lexical and says so at start-up.
import { sql } from "drizzle-orm";
import type { EmbeddingsConfig } from "../config.js";
import type { Database, Executor } from "../db/client.js";
import { isUniqueViolation } from "../db/lookup.js";
import type { Principal } from "../core/principal.js";
import { Invalid, NotFound } from "../core/errors.js";
import { generateKey, parseRef, type Ref } from "../core/ids.js";
import { pageOf, toPage } from "../core/pagination.js";
import { appendTrace } from "../trace/trace.append.js";
import { chunkContent } from "./knowledge.chunking.js";
import { createEmbeddingsClient, toVectorLiteral, type EmbeddingsClient } from "./knowledge.embeddings.js";
import * as repo from "./knowledge.repo.js";
import {
  DEFAULT_SEARCH_LIMIT,
  MAX_CONTENT_BYTES,
  MAX_TITLE,
  type DocumentCreate,
  type DocumentListQuery,
  type DocumentUpdate,
  type SearchBody,
} from "./knowledge.schemas.js";
import { parseQuery, searchSql, TRGM_THRESHOLD, type SearchPlan, type SearchRow } from "./knowledge.search.js";
import { enableVector } from "./knowledge.vector.js";
import {
  createEmbeddingWorker,
  type EmbeddingWorker,
  type KnowledgeLogger,
  type WorkerOptions,
} from "./knowledge.worker.js";

export interface KnowledgeDeps {
  database: Database;
  embeddings?: EmbeddingsConfig | null;
  logger?: KnowledgeLogger;
  worker?: Partial<WorkerOptions>;
  fetch?: typeof fetch;
  /** A search waits at most this long for the query's embedding, then goes on without it. */
  queryEmbeddingTimeoutMs?: number;
  /** After the endpoint fails, searches skip it for this long (the worker's retries or a later search probe it). */
  endpointCooldownMs?: number;
}

export type KnowledgeService = ReturnType<typeof createKnowledgeService>;

const silent: KnowledgeLogger = { info() {}, warn() {}, error() {} };

function rowsOf<T>(res: unknown): T[] {
  return (res as { rows: T[] }).rows;
}

/** JSON with sorted keys: metadata given in another key order is not a change. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

function checkContent(content: string): void {
  if (Buffer.byteLength(content, "utf8") > MAX_CONTENT_BYTES) {
    throw Invalid.field("content", `must be at most ${MAX_CONTENT_BYTES} bytes (UTF-8)`);
  }
}

// PostgreSQL stores neither NUL (text, jsonb) nor unpaired surrogates (jsonb). JSON bodies are checked by the
// body parser; query strings and callers inside the server (task summaries) are checked here.
// eslint-disable-next-line no-control-regex -- U+0000 is exactly what this looks for
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The path of the first string or key PostgreSQL cannot store. */
function unstorablePath(v: unknown, path: string): string | null {
  if (typeof v === "string") return UNSTORABLE.test(v) ? path : null;
  if (v && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) {
      const p = `${path}.${k}`;
      if (UNSTORABLE.test(k)) return p;
      const found = unstorablePath(x, p);
      if (found) return found;
    }
  }
  return null;
}

function checkStorable(fields: Record<string, unknown>): void {
  for (const [name, v] of Object.entries(fields)) {
    const p = unstorablePath(v, name);
    if (p) throw Invalid.field(p, "must not contain NUL or unpaired surrogate characters");
  }
}

/** The path parameter: the integer id or the key (`document_id`). */
function documentRef(raw: string): Ref {
  const ref = parseRef(raw);
  if (ref === null) throw new NotFound();
  return ref;
}

export interface SourceDocument {
  /** Identifies what the document summarizes (`task:<task_id>`); writing the same source again replaces it. */
  sourceKey: string;
  title: string;
  content: string;
  metadata: Record<string, unknown>;
  /** Records the document's trace entries name (a task summary's entries appear in that task's trace). */
  missionId?: string;
  taskId?: string;
}

export interface TaskSummaryInput {
  task_id: string;
  mission_id: string;
  objective: string;
  agent_id?: string | null;
  outputs?: Record<string, unknown>;
  review_comments?: string[];
}

/** The knowledge document an approved task becomes: `metadata.type = "task"`, its objective, outputs, reviews. */
export function taskSummaryDocument(t: TaskSummaryInput): SourceDocument {
  const firstLine = t.objective.split("\n")[0]!.trim();
  const title = `Task ${t.task_id}: ${firstLine}`.slice(0, MAX_TITLE);
  const lines = [`Mission: ${t.mission_id}`];
  if (t.agent_id) lines.push(`Agent: ${t.agent_id}`);
  lines.push("", "## Objective", "", t.objective);
  const outputs = Object.entries(t.outputs ?? {});
  if (outputs.length > 0) {
    lines.push("", "## Outputs", "");
    for (const [k, v] of outputs) lines.push(`- ${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`);
  }
  const comments = (t.review_comments ?? []).filter((c) => c.trim() !== "");
  if (comments.length > 0) {
    lines.push("", "## Review comments", "");
    for (const c of comments) lines.push(`- ${c}`);
  }
  let content = lines.join("\n");
  // Outputs can be large; the document keeps what fits (cut on a character, not inside one).
  while (Buffer.byteLength(content, "utf8") > MAX_CONTENT_BYTES) content = content.slice(0, content.length - 1024);
  return {
    sourceKey: `task:${t.task_id}`,
    title,
    content,
    metadata: { type: "task", task_id: t.task_id, mission_id: t.mission_id },
    missionId: t.mission_id,
    taskId: t.task_id,
  };
}

export function createKnowledgeService(deps: KnowledgeDeps) {
  const { database } = deps;
  const { db } = database;
  const logger = deps.logger ?? silent;
  const embeddings = deps.embeddings ?? null;
  const client: EmbeddingsClient | null = embeddings ? createEmbeddingsClient(embeddings, deps.fetch) : null;
  const queryTimeoutMs = deps.queryEmbeddingTimeoutMs ?? 2000;
  const cooldownMs = deps.endpointCooldownMs ?? 30_000;
  let vectorReady = false;
  let endpointDownUntil = 0;
  let worker: EmbeddingWorker | null = null;

  function onHealth(ok: boolean) {
    endpointDownUntil = ok ? 0 : Date.now() + cooldownMs;
  }

  function toApi(d: repo.DocumentRow) {
    return {
      id: d.id,
      document_id: d.documentId,
      title: d.title,
      content: d.content,
      metadata: d.metadata,
      inserted_at: d.insertedAt,
      updated_at: d.updatedAt,
    };
  }

  async function load(exec: Executor, raw: string, opts: { lock?: boolean } = {}) {
    const d = await repo.findDocument(exec, documentRef(raw), opts);
    if (!d) throw new NotFound();
    return d;
  }

  const reuseModel = () => (vectorReady && client ? client.model : null);

  interface Refs {
    missionId?: string;
    taskId?: string;
  }

  async function insertIn(
    tx: Executor,
    input: {
      documentId?: string;
      title: string;
      content: string;
      metadata: Record<string, unknown>;
      sourceKey?: string;
    },
    actor: string,
    refs: Refs = {},
  ) {
    const chunks = chunkContent(input.content);
    const d = await repo.insertDocument(tx, {
      documentId: input.documentId ?? generateKey("doc"),
      title: input.title,
      content: input.content,
      metadata: input.metadata,
      contentHash: repo.sha256(input.content),
      sourceKey: input.sourceKey ?? null,
    });
    await repo.replaceChunks(tx, d.id, d.title, chunks, null);
    await appendTrace(tx, {
      event: "knowledge.document_created",
      actor,
      ...refs,
      data: {
        document_id: d.id,
        key: d.documentId,
        title: d.title,
        metadata: d.metadata,
        content_hash: d.contentHash,
        content_bytes: Buffer.byteLength(d.content, "utf8"),
        chunks: chunks.length,
        ...(input.sourceKey ? { source: input.sourceKey } : {}),
      },
    });
    return d;
  }

  async function updateIn(tx: Executor, d: repo.DocumentRow, input: DocumentUpdate, actor: string, refs: Refs = {}) {
    if (input.document_id !== undefined && input.document_id !== d.documentId)
      throw Invalid.field("document_id", "cannot be changed");
    const changes: Record<string, unknown> = {};
    const set: { title?: string; content?: string; contentHash?: string; metadata?: Record<string, unknown> } = {};
    if (input.title !== undefined && input.title !== d.title) set.title = changes.title = input.title;
    if (input.content !== undefined) {
      const hash = repo.sha256(input.content);
      if (hash !== d.contentHash) {
        set.content = input.content;
        set.contentHash = changes.content_hash = hash;
        changes.content_bytes = Buffer.byteLength(input.content, "utf8");
      }
    }
    if (input.metadata !== undefined && canonical(input.metadata) !== canonical(d.metadata)) {
      set.metadata = changes.metadata = input.metadata;
    }
    if (Object.keys(set).length === 0) return d;
    const row = await repo.updateDocument(tx, d.id, set);
    if (set.title !== undefined || set.content !== undefined) {
      const chunks = chunkContent(row.content);
      await repo.replaceChunks(tx, row.id, row.title, chunks, reuseModel());
      changes.chunks = chunks.length;
    }
    await appendTrace(tx, {
      event: "knowledge.document_updated",
      actor,
      ...refs,
      data: { document_id: d.id, changes },
    });
    return row;
  }

  async function create(input: DocumentCreate, by: Principal) {
    checkContent(input.content);
    const row = await db
      .transaction((tx) =>
        insertIn(
          tx,
          { documentId: input.document_id, title: input.title, content: input.content, metadata: input.metadata ?? {} },
          by.actor,
        ),
      )
      .catch((err: unknown) => {
        if (isUniqueViolation(err)) throw Invalid.field("document_id", "has already been taken");
        throw err;
      });
    worker?.kick();
    return toApi(row);
  }

  async function get(raw: string) {
    return toApi(await load(db, raw));
  }

  function listFilter(q: DocumentListQuery & Record<string, unknown>): repo.MetadataFilter {
    const filter: repo.MetadataFilter = {};
    if (q.metadata !== undefined) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(q.metadata);
      } catch {
        parsed = undefined;
      }
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
        throw Invalid.field("metadata", 'must be a JSON object, e.g. {"type":"adr"}');
      }
      filter.exact = parsed as Record<string, unknown>;
    }
    for (const [k, v] of Object.entries(q)) {
      const m = /^metadata\[(.+)\]$/.exec(k);
      if (!m) continue;
      if (typeof v !== "string") throw Invalid.field(k, "must be given once");
      checkStorable({ [k]: `${k}${v}` });
      (filter.text ??= {})[m[1]!] = v;
    }
    checkStorable({ metadata: filter.exact });
    return filter;
  }

  async function list(q: DocumentListQuery & Record<string, unknown>) {
    const page = pageOf(q);
    return toPage(await repo.listDocuments(db, listFilter(q), page), page, toApi);
  }

  async function update(raw: string, input: DocumentUpdate, by: Principal) {
    if (input.content !== undefined) checkContent(input.content);
    const row = await db.transaction(async (tx) => updateIn(tx, await load(tx, raw, { lock: true }), input, by.actor));
    worker?.kick();
    return toApi(row);
  }

  async function remove(raw: string, by: Principal) {
    await db.transaction(async (tx) => {
      const d = await load(tx, raw, { lock: true });
      await repo.deleteDocument(tx, d.id);
      await appendTrace(tx, {
        event: "knowledge.document_deleted",
        actor: by.actor,
        data: { document_id: d.id, title: d.title, content_hash: d.contentHash },
      });
    });
  }

  /**
   * Writes the document for a source inside the caller's transaction (e.g. approving a task): created the first
   * time, replaced after, unchanged content writes nothing. The embedding worker finds it on its next poll;
   * call kick() after the caller's commit to start it at once.
   */
  async function upsertFromSource(tx: Executor, doc: SourceDocument, by: Principal) {
    checkContent(doc.content);
    checkStorable({ title: doc.title, content: doc.content, metadata: doc.metadata });
    const existing = await repo.findDocumentBySource(tx, doc.sourceKey);
    const refs = { missionId: doc.missionId, taskId: doc.taskId };
    const row = existing
      ? await updateIn(tx, existing, { title: doc.title, content: doc.content, metadata: doc.metadata }, by.actor, refs)
      : await insertIn(
          tx,
          { title: doc.title, content: doc.content, metadata: doc.metadata, sourceKey: doc.sourceKey },
          by.actor,
          refs,
        );
    return toApi(row);
  }

  async function queryEmbedding(text: string): Promise<SearchPlan["vector"]> {
    if (!vectorReady || !client || text.trim() === "" || Date.now() < endpointDownUntil) return null;
    try {
      const [v] = await client.embed([text], { timeoutMs: queryTimeoutMs });
      onHealth(true);
      return { literal: toVectorLiteral(v!), dims: v!.length, model: client.model };
    } catch (err) {
      onHealth(false);
      logger.warn({ err: (err as Error).message }, "knowledge: query embedding failed; searching lexically");
      return null;
    }
  }

  async function search(body: SearchBody) {
    if (body.query.trim() === "") throw Invalid.field("query", "must not be blank");
    const query = parseQuery(body.query);
    const plan: SearchPlan = {
      query,
      limit: body.limit ?? DEFAULT_SEARCH_LIMIT,
      filter: { exact: body.filter?.metadata },
      vector: await queryEmbedding(query.positive),
    };
    const rows = await db.transaction(async (tx) => {
      // Local to this transaction: the threshold `<%` uses to pick trigram candidates, and no JIT compilation:
      // PostgreSQL cannot estimate how many words a query word matches, and a plan costed high enough to be
      // compiled spent ~70 ms compiling what runs in ~40 (measured on 50,000 documents; PGlite has no JIT).
      await tx.execute(
        sql`SELECT set_config('pg_trgm.word_similarity_threshold', ${String(TRGM_THRESHOLD)}, true), set_config('jit', 'off', true)`,
      );
      return rowsOf<SearchRow>(await tx.execute(searchSql(plan)));
    });
    return rows.map((r) => ({
      document_id: r.key,
      id: Number(r.id),
      title: r.title,
      snippet: r.snippet,
      score: Number(r.score),
      metadata: r.metadata,
    }));
  }

  async function start() {
    if (!embeddings || !client) return;
    const support = await enableVector(database);
    if (!support.ok) {
      logger.warn(
        { reason: support.reason },
        "knowledge: embeddings are configured but pgvector is not available; knowledge search is lexical only",
      );
      return;
    }
    vectorReady = true;
    // A model change (or chunks written while embeddings were off) puts chunks back in the queue.
    const requeued = rowsOf<{ n: number }>(
      await db.execute(sql`
        WITH q AS (
          UPDATE knowledge_chunks
             SET embed_pending = true, embed_next_at = now(), embed_attempts = 0, embed_error = NULL
           WHERE NOT embed_pending AND embedding_model IS DISTINCT FROM ${client.model}
          RETURNING 1)
        SELECT count(*)::int AS n FROM q`),
    )[0]?.n;
    if (requeued)
      logger.info(
        { chunks: requeued, model: client.model },
        "knowledge: re-embedding chunks with the configured model",
      );
    worker = createEmbeddingWorker({ database, client, logger, options: deps.worker, onHealth });
    worker.start();
  }

  async function stop() {
    const w = worker;
    worker = null;
    await w?.stop();
  }

  return {
    create,
    get,
    list,
    update,
    remove,
    search,
    upsertFromSource,
    /** For the task-approval path: the approved task's summary, in the caller's transaction. */
    upsertTaskSummary: (tx: Executor, task: TaskSummaryInput, by: Principal) =>
      upsertFromSource(tx, taskSummaryDocument(task), by),
    start,
    stop,
    kick: () => worker?.kick(),
    /** Whether vector search takes part (embeddings configured and pgvector usable). */
    vectorEnabled: () => vectorReady,
  };
}
