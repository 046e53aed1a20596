-- Knowledge search needs trigram similarity (typos, partial words). pg_trgm is a contrib extension that ships
-- with PostgreSQL and PGlite and is trusted (a database owner may create it). pgvector is NOT created here:
-- it is optional and often missing on PostgreSQL, so the server adds it, with the embedding column, at
-- start-up only where it is available (src/knowledge/knowledge.vector.ts).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
