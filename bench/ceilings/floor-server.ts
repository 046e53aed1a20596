// Floor of a traced write (issue 22): a bare Fastify process that does, per request, the least a Mission
// Control write must do under the contract, on node-postgres with a pool of 10 and named statements: in one
// transaction, insert a row, then append its trace entry to its chain (lock the chain's head row, compute the
// new hash from the old one in SQL, insert the entry, queue a NOTIFY), then commit. No authentication, no
// validation, no answer schema, no idempotency; the same single chain for every request, as creates in one
// mission share one. FLOOR_ONE_STATEMENT=1 does all of it in a single statement (no BEGIN/COMMIT round trips).
// PostgreSQL only (DATABASE_URL).
import Fastify from "fastify";
import pg from "pg";

const DDL = `
CREATE TABLE IF NOT EXISTS floor_rows (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, key text NOT NULL UNIQUE,
  body text NOT NULL, at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS floor_chains (chain text PRIMARY KEY, prev_hash text NOT NULL, head_hash text NOT NULL, head_at timestamptz NOT NULL,
  length bigint NOT NULL);
CREATE TABLE IF NOT EXISTS floor_trace (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at timestamptz NOT NULL,
  event text NOT NULL, chain text NOT NULL, key text, data jsonb NOT NULL, prev_hash text NOT NULL, hash text NOT NULL);
CREATE INDEX IF NOT EXISTS floor_trace_chain ON floor_trace (chain, id);
CREATE INDEX IF NOT EXISTS floor_trace_key ON floor_trace (key, id);`;

const INSERT_ROW = "INSERT INTO floor_rows (key, body) VALUES ($1, $2) RETURNING id, key, body, at";
const APPEND = `WITH head AS (
  INSERT INTO floor_chains AS c (chain, prev_hash, head_hash, head_at, length)
  VALUES ($1, 'genesis', encode(sha256(convert_to('genesis' || $2::text, 'UTF8')), 'hex'), now(), 1)
  ON CONFLICT (chain) DO UPDATE SET prev_hash = c.head_hash, head_hash = encode(sha256(convert_to(c.head_hash || $2::text, 'UTF8')), 'hex'),
    head_at = greatest(c.head_at, now()), length = c.length + 1
  RETURNING prev_hash, head_hash, head_at)
INSERT INTO floor_trace (at, event, chain, key, data, prev_hash, hash)
SELECT head.head_at, 'row.created', $1, $3, $2::jsonb, head.prev_hash, head.head_hash FROM head
RETURNING id, pg_notify('floor_trace', id::text)`;
const ONE_STATEMENT = `WITH r AS (INSERT INTO floor_rows (key, body) VALUES ($3, $4) RETURNING id, key, body, at),
head AS (
  INSERT INTO floor_chains AS c (chain, prev_hash, head_hash, head_at, length)
  SELECT $1, 'genesis', encode(sha256(convert_to('genesis' || $2::text, 'UTF8')), 'hex'), now(), 1 FROM r
  ON CONFLICT (chain) DO UPDATE SET prev_hash = c.head_hash, head_hash = encode(sha256(convert_to(c.head_hash || $2::text, 'UTF8')), 'hex'),
    head_at = greatest(c.head_at, now()), length = c.length + 1
  RETURNING prev_hash, head_hash, head_at),
t AS (INSERT INTO floor_trace (at, event, chain, key, data, prev_hash, hash)
  SELECT head.head_at, 'row.created', $1, $3, $2::jsonb, head.prev_hash, head.head_hash FROM head
  RETURNING id, pg_notify('floor_trace', id::text))
SELECT r.id, r.key, r.body, r.at, t.id AS trace_id FROM r, t`;

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
await pool.query(DDL);
const oneStatement = process.env.FLOOR_ONE_STATEMENT === "1";

async function write(key: string, body: string) {
  const data = JSON.stringify({ key, body });
  if (oneStatement) {
    return (await pool.query({ name: "one", text: ONE_STATEMENT, values: ["m", data, key, body] })).rows[0];
  }
  const c = await pool.connect();
  try {
    await c.query("BEGIN");
    const row = (await c.query({ name: "row", text: INSERT_ROW, values: [key, body] })).rows[0];
    await c.query({ name: "append", text: APPEND, values: ["m", data, key] });
    await c.query("COMMIT");
    return row;
  } catch (err) {
    await c.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    c.release();
  }
}

const app = Fastify({ logger: false });
app.post<{ Body: { key: string; body: string } }>("/", async (req, reply) => {
  reply.code(201);
  return write(req.body.key, req.body.body);
});
await app.listen({ host: "127.0.0.1", port: Number(process.env.PORT ?? 0) });
const stop = () =>
  void app
    .close()
    .then(() => pool.end())
    .then(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
