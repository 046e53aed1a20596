// The request thread's end of the embedded database's worker thread (pglite-worker.ts): a small stand-in for a
// PGlite instance with what this code base uses of it — query, exec, transaction (what drizzle-orm/pglite
// calls), listen/unlisten (db/notify.ts), dumpDataDir (tests' template database) and close. Invariants:
// - Every call is one message and one reply; calls are never reordered, so PGlite's own locking (a plain
//   query waits for an open transaction) orders them exactly as it would on one thread.
// - A transaction is BEGIN … COMMIT/ROLLBACK inside PGlite's own `transaction()` on the worker; its queries
//   carry its id. Its callback's failure rolls it back, as PGlite does.
// - Errors come back with their own properties (`code`, `detail`, `constraint`, …), so callers that look at
//   a PostgreSQL error code see the same thing on both backends.
// - If the worker dies, every pending call fails and so does every later one; nothing hangs.
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { PGlite, QueryOptions, Results, Transaction } from "@electric-sql/pglite";
import type { Reply, Request, SerializedError, WireQueryOptions, WorkerInit } from "./pglite-worker.js";

type Call = Request extends infer R ? (R extends { id: number } ? Omit<R, "id"> : never) : never;

function revive(e: SerializedError): Error {
  const err = new Error(String(e.message));
  for (const [k, v] of Object.entries(e))
    if (k !== "message" && k !== "stack") (err as unknown as Record<string, unknown>)[k] = v;
  if (typeof e.stack === "string") err.stack = e.stack;
  return err;
}

/** Drizzle passes parsers that keep some types as text; they are re-created by OID on the worker. */
function wireOptions(options?: QueryOptions): WireQueryOptions | undefined {
  if (!options) return undefined;
  const { rowMode, parsers, ...rest } = options;
  const unsupported = Object.entries(rest).filter(([, v]) => v !== undefined);
  if (unsupported.length > 0)
    throw new Error(`query option ${unsupported[0]![0]} is not supported by the PGlite thread`);
  const identityParsers: number[] = [];
  for (const [oid, fn] of Object.entries(parsers ?? {})) {
    if (fn("probe", Number(oid)) !== "probe")
      throw new Error(`parser for type ${oid} is not supported by the PGlite thread`);
    identityParsers.push(Number(oid));
  }
  return { rowMode, identityParsers: identityParsers.length > 0 ? identityParsers : undefined };
}

/** The worker's entry: the compiled file next to this one, or from source (tsx, vitest) the TypeScript file
 * behind a two-line bootstrap that registers tsx's loader in the worker first. */
function workerEntry(): { entry: string | URL; eval: boolean } {
  const here = fileURLToPath(import.meta.url);
  const ext = path.extname(here);
  const file = path.join(path.dirname(here), `pglite-worker${ext}`);
  if (ext !== ".ts") return { entry: pathToFileURL(file), eval: false };
  const tsxDir = path.dirname(createRequire(import.meta.url).resolve("tsx/package.json"));
  const api = pathToFileURL(path.join(tsxDir, "dist/esm/api/index.mjs")).href;
  const code =
    `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(pathToFileURL(file).href)}); })` +
    `.catch((err) => { throw err; });`;
  return { entry: code, eval: true };
}

export class PGliteThread {
  private worker: Worker;
  private nextId = 1;
  private pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private listeners = new Map<string, Set<(payload: string) => void>>();
  private dead: Error | null = null;
  private closing: Promise<void> | null = null;
  private ready: Promise<void>;

  private constructor(init: WorkerInit) {
    const { entry, eval: isEval } = workerEntry();
    this.worker = new Worker(entry, {
      eval: isEval,
      workerData: init,
      transferList: init.loadDataDir ? [init.loadDataDir] : [],
    });
    this.ready = new Promise((resolve, reject) => {
      this.worker.on("message", (m: Reply) => {
        if ("ready" in m) return resolve();
        if ("fatal" in m) return reject(revive(m.fatal));
        if ("notify" in m) {
          for (const fn of this.listeners.get(m.notify) ?? []) {
            try {
              fn(m.payload);
            } catch {
              // a listener's failure is its own
            }
          }
          return;
        }
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if ("error" in m) p.reject(revive(m.error));
        else p.resolve(m.ok);
      });
      const die = (err: Error) => {
        this.dead = err;
        reject(err);
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      };
      this.worker.on("error", die);
      this.worker.on("exit", (code) => die(new Error(`the PGlite thread exited (code ${code})`)));
    });
  }

  static async create(opts: { dataDir?: string; loadDataDir?: Blob; startParams?: string[] }): Promise<PGliteThread> {
    const init: WorkerInit = { dataDir: opts.dataDir, startParams: opts.startParams };
    if (opts.loadDataDir) init.loadDataDir = await opts.loadDataDir.arrayBuffer();
    const t = new PGliteThread(init);
    await t.ready;
    return t;
  }

  private call<T>(req: Call): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...req, id });
    });
  }

  query<T>(sql: string, params?: unknown[], options?: QueryOptions, tx?: number): Promise<Results<T>> {
    return this.call<Results<T>>({ op: "query", sql, params, options: wireOptions(options), tx });
  }

  /** A named prepared statement, outside any transaction (pglite-named.ts); resolves to its rows. */
  namedQuery<T>(name: string, sql: string, params: unknown[]): Promise<T[]> {
    return this.call<T[]>({ op: "named", name, sql, params });
  }

  exec(sql: string, _options?: QueryOptions, tx?: number): Promise<Array<Results>> {
    return this.call<Array<Results>>({ op: "exec", sql, tx });
  }

  async transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    const id = await this.call<number>({ op: "begin" });
    let closed = false;
    const open = () => {
      if (closed) throw new Error("Transaction is closed");
    };
    const tx = {
      query: async <R>(sql: string, params?: unknown[], options?: QueryOptions) => (
        open(),
        this.query<R>(sql, params, options, id)
      ),
      exec: async (sql: string, options?: QueryOptions) => (open(), this.exec(sql, options, id)),
      sql: async () => {
        throw new Error("tx.sql is not supported by the PGlite thread");
      },
      rollback: async () => {
        open();
        closed = true;
        await this.call({ op: "end", tx: id, commit: false });
      },
      listen: async () => {
        throw new Error("tx.listen is not supported by the PGlite thread");
      },
      get closed() {
        return closed;
      },
    } as unknown as Transaction;
    let result: T;
    try {
      result = await fn(tx);
    } catch (err) {
      if (!closed) {
        closed = true;
        // The callback's error is what the caller needs to see, not a failed rollback's.
        await this.call({ op: "end", tx: id, commit: false }).catch(() => {});
      }
      throw err;
    }
    if (!closed) {
      closed = true;
      await this.call({ op: "end", tx: id, commit: true });
    }
    return result;
  }

  async listen(channel: string, callback: (payload: string) => void): Promise<() => Promise<void>> {
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
      await this.call({ op: "listen", channel });
    }
    set.add(callback);
    return () => this.unlisten(channel, callback);
  }

  async unlisten(channel: string, callback?: (payload: string) => void): Promise<void> {
    const set = this.listeners.get(channel);
    if (!set) return;
    if (callback) set.delete(callback);
    else set.clear();
    if (set.size === 0) {
      this.listeners.delete(channel);
      await this.call({ op: "unlisten", channel });
    }
  }

  async dumpDataDir(compression?: "none" | "gzip" | "auto"): Promise<Blob> {
    const buf = await this.call<ArrayBuffer>({ op: "dump", compression });
    return new Blob([buf], { type: compression === "none" ? "application/x-tar" : "application/x-gzip" });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.dead) return;
      await this.call({ op: "close" });
      await this.worker.terminate();
    })();
    return this.closing;
  }

  /** For the Database handle's type: drizzle-orm/pglite and db/notify.ts use only the members above. */
  asPGlite(): PGlite {
    return this as unknown as PGlite;
  }
}
