// Ceiling 2: a bare Fastify process doing one parameterized INSERT per request on the same database as the
// server under test: node-postgres with a pool of 10 (the server's default) when DATABASE_URL is set, else
// PGlite on a data directory of its own, on the request thread (PGlite's usual way of being used). It reads a
// small JSON body, inserts, and answers the new row's id: the cheapest durable write this stack can serve.
import Fastify from "fastify";
import pg from "pg";
import { PGlite } from "@electric-sql/pglite";

const DDL = `CREATE TABLE IF NOT EXISTS bench_ceiling (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  agent text NOT NULL,
  n integer NOT NULL,
  at timestamptz NOT NULL DEFAULT now()
)`;
const INSERT = "INSERT INTO bench_ceiling (agent, n) VALUES ($1, $2) RETURNING id";

type Insert = (agent: string, n: number) => Promise<unknown>;
let insert: Insert;
let close: () => Promise<void>;
if (process.env.DATABASE_URL) {
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
  await pool.query(DDL);
  insert = async (agent, n) => (await pool.query(INSERT, [agent, n])).rows[0].id;
  close = () => pool.end();
} else {
  const db = await PGlite.create({ dataDir: process.env.PGLITE_DIR });
  await db.exec(DDL);
  insert = async (agent, n) => (await db.query<{ id: number }>(INSERT, [agent, n])).rows[0]!.id;
  close = () => db.close();
}

const app = Fastify({ logger: false });
app.post<{ Body: { agent: string; n: number } }>("/", async (req) => ({
  id: String(await insert(req.body.agent, req.body.n)),
}));
await app.listen({ host: "127.0.0.1", port: Number(process.env.PORT ?? 0) });
const stop = () =>
  void app
    .close()
    .then(close)
    .then(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
