import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { Data, ListOf } from "../core/envelope.js";
import {
  Document,
  DocumentCreate,
  DocumentIdParam,
  DocumentListQuery,
  DocumentUpdate,
  MAX_CONTENT_BYTES,
  SearchBody,
  SearchHit,
} from "./knowledge.schemas.js";
import type { KnowledgeService } from "./knowledge.service.js";

/**
 * Document writes accept up to 1 MiB of content, which JSON escaping can blow up several times over; the
 * content's own limit is checked by the service (422), the transport limit only stops absurd bodies (413).
 */
export const DOCUMENT_BODY_LIMIT = 8 * MAX_CONTENT_BYTES;

export const knowledgeRoutes: FastifyPluginAsyncTypebox<{ knowledge: KnowledgeService; bodyLimit: number }> = async (
  app,
  { knowledge, bodyLimit },
) => {
  const tags = ["knowledge"];
  const writeLimit = Math.max(bodyLimit, DOCUMENT_BODY_LIMIT);

  app.post(
    "/api/knowledge/documents",
    {
      bodyLimit: writeLimit,
      config: { access: "member", wrap: "document" },
      schema: {
        tags,
        summary: "Store document",
        description:
          'Body may be wrapped (`{"document": {...}}`) or bare. Content up to 1 MiB; it is split into passages for ' +
          "search and, when an embeddings endpoint is configured, embedded in the background.",
        body: DocumentCreate,
        response: { 201: Data(Document) },
      },
    },
    async (req, reply) => {
      const data = await knowledge.create(req.body, req.principal);
      reply.code(201).header("location", `/api/knowledge/documents/${data.id}`);
      return { data };
    },
  );

  app.get(
    "/api/knowledge/documents",
    {
      config: { access: "member" },
      schema: {
        tags,
        summary: "List documents",
        description: 'Oldest first. Filter by metadata: `metadata={"type":"adr"}` (JSON) or `metadata[type]=adr`.',
        querystring: DocumentListQuery,
        response: { 200: ListOf(Document) },
      },
    },
    async (req) => knowledge.list(req.query as typeof req.query & Record<string, unknown>),
  );

  app.get(
    "/api/knowledge/documents/:id",
    {
      config: { access: "agent" },
      schema: {
        tags,
        summary: "Get document",
        description: "Agent tokens may read documents too: search already shows them every document's passages.",
        params: DocumentIdParam,
        response: { 200: Data(Document) },
      },
    },
    async (req) => ({ data: await knowledge.get(req.params.id) }),
  );

  app.patch(
    "/api/knowledge/documents/:id",
    {
      bodyLimit: writeLimit,
      config: { access: "member", wrap: "document" },
      schema: {
        tags,
        summary: "Update document",
        description:
          "Changes only the fields named; `metadata` replaces the whole object. New title or content is re-indexed.",
        params: DocumentIdParam,
        body: DocumentUpdate,
        response: { 200: Data(Document) },
      },
    },
    async (req) => ({ data: await knowledge.update(req.params.id, req.body, req.principal) }),
  );

  app.delete(
    "/api/knowledge/documents/:id",
    {
      config: { access: "member" },
      schema: { tags, summary: "Delete document", params: DocumentIdParam, response: { 204: Type.Null() } },
    },
    async (req, reply) => {
      await knowledge.remove(req.params.id, req.principal);
      reply.code(204);
      return null;
    },
  );

  app.post(
    "/api/knowledge/search",
    {
      config: { access: "agent" },
      schema: {
        tags,
        summary: "Search knowledge",
        description:
          "Hybrid search: full-text (stemmed words, title weighs more than body, documents matching only some words " +
          "still rank), trigram similarity (typos, partial words) and, when embeddings are configured and pgvector is " +
          "available, vector similarity, fused by reciprocal rank. Best first, at most `limit` (1–50, default 10). " +
          "`filter.metadata` keeps documents whose metadata has exactly the given top-level values. With embeddings, " +
          "the nearest passages are returned even when no word matches. Agent tokens may search.",
        body: SearchBody,
        response: { 200: Data(Type.Array(SearchHit)) },
      },
    },
    async (req) => ({ data: await knowledge.search(req.body) }),
  );
};
