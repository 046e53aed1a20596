// The floors of issue 22 (`npm run bench:floor`): a bare Fastify process that does, per request, the least a
// Mission Control request must do under the contract, and nothing else: no authentication, no validation, no
// answer schema, no idempotency, no request log. On PostgreSQL (FLOOR_DATABASE_URL: node-postgres, a pool of 10,
// named statements) or on PGlite (FLOOR_DATA_DIR: on the request thread, statements prepared by text as
// Mission Control's embedded backend does; the least work, since Mission Control's default also pays the
// hand-over to its worker thread).
// - POST /        a traced create: insert a row, append its trace entry to its chain (lock the chain's head
//                 row, compute the new hash from the old one in SQL, insert the entry, queue a NOTIFY), commit.
//                 The same single chain for every request, as creates in one mission share one.
//                 FLOOR_ONE_STATEMENT=1 does it in one statement, else as a transaction of four round trips.
// - PATCH /rows/:id  a traced status change, in one statement: update the row, append its entry.
// - GET /page?after=N  a page of 50 of a 1,300-row "mission" in id order (51 read, for the next cursor), each
//                 row of about the size of a listed task (its objective, status, priority, keys and two
//                 timestamps formatted by the database), as Mission Control's list reads it; JSON.stringify'd.
// - GET /tasks/:key  one of those rows by its key, one statement.
// - POST /agents/:key/activity  a heartbeat as Mission Control answers one it coalesces: no database, the agent
//                 record kept in memory gets its last_seen_at, and the record is the answer.
// Under /contract/ the get and the heartbeat again, with the work the contract asks of every request on top:
// the bearer token hashed (SHA-256) and looked up among known ones (401 if unknown), an x-request-id, the
// body validated (Mission Control's ActivityReport schema) and the answer serialized by a response schema
// (Mission Control's Agent schema; the row's own for the get). What Mission Control spends beyond these is
// its own machinery; tokens are FLOOR_TOKEN_PREFIX + 0..FLOOR_TOKENS-1 (bench/floor.ts sends them).
import { Type } from "@sinclair/typebox";
import Fastify, { type FastifyReply, type FastifyRequest } from "fastify";
import pg from "pg";
import { ActivityReport, Agent } from "../../src/agents/agents.schemas.js";
import { Data } from "../../src/core/envelope.js";
import { bearerSecret } from "../../src/http/auth.js";
import { requestId } from "../../src/http/request-id.js";
import { validatorCompiler } from "../../src/http/validation.js";
import { hashSecret } from "../../src/tokens/tokens.service.js";
import { openDatabase } from "../../src/db/client.js";
import { createNamedQueries } from "../../src/db/pglite-named.js";

const DDL = `
CREATE TABLE IF NOT EXISTS floor_rows (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, key text NOT NULL UNIQUE,
  body text NOT NULL, status text NOT NULL DEFAULT 'pending', at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS floor_chains (chain text PRIMARY KEY, prev_hash text NOT NULL, head_hash text NOT NULL, head_at timestamptz NOT NULL,
  length bigint NOT NULL);
CREATE TABLE IF NOT EXISTS floor_trace (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at timestamptz NOT NULL,
  event text NOT NULL, chain text NOT NULL, key text, data jsonb NOT NULL, prev_hash text NOT NULL, hash text NOT NULL);
CREATE INDEX IF NOT EXISTS floor_trace_chain ON floor_trace (chain, id);
CREATE INDEX IF NOT EXISTS floor_trace_key ON floor_trace (key, id);
CREATE TABLE IF NOT EXISTS floor_tasks (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, task_id text NOT NULL UNIQUE,
  mission_id text NOT NULL, objective text NOT NULL, status text NOT NULL, agent_id text,
  sprint_id text, requirement_ids jsonb NOT NULL DEFAULT '[]', required_capabilities jsonb NOT NULL DEFAULT '[]',
  priority_n integer, outputs jsonb NOT NULL DEFAULT '{}',
  inserted_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS floor_tasks_mission ON floor_tasks (mission_id, id);`;

/** 1,300 listed tasks and 500 rows to change, once. */
const SEED = `
INSERT INTO floor_tasks (task_id, mission_id, objective, status, priority_n, agent_id)
SELECT 'task-' || g, 'floor-list', 'Listed task ' || g || ': ' || trim(repeat('implement the login page and its tests ', 4)),
  'pending', g % 5, 'agent-' || (g % 7)
FROM generate_series(1, 1300) g WHERE NOT EXISTS (SELECT 1 FROM floor_tasks);
INSERT INTO floor_rows (key, body) SELECT 'seed-' || g, 'row ' || g FROM generate_series(1, 500) g
WHERE NOT EXISTS (SELECT 1 FROM floor_rows);
ANALYZE;`;

const INSERT_ROW = "INSERT INTO floor_rows (key, body) VALUES ($1, $2) RETURNING id, key, body, at";
const HEAD = `INSERT INTO floor_chains AS c (chain, prev_hash, head_hash, head_at, length)
  SELECT $1, 'genesis', encode(sha256(convert_to('genesis' || $2::text, 'UTF8')), 'hex'), now(), 1 FROM r
  ON CONFLICT (chain) DO UPDATE SET prev_hash = c.head_hash, head_hash = encode(sha256(convert_to(c.head_hash || $2::text, 'UTF8')), 'hex'),
    head_at = greatest(c.head_at, now()), length = c.length + 1
  RETURNING prev_hash, head_hash, head_at`;
const APPEND = `WITH r AS (SELECT 1), head AS (${HEAD})
INSERT INTO floor_trace (at, event, chain, key, data, prev_hash, hash)
SELECT head.head_at, 'row.created', $1, $3, $2::jsonb, head.prev_hash, head.head_hash FROM head
RETURNING id, pg_notify('floor_trace', id::text)`;
const traced = (row: string, event: string) => `WITH r AS (${row}), head AS (${HEAD}),
t AS (INSERT INTO floor_trace (at, event, chain, key, data, prev_hash, hash)
  SELECT head.head_at, '${event}', $1, $3, $2::jsonb, head.prev_hash, head.head_hash FROM head, r
  RETURNING id, pg_notify('floor_trace', id::text))
SELECT r.id, r.key, r.body, r.at, t.id AS trace_id FROM r, t`;
const CREATE_ONE = traced(
  "INSERT INTO floor_rows (key, body) VALUES ($3, $4) RETURNING id, key, body, status, at",
  "row.created",
);
// As a status PATCH must: lock the row and read its status, change it only if it is a move (here: to another
// status), and trace the move with its from and to.
const UPDATE_ONE = traced(
  `UPDATE floor_rows f SET status = $4, at = now()
   FROM (SELECT id, status FROM floor_rows WHERE id = $5::bigint FOR UPDATE) old
   WHERE f.id = old.id AND old.status <> $4
   RETURNING f.id, f.key, f.body, f.status, f.at, old.status AS from_status`,
  "row.status_changed",
).replace("$2::jsonb", "jsonb_build_object('from', r.from_status, 'to', $4::text) || $2::jsonb");
const ts = (c: string) => `to_char(${c} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
const LIST = `SELECT id, task_id, mission_id, objective, status, agent_id, sprint_id, requirement_ids,
  required_capabilities, priority_n AS priority, outputs,
  ${ts("inserted_at")} AS inserted_at, ${ts("updated_at")} AS updated_at
FROM floor_tasks WHERE mission_id = $1 AND id > $2::bigint ORDER BY id LIMIT 51`;
const GET = LIST.replace(/WHERE .*$/, "WHERE task_id = $1");

type Row = Record<string, unknown>;
interface Backend {
  one(name: string, text: string, values: unknown[]): Promise<Row[]>;
  transaction<T>(fn: (q: (name: string, text: string, values: unknown[]) => Promise<Row[]>) => Promise<T>): Promise<T>;
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

async function postgres(url: string): Promise<Backend> {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  return {
    one: async (name, text, values) => (await pool.query({ name, text, values })).rows,
    async transaction(fn) {
      const c = await pool.connect();
      try {
        await c.query("BEGIN");
        const out = await fn(async (name, text, values) => (await c.query({ name, text, values })).rows);
        await c.query("COMMIT");
        return out;
      } catch (err) {
        await c.query("ROLLBACK").catch(() => {});
        throw err;
      } finally {
        c.release();
      }
    },
    exec: async (sql) => void (await pool.query(sql)),
    close: () => pool.end(),
  };
}

async function pglite(dataDir: string): Promise<Backend> {
  const database = await openDatabase({ databaseUrl: null, dataDir, pgliteThread: false });
  const client = database.client!;
  const named = createNamedQueries(client);
  return {
    one: (name, text, values) => named.named<Row>(name, text, values),
    // Each statement of the transaction prepared by its text too, as Mission Control's worker does.
    transaction: (fn) =>
      client.transaction((tx) =>
        fn(async (_n, text, values) => (await named.query(text, values, undefined, tx)).rows as Row[]),
      ),
    exec: async (sql) => void (await client.exec(sql)),
    close: () => database.close(),
  };
}

const db = process.env.FLOOR_DATA_DIR
  ? await pglite(process.env.FLOOR_DATA_DIR)
  : await postgres(process.env.FLOOR_DATABASE_URL!);
await db.exec(DDL);
await db.exec(SEED);
const oneStatement = process.env.FLOOR_ONE_STATEMENT === "1";

const app = Fastify({ logger: false });
app.post<{ Body: { key: string; body: string } }>("/", async (req, reply) => {
  const { key, body } = req.body;
  const data = JSON.stringify({ key, body });
  reply.code(201);
  if (oneStatement) return (await db.one("create", CREATE_ONE, ["m", data, key, body]))[0];
  return db.transaction(async (q) => {
    const [row] = await q("row", INSERT_ROW, [key, body]);
    await q("append", APPEND, ["m", data, key]);
    return row;
  });
});
app.patch<{ Params: { id: string }; Body: { status: string } }>("/rows/:id", async (req) => {
  const data = JSON.stringify({ id: req.params.id, status: req.body.status });
  const [row] = await db.one("update", UPDATE_ONE, ["m", data, `row-${req.params.id}`, req.body.status, req.params.id]);
  return row;
});
app.get<{ Querystring: { after?: string } }>("/page", async (req) => {
  const rows = await db.one("list", LIST, ["floor-list", Number(req.query.after ?? 0)]);
  const data = rows.slice(0, 50);
  return { data, meta: { next_cursor: rows.length > 50 ? String(data.at(-1)!.id) : null } };
});
async function getTask(req: FastifyRequest<{ Params: { key: string } }>, reply: FastifyReply) {
  const [row] = await db.one("get", GET, [req.params.key]);
  if (!row) return reply.code(404).send({ errors: { detail: "Not Found" } });
  return { data: row };
}
app.get("/tasks/:key", getTask);

/** An agent record as Mission Control answers a heartbeat with, one per key, kept in memory. */
const agents = new Map<string, Record<string, unknown>>();
function heartbeat(key: string) {
  let a = agents.get(key);
  if (!a) {
    const at = new Date();
    a = {
      id: agents.size + 1,
      agent_id: key,
      name: key,
      adapter_module: "manual",
      capabilities: [],
      config: {},
      warnings: [],
      status: "idle",
      status_reason: "registered by its first heartbeat",
      status_since: at,
      current_task_id: null,
      last_seen_at: at,
      last_event: null,
      run: null,
      inserted_at: at,
      updated_at: at,
    };
    agents.set(key, a);
  }
  a.last_seen_at = new Date();
  return a;
}
app.post<{ Params: { key: string } }>("/agents/:key/activity", async (req) => ({ data: heartbeat(req.params.key) }));

const tokenPrefix = process.env.FLOOR_TOKEN_PREFIX ?? "floor-token-";
// Mission Control's own pieces: its bearer parsing, its token hash, its request id.
const tokens = new Map(
  Array.from({ length: Number(process.env.FLOOR_TOKENS ?? 100) }, (_, i) => [hashSecret(`${tokenPrefix}${i}`), i]),
);
async function authenticate(req: FastifyRequest, reply: FastifyReply) {
  reply.header("x-request-id", requestId(req.raw));
  const secret = bearerSecret(req);
  if (!secret || !tokens.has(hashSecret(secret))) {
    await reply.code(401).send({ errors: { detail: "Unauthorized" } });
    return reply;
  }
}
// Mission Control's validator (its schemas carry keywords of their own).
app.setValidatorCompiler(validatorCompiler);
const Row = Type.Object({
  id: Type.Integer(),
  task_id: Type.String(),
  mission_id: Type.String(),
  objective: Type.String(),
  status: Type.String(),
  agent_id: Type.Union([Type.String(), Type.Null()]),
  sprint_id: Type.Union([Type.String(), Type.Null()]),
  requirement_ids: Type.Array(Type.String()),
  required_capabilities: Type.Array(Type.String()),
  priority: Type.Union([Type.Integer(), Type.Null()]),
  outputs: Type.Object({}, { additionalProperties: true }),
  inserted_at: Type.String(),
  updated_at: Type.String(),
});
const NotFound = Type.Object({ errors: Type.Object({ detail: Type.String() }) });
app.get<{ Params: { key: string } }>(
  "/contract/tasks/:key",
  {
    onRequest: authenticate,
    schema: {
      params: Type.Object({ key: Type.String({ minLength: 1, maxLength: 200 }) }),
      response: { 200: Data(Row), 404: NotFound },
    },
  },
  getTask,
);
app.post<{ Params: { key: string } }>(
  "/contract/agents/:key/activity",
  {
    onRequest: authenticate,
    schema: {
      params: Type.Object({ key: Type.String({ minLength: 1, maxLength: 200 }) }),
      body: ActivityReport,
      response: { 200: Data(Agent) },
    },
  },
  async (req) => ({ data: heartbeat(req.params.key) }),
);

await app.listen({ host: "127.0.0.1", port: Number(process.env.PORT ?? 0) });
const stop = () =>
  void app
    .close()
    .then(() => db.close())
    .then(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
