// The embedded database's own thread. PGlite runs SQL synchronously on the thread that calls it, so here it
// runs in a worker thread and the request thread only sends messages (pglite-thread.ts is the other end).
// Every operation maps to PGlite's own API, so its locking is what orders them: a plain query waits for an
// open transaction to end, exactly as it would in the same thread. Protocol (one reply per request id):
//   query {sql, params, options, tx?}  named {name, sql, params} (pglite-named.ts)  exec {sql, tx?}
//   begin → tx id  end {tx, commit}
//   listen {channel}  unlisten {channel}  dump {compression} → ArrayBuffer  close
// and unsolicited {notify: channel, payload} for LISTEN notifications.
import { parentPort, workerData } from "node:worker_threads";
import { PGlite, type Transaction } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import { vector } from "@electric-sql/pglite/vector";
import { createNamedQueries } from "./pglite-named.js";

export interface WorkerInit {
  dataDir?: string;
  loadDataDir?: ArrayBuffer;
  startParams?: string[];
}

export type Request =
  | { id: number; op: "query"; sql: string; params?: unknown[]; options?: WireQueryOptions; tx?: number }
  | { id: number; op: "named"; name: string; sql: string; params: unknown[] }
  | { id: number; op: "exec"; sql: string; tx?: number }
  | { id: number; op: "begin" }
  | { id: number; op: "end"; tx: number; commit: boolean }
  | { id: number; op: "listen"; channel: string }
  | { id: number; op: "unlisten"; channel: string }
  | { id: number; op: "dump"; compression?: "none" | "gzip" | "auto" }
  | { id: number; op: "close" };

/** Query options that can cross a thread: parsers are named by type OID and must be identity functions. */
export interface WireQueryOptions {
  rowMode?: "array" | "object";
  identityParsers?: number[];
}

export type Reply =
  | { id: number; ok: unknown }
  | { id: number; error: SerializedError }
  | { notify: string; payload: string }
  | { ready: true }
  | { fatal: SerializedError };

export type SerializedError = Record<string, string | number | boolean | null>;

export function serializeError(err: unknown): SerializedError {
  if (!(err instanceof Error)) return { message: String(err), name: "Error" };
  const out: SerializedError = { message: err.message, name: err.name, stack: err.stack ?? null };
  for (const [k, v] of Object.entries(err)) {
    if (v === null || ["string", "number", "boolean"].includes(typeof v))
      out[k] = v as string | number | boolean | null;
  }
  return out;
}

const ROLLBACK = Symbol("rollback");
const identity = (v: unknown) => v;

async function main() {
  const port = parentPort!;
  const init = workerData as WorkerInit;
  let db: PGlite;
  try {
    db = await PGlite.create({
      dataDir: init.dataDir,
      loadDataDir: init.loadDataDir ? new Blob([init.loadDataDir]) : undefined,
      extensions: { pg_trgm, vector },
      startParams: init.startParams,
    });
  } catch (err) {
    port.postMessage({ fatal: serializeError(err) } satisfies Reply);
    return;
  }

  const named = createNamedQueries(db);
  let nextTx = 1;
  const txs = new Map<number, { tx: Transaction; end(commit: boolean): void; done: Promise<unknown> }>();
  const unlistens = new Map<string, () => Promise<void>>();

  const target = (tx: number | undefined) => {
    if (tx === undefined) return db;
    const t = txs.get(tx);
    if (!t) throw new Error("Transaction is closed");
    return t.tx;
  };

  async function begin(): Promise<number> {
    const id = nextTx++;
    let started!: () => void;
    const ready = new Promise<void>((r) => (started = r));
    const done = db.transaction(async (tx) => {
      let end!: (commit: boolean) => void;
      const ended = new Promise<boolean>((r) => (end = r));
      txs.set(id, { tx, end, done });
      started();
      if (!(await ended)) throw ROLLBACK;
    });
    // BEGIN itself failing ends `done` before `ready`.
    await Promise.race([ready, done]);
    return id;
  }

  async function handle(m: Request): Promise<unknown> {
    switch (m.op) {
      case "query": {
        const o = m.options;
        const parsers = o?.identityParsers
          ? Object.fromEntries(o.identityParsers.map((oid) => [oid, identity]))
          : undefined;
        const options = { rowMode: o?.rowMode, ...(parsers ? { parsers } : {}) };
        const t = target(m.tx);
        const r = await named.query(m.sql, m.params ?? [], options, t === db ? undefined : (t as Transaction));
        return { rows: r.rows, fields: r.fields, affectedRows: r.affectedRows };
      }
      case "named":
        return named.named(m.name, m.sql, m.params);
      case "exec": {
        const rs = await target(m.tx).exec(m.sql);
        return rs.map((r) => ({ rows: r.rows, fields: r.fields, affectedRows: r.affectedRows }));
      }
      case "begin":
        return begin();
      case "end": {
        const t = txs.get(m.tx);
        if (!t) throw new Error("Transaction is closed");
        txs.delete(m.tx);
        t.end(m.commit);
        try {
          await t.done;
        } catch (err) {
          if (err !== ROLLBACK) throw err;
        }
        return null;
      }
      case "listen": {
        if (!unlistens.has(m.channel)) {
          const channel = m.channel;
          unlistens.set(
            channel,
            await db.listen(channel, (payload) => port.postMessage({ notify: channel, payload } satisfies Reply)),
          );
        }
        return null;
      }
      case "unlisten": {
        const u = unlistens.get(m.channel);
        unlistens.delete(m.channel);
        if (u) await u();
        return null;
      }
      case "dump": {
        const blob = await db.dumpDataDir(m.compression);
        return blob.arrayBuffer();
      }
      case "close":
        await db.close();
        return null;
    }
  }

  port.on("message", (m: Request) => {
    handle(m).then(
      (ok) => {
        if (ok instanceof ArrayBuffer) port.postMessage({ id: m.id, ok } satisfies Reply, [ok]);
        else port.postMessage({ id: m.id, ok } satisfies Reply);
        if (m.op === "close") port.close();
      },
      (err: unknown) => port.postMessage({ id: m.id, error: serializeError(err) } satisfies Reply),
    );
  });
  port.postMessage({ ready: true } satisfies Reply);
}

void main();
