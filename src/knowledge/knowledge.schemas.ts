import { Type, type Static } from "@sinclair/typebox";
import { boundedJson, JsonObject, nameSchemas, Timestamp } from "../core/envelope.js";
import { PageQuery } from "../core/pagination.js";
import { KeySchema } from "../core/ids.js";

/** Content is limited to 1 MiB of UTF-8 (checked in the service; the schema bounds characters). */
export const MAX_CONTENT_BYTES = 1024 * 1024;
export const MAX_TITLE = 1000;
export const MAX_SEARCH_LIMIT = 50;
export const DEFAULT_SEARCH_LIMIT = 10;

const Title = Type.String({ minLength: 1, maxLength: MAX_TITLE });
const Content = Type.String({
  minLength: 1,
  maxLength: MAX_CONTENT_BYTES,
  description: "Markdown or plain text, up to 1 MiB (UTF-8). Longer documents are searched passage by passage.",
});

export const DocumentCreate = Type.Object(
  {
    document_id: Type.Optional(
      Type.String({
        ...KeySchema,
        description:
          "the document's key (unique; generated when omitted): 1–128 characters of [A-Za-z0-9._:-], not all digits",
      }),
    ),
    title: Title,
    content: Content,
    metadata: Type.Optional(JsonObject),
  },
  {
    additionalProperties: false,
    examples: [
      { title: "Architecture Decision Record", content: "We chose PostgreSQL because...", metadata: { type: "adr" } },
    ],
  },
);
export type DocumentCreate = Static<typeof DocumentCreate>;

export const DocumentUpdate = Type.Object(
  {
    document_id: Type.Optional(Type.String({ description: "keys cannot be changed; a different value is 422" })),
    title: Type.Optional(Title),
    content: Type.Optional(Content),
    metadata: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), boundedJson({ description: "replaces the whole object" })),
    ),
  },
  { additionalProperties: false },
);
export type DocumentUpdate = Static<typeof DocumentUpdate>;

export const Document = Type.Object({
  id: Type.Integer(),
  document_id: Type.String({ description: "the document's key; paths accept it or the integer id" }),
  title: Type.String(),
  content: Type.String(),
  metadata: JsonObject,
  inserted_at: Timestamp,
  updated_at: Timestamp,
});

export const DocumentListQuery = Type.Object({
  metadata: Type.Optional(
    Type.String({
      description:
        'A JSON object; only documents whose metadata has exactly these top-level values are listed, e.g. `{"type":"adr"}`. ' +
        "`metadata[<key>]=<value>` parameters filter the same way, comparing the value as text.",
    }),
  ),
  ...PageQuery,
});
export type DocumentListQuery = Static<typeof DocumentListQuery>;

export const DocumentIdParam = Type.Object({
  id: Type.String({ description: "the document's integer id or its key (document_id)" }),
});

export const SearchBody = Type.Object(
  {
    query: Type.String({
      minLength: 1,
      maxLength: 1000,
      description: 'Words as typed into a search box; `"phrase"`, `or` and `-word` work as in websearch_to_tsquery.',
    }),
    limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_SEARCH_LIMIT,
        description: `1–${MAX_SEARCH_LIMIT}; default ${DEFAULT_SEARCH_LIMIT}`,
      }),
    ),
    filter: Type.Optional(
      Type.Object(
        {
          metadata: Type.Optional(
            Type.Record(
              Type.String(),
              Type.Unknown(),
              boundedJson({
                description: "Only documents whose metadata has exactly these top-level values (compared as JSON).",
              }),
            ),
          ),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, examples: [{ query: "authentication design decisions", limit: 5 }] },
);
export type SearchBody = Static<typeof SearchBody>;

export const SearchHit = Type.Object({
  document_id: Type.String({ description: "the document's key" }),
  id: Type.Integer({ description: "the document's integer id" }),
  title: Type.String(),
  snippet: Type.String({
    description: "The best-matching passage, HTML-escaped, with matched words wrapped in `<mark>…</mark>`.",
  }),
  score: Type.Number({
    description: "Reciprocal-rank-fusion score; higher is better. Comparable within one response only.",
  }),
  metadata: JsonObject,
});

// Names in the OpenAPI document's components.schemas (src/http/openapi.ts).
nameSchemas({ Document, DocumentCreate, DocumentUpdate, SearchBody, SearchHit });
