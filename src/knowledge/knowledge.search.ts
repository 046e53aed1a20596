// Hybrid search, one SQL statement. Up to three ranked lists of documents are fused by reciprocal rank fusion
// (score = Σ 1 / (60 + rank)):
//   fts   full-text search over chunks (title weight A, body weight B). Each query word is a group: its stemmed
//         lexeme (as a prefix from 4 letters on, so "postgr" finds PostgreSQL) or, when the corpus does not
//         contain the word at all, the corpus words most like it by pg_trgm similarity (so "desgn" finds
//         "design"). A chunk matching only some groups still ranks: more groups, then the exact
//         websearch_to_tsquery match, then ts_rank_cd decide. Candidates come in tiers: chunks matching every
//         group, then (only while those are fewer than the candidates wanted) all but one, then any; each tier
//         ranks at most TIER_CAP chunks. That bounds the work for common words on a large corpus.
//   trgm  pg_trgm similarity: the query words against the titles' words (each query word scores a title by its
//         most similar title word; counting double), plus the similarity with which each group matched the
//         chunk (1 for the word itself, less for a correction).
//   vec   cosine distance to the query's embedding, when embeddings are configured and pgvector is present.
// A document's snippet is its best chunk (by fts, then vec, then trgm), HTML-escaped, with the matched words
// (corrections included) wrapped in <mark>…</mark>.
import { sql, type SQL } from "drizzle-orm";
import { metadataWhere, type MetadataFilter } from "./knowledge.repo.js";

/** word_similarity threshold for `<%` (pg_trgm's default 0.6 misses common typos: "desgn" 0.5, "onbaording" 0.47). */
export const TRGM_THRESHOLD = 0.45;
/** Candidates each list contributes to the fusion. */
export const CANDIDATES = 100;
/** Chunks ranked per full-text tier at most (a common word can match most of the corpus). */
export const TIER_CAP = 1000;
/** Corrections looked up per query word the corpus does not contain. */
const CORRECTIONS = 3;
const RRF_K = 60;
const MAX_TOKENS = 16;

export interface QueryToken {
  ord: number;
  /** The token as typed: its lexemes come from to_tsvector, like the documents'. */
  t: string;
  /** Lower-case letters and digits, 3–40 long, for trigram matching; null for anything else ("a@b.c", "x"). */
  k: string | null;
  /** Whether corrections may be looked up for it (4+ characters, with a letter). */
  fix: boolean;
}

export interface ParsedQuery {
  /** The query as typed, for websearch_to_tsquery (quotes, `or`, `-word`). */
  full: string;
  /** The query without its negated parts: what the tokens and the embedding are taken from. */
  positive: string;
  /** Words and phrases after a `-`: a document containing any of them is left out. */
  negatives: string[];
  /** Distinct whitespace-separated tokens of the positive part, at most 16. */
  tokens: QueryToken[];
}

export function parseQuery(query: string): ParsedQuery {
  const positive: string[] = [];
  const negatives: string[] = [];
  const token = /(-?)"([^"]*)"?|(\S+)/g;
  for (let m = token.exec(query); m; m = token.exec(query)) {
    if (m[2] !== undefined) {
      const phrase = m[2].trim();
      if (phrase) (m[1] ? negatives : positive).push(phrase);
      continue;
    }
    const word = m[3]!;
    if (/^-+$/.test(word)) continue;
    if (word.startsWith("-")) negatives.push(word.slice(1));
    else positive.push(word);
  }
  const tokens: QueryToken[] = [];
  const seen = new Set<string>();
  for (const t of positive.join(" ").split(/\s+/)) {
    const lower = t.toLowerCase();
    if (t === "" || seen.has(lower)) continue;
    seen.add(lower);
    const stripped = lower.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, "");
    const k = /^[\p{L}\p{N}]{3,40}$/u.test(stripped) ? stripped : null;
    tokens.push({ ord: tokens.length, t, k, fix: k !== null && k.length >= 4 && /\p{L}/u.test(k) });
    if (tokens.length === MAX_TOKENS) break;
  }
  return { full: query.trim(), positive: positive.join(" "), negatives, tokens };
}

export interface SearchPlan {
  query: ParsedQuery;
  limit: number;
  filter: MetadataFilter;
  /** The query's embedding, when vector search takes part. */
  vector: { literal: string; dims: number; model: string } | null;
  /** Candidates per list; CANDIDATES unless a test wants to see the tiers at work on a small corpus. */
  candidates?: number;
}

// A lexeme column as tsquery text: quoted (tsquery escaping: '' and \\), optionally as a prefix.
const quotedLex = (col: string) => `'''' || replace(replace(${col}, '\\', '\\\\'), '''', '''''') || ''''`;
const prefixTerm = (col: string) => `${quotedLex(col)} || CASE WHEN length(${col}) >= 4 THEN ':*' ELSE '' END`;
const escapeHtml = (expr: string) => `replace(replace(replace(${expr}, '&', '&amp;'), '<', '&lt;'), '>', '&gt;')`;
// One passage (MaxFragments=0): ts_headline picks the stretch with the best cover of the query's words.
const HEADLINE_OPTS = "MaxWords=35, MinWords=15, ShortWord=2, StartSel=<mark>, StopSel=</mark>";

export function searchSql(p: SearchPlan): SQL {
  const { query: q, filter } = p;
  const K = p.candidates ?? CANDIDATES;
  const docFilter = metadataWhere(sql.raw("fd.metadata"), filter);
  // Each list sees only documents that pass the metadata filter.
  const join = (chunkAlias: string) =>
    docFilter ? sql`JOIN knowledge_documents fd ON fd.id = ${sql.raw(chunkAlias)}.document_id AND ${docFilter}` : sql``;
  const titleFilter = docFilter ? sql`JOIN knowledge_documents fd ON fd.id = p.document_id AND ${docFilter}` : sql``;

  const vec = p.vector;
  const dims = vec ? sql.raw(String(Math.trunc(vec.dims))) : null;
  const vecCte = vec
    ? sql`,
    vec AS (
      SELECT document_id, chunk_id, row_number() OVER (ORDER BY dist, document_id) AS r
        FROM (SELECT DISTINCT ON (document_id) document_id, chunk_id, dist
                FROM (SELECT c.document_id, c.id AS chunk_id,
                             (c.embedding::vector(${dims})) <=> ${vec.literal}::vector(${dims}) AS dist
                        FROM knowledge_chunks c ${join("c")}
                       WHERE c.embedding_dims = ${dims} AND c.embedding_model = ${vec.model}
                       ORDER BY (c.embedding::vector(${dims})) <=> ${vec.literal}::vector(${dims})
                       LIMIT ${K * 4}) AS nn
               ORDER BY document_id, dist) AS best
       ORDER BY r
       LIMIT ${K})`
    : sql``;
  const vecHits = vec ? sql`UNION ALL SELECT document_id, chunk_id, r, 1 AS src FROM vec` : sql``;

  const negated =
    q.negatives.length > 0
      ? sql`AND NOT EXISTS (
          SELECT 1 FROM jsonb_array_elements_text(${JSON.stringify(q.negatives)}::jsonb) AS n(t)
            JOIN knowledge_chunks cx ON cx.document_id = f.document_id
           WHERE numnode(phraseto_tsquery('english', n.t)) > 0 AND cx.tsv @@ phraseto_tsquery('english', n.t))`
      : sql``;

  return sql`
    WITH toks AS (
      SELECT x.ord, x.t, x.k, x.fix FROM jsonb_to_recordset(${JSON.stringify(q.tokens)}::jsonb) AS x(ord int, t text, k text, fix boolean)
    ),
    own_lex AS (
      SELECT toks.ord, l.lex FROM toks, unnest(tsvector_to_array(to_tsvector('english', toks.t))) AS l(lex)
    ),
    live AS (SELECT DISTINCT ord FROM own_lex),
    fixes AS (
      -- Only for words the corpus does not contain: a word it contains is not a typo.
      SELECT toks.ord, f.term, f.s
        FROM toks
        JOIN live ON live.ord = toks.ord
        CROSS JOIN LATERAL (
          SELECT kt.term, word_similarity(toks.k, kt.term) AS s
            FROM knowledge_terms kt
           WHERE toks.k <% kt.term
           ORDER BY word_similarity(toks.k, kt.term) DESC, similarity(toks.k, kt.term) DESC, kt.term
           LIMIT ${sql.raw(String(CORRECTIONS))}) AS f
       WHERE toks.fix AND NOT EXISTS (SELECT 1 FROM knowledge_terms e WHERE e.term = toks.k)
    ),
    fix_lex AS (
      SELECT fixes.ord, l.lex, max(fixes.s) AS s
        FROM fixes, unnest(tsvector_to_array(to_tsvector('english', fixes.term))) AS l(lex)
       GROUP BY fixes.ord, l.lex
    ),
    gq AS (
      SELECT live.ord,
             o.own_text,
             concat_ws(' | ', o.own_text, fx.fix_text) AS q_text,
             coalesce(fx.fix_s, 0)::float8 AS fix_s
        FROM live
        CROSS JOIN LATERAL (SELECT string_agg(${sql.raw(prefixTerm("lex"))}, ' | ') AS own_text
                              FROM own_lex WHERE own_lex.ord = live.ord) AS o
        CROSS JOIN LATERAL (SELECT string_agg(${sql.raw(quotedLex("lex"))}, ' | ') AS fix_text, max(s) AS fix_s
                              FROM fix_lex WHERE fix_lex.ord = live.ord) AS fx
    ),
    lq AS (
      SELECT g.loose_text, g.loose_text::tsquery AS loose, g.all_text::tsquery AS all_q,
             -- "All groups but one", for two groups or more: (b & c) | (a & c) | (a & b).
             (SELECT string_agg('(' || (SELECT string_agg('(' || g2.q_text || ')', ' & ' ORDER BY g2.ord)
                                          FROM gq g2 WHERE g2.ord <> g1.ord) || ')', ' | ' ORDER BY g1.ord)
                FROM gq g1
              HAVING count(*) >= 2)::tsquery AS minus1_q,
             g.group_qs, g.own_qs, g.fix_ss,
             CASE WHEN numnode(s.q) > 0 THEN s.q END AS strict
        FROM (SELECT websearch_to_tsquery('english', ${q.full}::text) AS q) AS s,
             (SELECT string_agg('(' || q_text || ')', ' | ' ORDER BY ord) AS loose_text,
                     string_agg('(' || q_text || ')', ' & ' ORDER BY ord) AS all_text,
                     array_agg(q_text::tsquery ORDER BY ord) AS group_qs,
                     array_agg(own_text::tsquery ORDER BY ord) AS own_qs,
                     array_agg(fix_s ORDER BY ord) AS fix_ss
                FROM gq) AS g
    ),
    tier_all AS (
      SELECT c.id AS chunk_id, c.document_id, c.tsv FROM lq, knowledge_chunks c ${join("c")}
       WHERE c.tsv @@ lq.all_q
       LIMIT ${TIER_CAP}
    ),
    tier_most AS (
      -- The next tier is looked at only while the one before found fewer candidates than wanted.
      SELECT c.id AS chunk_id, c.document_id, c.tsv FROM lq, knowledge_chunks c ${join("c")}
       WHERE c.tsv @@ lq.minus1_q AND NOT (c.tsv @@ lq.all_q)
         AND (SELECT count(*) FROM tier_all) < ${K}
       LIMIT ${TIER_CAP}
    ),
    tier_any AS (
      SELECT c.id AS chunk_id, c.document_id, c.tsv FROM lq, knowledge_chunks c ${join("c")}
       WHERE c.tsv @@ lq.loose AND NOT coalesce(c.tsv @@ lq.minus1_q, false) AND NOT (c.tsv @@ lq.all_q)
         AND (SELECT count(*) FROM tier_all) + (SELECT count(*) FROM tier_most) < ${K}
       LIMIT ${TIER_CAP}
    ),
    cand AS (
      -- The tiers carry what scoring needs, so their chunks are not looked up again by id.
      SELECT document_id, chunk_id, tsv FROM tier_all
      UNION ALL SELECT document_id, chunk_id, tsv FROM tier_most
      UNION ALL SELECT document_id, chunk_id, tsv FROM tier_any
    ),
    scored AS (
      SELECT cand.document_id, cand.chunk_id, sc.coverage, sc.sim,
             coalesce(cand.tsv @@ lq.strict, false) AS strict_hit,
             ts_rank_cd('{0.1, 0.2, 0.4, 1.0}', cand.tsv, lq.loose, 1) AS rank
        FROM cand, lq,
             LATERAL (SELECT count(*) FILTER (WHERE cand.tsv @@ g.q) AS coverage,
                             sum(CASE WHEN cand.tsv @@ g.own THEN 1 WHEN cand.tsv @@ g.q THEN g.fs ELSE 0 END) AS sim
                        FROM unnest(lq.group_qs, lq.own_qs, lq.fix_ss) AS g(q, own, fs)) AS sc
    ),
    fts AS (
      SELECT document_id, chunk_id, row_number() OVER (ORDER BY coverage DESC, strict_hit DESC, rank DESC, document_id) AS r
        FROM (SELECT DISTINCT ON (document_id) document_id, chunk_id, coverage, strict_hit, rank
                FROM scored
               ORDER BY document_id, coverage DESC, strict_hit DESC, rank DESC, chunk_id) AS best
       ORDER BY r
       LIMIT ${K}
    ),
    title_hits AS (
      -- Titles by their words: each query word scores a title by its most similar title word (1 for the word
      -- itself), the words found through the title vocabulary's trigram index, their documents by index. The
      -- lateral subquery (OFFSET 0 keeps it one) makes each matching word an index lookup of its documents:
      -- the planner, which cannot estimate how many words match, would otherwise scan every title word.
      SELECT tw.document_id, sum(tw.s) AS s
        FROM (SELECT w.ord, p.document_id, max(w.s) AS s
                FROM (SELECT toks.ord, v.word, word_similarity(toks.k, v.word) AS s
                        FROM toks
                        JOIN live ON live.ord = toks.ord
                        JOIN knowledge_title_words v ON toks.k <% v.word) AS w
                CROSS JOIN LATERAL (SELECT x.document_id FROM knowledge_document_title_words x
                                     WHERE x.word = w.word OFFSET 0) AS p
                ${titleFilter}
               GROUP BY w.ord, p.document_id) AS tw
       GROUP BY tw.document_id
    ),
    trgm AS (
      SELECT document_id, chunk_id, row_number() OVER (ORDER BY s DESC, document_id) AS r
        FROM (SELECT coalesce(b.document_id, t.document_id) AS document_id, b.chunk_id,
                     coalesce(b.sim, 0) + 2 * coalesce(t.s, 0) AS s
                FROM (SELECT DISTINCT ON (document_id) document_id, chunk_id, sim
                        FROM scored ORDER BY document_id, sim DESC, rank DESC, chunk_id) AS b
                FULL JOIN title_hits t ON t.document_id = b.document_id) AS x
       ORDER BY r
       LIMIT ${K}
    )${vecCte},
    hits AS (
      SELECT document_id, chunk_id, r, 0 AS src FROM fts
      ${vecHits}
      UNION ALL SELECT document_id, chunk_id, r, 2 AS src FROM trgm
    ),
    fused AS (
      SELECT document_id,
             sum(1.0 / (${sql.raw(String(RRF_K))} + r))::float8 AS score,
             (array_agg(chunk_id ORDER BY src, r) FILTER (WHERE chunk_id IS NOT NULL))[1] AS chunk_id,
             min(r) FILTER (WHERE src = 0) AS fts_r
        FROM hits
       GROUP BY document_id
    ),
    top AS (
      SELECT f.document_id, f.score, f.fts_r,
             coalesce(f.chunk_id, (SELECT c0.id FROM knowledge_chunks c0
                                    WHERE c0.document_id = f.document_id AND c0.ordinal = 0)) AS chunk_id
        FROM fused f
       WHERE true ${negated}
       ORDER BY f.score DESC, f.fts_r NULLS LAST, f.document_id
       LIMIT ${p.limit}
    )
    SELECT d.id, d.document_id AS key, d.title, d.metadata, t.score,
           btrim(regexp_replace(coalesce(
             ts_headline('english', ${sql.raw(escapeHtml("ch.text"))}, lq.loose, ${HEADLINE_OPTS}),
             ${sql.raw(escapeHtml("left(ch.text, 240)"))}), '\\s+', ' ', 'g')) AS snippet
      FROM top t
      JOIN knowledge_documents d ON d.id = t.document_id
      JOIN knowledge_chunks ch ON ch.id = t.chunk_id
      CROSS JOIN lq
     ORDER BY t.score DESC, t.fts_r NULLS LAST, t.document_id`;
}

export interface SearchRow {
  id: number;
  key: string;
  title: string;
  metadata: Record<string, unknown>;
  score: number;
  snippet: string;
}
