// Named prepared statements on PGlite. PGlite's query() sends every statement as an unnamed one (Parse,
// Describe, Bind, Describe, Execute, Sync, each its own call into the database), so PostgreSQL parses and plans
// it again each time; for the long hot statements (a progress report's chain of CTEs, a page of tasks) that is
// more work than running them. PGlite has one connection for the life of the process, so a statement can be
// kept by name, as node-postgres keeps one per pool connection, and each later run is one call: Bind, Describe,
// Execute, Sync. Invariants:
// - A name always stands for one SQL text (as node-postgres requires); another text under a known name throws.
// - It runs under PGlite's own locks exactly like query(): after any open transaction ends, one query at a
//   time; like query() outside a transaction, the data directory is synced after it.
// - Every message batch ends with Sync, so a failed statement leaves the connection ready for the next one; a
//   name is remembered only once its Parse has succeeded (a stale one is closed first, which is no error if
//   absent).
import { parse, protocol, type PGlite, type QueryOptions, type Results, type Transaction } from "@electric-sql/pglite";

const { serialize } = protocol;

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export type NamedQuery = <T>(name: string, text: string, params: unknown[]) => Promise<T[]>;

/** How many statement texts get a name of their own; texts beyond run as plain queries (bounded memory). */
const MAX_AUTO_NAMED = 2_000;

export interface NamedQueries {
  /** A statement under the caller's name, outside any transaction. */
  named: NamedQuery;
  /**
   * Any one-statement query, as PGlite's query() runs it, but named by its text (the first 2,000 texts seen):
   * planned once, then one call per run. `tx`: it belongs to that open transaction (whose holder already has
   * PGlite's transaction lock).
   */
  query(text: string, params: unknown[], options: QueryOptions | undefined, tx?: Transaction): Promise<Results>;
}

export function createNamedQueries(pg: PGlite): NamedQueries {
  /** name → its text and the type OIDs of its parameters, as PostgreSQL described them. */
  const known = new Map<string, { text: string; types: number[] }>();
  /** text → the name it runs under, for query(). */
  const auto = new Map<string, string>();

  async function prepare(name: string, text: string): Promise<number[]> {
    const messages = await pg.execProtocolStream(
      concat([
        serialize.close({ type: "S", name }),
        serialize.parse({ name, text, types: [] }),
        serialize.describe({ type: "S", name }),
        serialize.sync(),
      ]),
      { syncToFs: false },
    );
    return parse.parseDescribeStatementResults(messages);
  }

  /** Runs `name` (preparing it first when new); the caller holds PGlite's query lock. */
  async function run(name: string, text: string, params: unknown[], options?: QueryOptions): Promise<Results> {
    let st = known.get(name);
    if (st && st.text !== text) throw new Error(`prepared statement ${name} was already used for another text`);
    if (!st) {
      st = { text, types: await prepare(name, text) };
      known.set(name, st);
    }
    const types = st.types;
    const values = params.map((v, i) => {
      if (v === null || v === undefined) return null;
      const serializer = options?.serializers?.[types[i]!] ?? pg.serializers[types[i]!];
      return serializer ? serializer(v) : String(v);
    });
    const messages = await pg.execProtocolStream(
      concat([
        serialize.bind({ statement: name, values }),
        serialize.describe({ type: "P" }),
        serialize.execute({}),
        serialize.sync(),
      ]),
      { syncToFs: false },
    );
    if (!pg.isInTransaction()) await pg.syncToFs();
    return parse.parseResults(messages, pg.parsers, options)[0] ?? { rows: [], fields: [] };
  }

  /** A plan cached before a table changed shape cannot be reused ("cached plan must not change result type"). */
  const isStalePlan = (err: unknown) => (err as { code?: unknown })?.code === "0A000";

  async function runFresh(name: string, text: string, params: unknown[], options?: QueryOptions) {
    try {
      return await run(name, text, params, options);
    } catch (err) {
      if (!isStalePlan(err)) throw err;
      known.delete(name);
      return run(name, text, params, options);
    }
  }

  return {
    named: async <T>(name: string, text: string, params: unknown[]) => {
      await pg._checkReady();
      const r = await pg._runExclusiveTransaction(() => pg._runExclusiveQuery(() => runFresh(name, text, params)));
      return r.rows as T[];
    },
    async query(text, params, options, tx) {
      let name = auto.get(text);
      if (name === undefined && auto.size < MAX_AUTO_NAMED) {
        name = `mc_auto_${auto.size + 1}`;
        auto.set(text, name);
      }
      if (name === undefined) return (tx ?? pg).query(text, params, options);
      const go = () => pg._runExclusiveQuery(() => runFresh(name, text, params, options));
      if (tx) {
        if (tx.closed) throw new Error("Transaction is closed");
        return go();
      }
      await pg._checkReady();
      return pg._runExclusiveTransaction(go);
    },
  };
}
