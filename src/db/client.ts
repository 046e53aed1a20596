// One Drizzle instance over either an embedded PGlite database or a PostgreSQL pool. Everything above this
// file sees the same `Db` type and writes the same SQL: the backend is chosen here and nowhere else.
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import { vector } from "@electric-sql/pglite/vector";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from "drizzle-orm/pg-core";
import type { ExtractTablesWithRelations } from "drizzle-orm";
import pg from "pg";
import * as schema from "./schema/index.js";
import { PGliteThread } from "./pglite-thread.js";
import { createNamedQueries, type NamedQuery } from "./pglite-named.js";
import { createStatementNamer } from "./pg-named.js";
import { lockDataDir, type DataDirLock } from "./data-dir-lock.js";
import { DEFAULT_SHARED_BUFFERS_MB, pgliteStartParams } from "./pglite-options.js";

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
export type Tx = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;
/** Anything queries can run on: the database itself or an open transaction. */
export type Executor = Db | Tx;

export type BackendKind = "pglite" | "postgres";

export interface Database {
  readonly kind: BackendKind;
  readonly db: Db;
  /** PostgreSQL connection string (null for PGlite), for connections outside the pool (LISTEN). */
  readonly url: string | null;
  /** Runs raw SQL with positional parameters; used by the migrator, health checks and tests. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /**
   * Runs one statement as a named prepared statement, outside any transaction: parsed and planned once per
   * connection (each pool connection on PostgreSQL; PGlite's one connection), then only bound and executed.
   * A name must always stand for the same SQL text.
   */
  queryNamed<T = Record<string, unknown>>(name: string, sql: string, params: unknown[]): Promise<T[]>;
  /** The pool, for PostgreSQL-only features (LISTEN/NOTIFY, advisory locks on a held connection). */
  readonly pool: pg.Pool | null;
  /**
   * The PGlite instance, for the embedded backend. By default it is a stand-in for one that runs in a worker
   * thread (pglite-thread.ts) and implements query, exec, transaction, listen, unlisten, dumpDataDir, close.
   */
  readonly client?: PGlite;
  close(): Promise<void>;
}

// PostgreSQL returns int8/numeric as strings by default; counts and bigint ids here all fit a JS number.
pg.types.setTypeParser(20, (v) => Number(v));

export interface OpenOptions {
  databaseUrl: string | null;
  /** PGlite data directory; `null` for an in-memory database (tests). */
  dataDir: string | null;
  poolSize?: number;
  /** PGlite only: start from this dump of a data directory (tests start from a migrated template). */
  loadDataDir?: Blob;
  /**
   * PGlite only: run it in a worker thread (default), so a query never blocks the thread serving requests;
   * false runs it on the calling thread, as PGlite does by itself.
   */
  pgliteThread?: boolean;
  /** PGlite only: shared_buffers in MiB (most of the embedded database's resident memory). */
  pgliteSharedBuffersMb?: number;
}

/**
 * Runs PGlite's initdb for a new data directory in a child process (pglite-init.ts says why). From the
 * TypeScript sources (tsx, vitest) the child loads tsx first.
 */
async function initDataDir(dataDir: string, sharedBuffersMb: number): Promise<void> {
  const here = fileURLToPath(import.meta.url);
  const ext = path.extname(here);
  const script = path.join(path.dirname(here), `pglite-init${ext}`);
  const args =
    ext === ".ts" ? ["--import", pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href, script] : [script];
  await new Promise<void>((resolve, reject) => {
    execFile(
      process.execPath,
      [...args, dataDir, String(sharedBuffersMb)],
      { encoding: "utf8" },
      (err, _out, stderr) => {
        if (err) reject(new Error(stderr.trim() || err.message));
        else resolve();
      },
    );
  });
}

export async function openDatabase(opts: OpenOptions): Promise<Database> {
  if (opts.databaseUrl) {
    const pool = new pg.Pool({
      connectionString: opts.databaseUrl,
      max: opts.poolSize ?? 10,
      idleTimeoutMillis: 30_000,
    });
    // An idle client that loses its connection must not crash the process.
    pool.on("error", () => {});
    const namer = createStatementNamer();
    const textOfName = new Map<string, string>();
    pool.on("connect", (client) => namer.attach(client));
    const db = drizzlePg(pool, { schema }) as unknown as Db;
    return {
      kind: "postgres",
      db,
      url: opts.databaseUrl,
      pool,
      async query<T>(sql: string, params: unknown[] = []) {
        const r = await pool.query(sql, params);
        return r.rows as T[];
      },
      // The pool's namer (pg-named.ts) names the statement by its text, as every parameterized one, and stops
      // naming a text whose cached plan went stale (0A000); the caller's name is held to its text, as on PGlite.
      async queryNamed<T>(name: string, sql: string, params: unknown[]) {
        const known = textOfName.get(name);
        if (known !== undefined && known !== sql)
          throw new Error(`prepared statement ${name} already stands for another text`);
        const rows = (await pool.query({ text: sql, values: params })).rows as T[];
        // Taken only by a text that ran.
        if (known === undefined) textOfName.set(name, sql);
        return rows;
      },
      async close() {
        await pool.end();
      },
    };
  }

  const sharedBuffersMb = opts.pgliteSharedBuffersMb ?? DEFAULT_SHARED_BUFFERS_MB;
  const startParams = pgliteStartParams(sharedBuffersMb);
  let dataDir: string | undefined;
  let lock: DataDirLock | null = null;
  let client: PGlite;
  let named: NamedQuery;
  try {
    if (opts.dataDir) {
      // Before anything reads or writes the directory: a second opener must change nothing.
      lock = await lockDataDir(opts.dataDir);
      dataDir = path.join(opts.dataDir, "pglite");
      fs.mkdirSync(dataDir, { recursive: true });
      if (!opts.loadDataDir && !fs.existsSync(path.join(dataDir, "PG_VERSION")))
        await initDataDir(dataDir, sharedBuffersMb);
    }
    if (opts.pgliteThread === false) {
      const local = await PGlite.create({
        dataDir,
        loadDataDir: opts.loadDataDir,
        extensions: { pg_trgm, vector },
        startParams,
      });
      client = local;
      named = createNamedQueries(local).named;
    } else {
      const thread = await PGliteThread.create({ dataDir, loadDataDir: opts.loadDataDir, startParams });
      client = thread.asPGlite();
      named = (name, sql, params) => thread.namedQuery(name, sql, params);
    }
  } catch (err) {
    lock?.release();
    throw err;
  }
  const db = drizzlePglite(client, { schema }) as unknown as Db;
  return {
    kind: "pglite",
    db,
    url: null,
    pool: null,
    client,
    async query<T>(sql: string, params: unknown[] = []) {
      // exec() takes several statements but no parameters; query() takes parameters but one statement.
      if (params.length === 0 && sql.includes(";")) {
        const results = await client.exec(sql);
        return (results.at(-1)?.rows ?? []) as T[];
      }
      const r = await client.query(sql, params);
      return r.rows as T[];
    },
    queryNamed: (name, sql, params) => named(name, sql, params),
    async close() {
      try {
        await client.close();
      } finally {
        lock?.release();
      }
    },
  };
}

/** Raw SQL on an executor, returning its rows (both drivers answer `{rows}`). */
export async function execRows<T>(exec: Executor, query: import("drizzle-orm").SQL): Promise<T[]> {
  const r = (await exec.execute(query)) as unknown as { rows: T[] };
  return r.rows;
}
