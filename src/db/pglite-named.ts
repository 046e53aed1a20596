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
import { parse, protocol, type PGlite } from "@electric-sql/pglite";

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

export function createNamedQueries(pg: PGlite): NamedQuery {
  /** name → its text and the type OIDs of its parameters, as PostgreSQL described them. */
  const known = new Map<string, { text: string; types: number[] }>();

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

  return async function namedQuery<T>(name: string, text: string, params: unknown[]): Promise<T[]> {
    await pg._checkReady();
    return pg._runExclusiveTransaction(() =>
      pg._runExclusiveQuery(async () => {
        let st = known.get(name);
        if (st && st.text !== text) throw new Error(`prepared statement ${name} was already used for another text`);
        if (!st) {
          st = { text, types: await prepare(name, text) };
          known.set(name, st);
        }
        const types = st.types;
        const values = params.map((v, i) => {
          if (v === null || v === undefined) return null;
          const serializer = pg.serializers[types[i]!];
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
        return (parse.parseResults(messages, pg.parsers)[0]?.rows ?? []) as T[];
      }),
    );
  };
}
