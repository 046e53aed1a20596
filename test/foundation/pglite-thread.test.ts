// The embedded database in its worker thread (src/db/pglite-thread.ts) behaves as PGlite does on one thread:
// errors keep their PostgreSQL code, transactions commit or roll back whole, a plain query never runs inside
// someone else's transaction, notifications arrive only on commit, and a data directory dump loads back.
import fs from "node:fs";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { openDatabase, type Database } from "../../src/db/client.js";
import { pgErrorCode } from "../../src/db/lookup.js";
import { backend } from "../harness.js";

/** The migrated template the test run starts databases from (initdb is seconds of WebAssembly). */
function template(): Blob | undefined {
  const file = process.env.MC_TEST_PGLITE_TEMPLATE;
  return file ? new Blob([fs.readFileSync(file)]) : undefined;
}

describe.skipIf(backend !== "pglite")("PGlite in a worker thread", () => {
  let d: Database;
  beforeAll(async () => {
    d = await openDatabase({ databaseUrl: null, dataDir: null, loadDataDir: template() });
    await d.query("CREATE TABLE t (id integer PRIMARY KEY, v text)");
  });
  afterAll(async () => {
    await d.close();
  });

  test("queries, parameters and types", async () => {
    const rows = await d.query<{ n: number; s: string; j: unknown; at: Date }>(
      "SELECT $1::int AS n, $2::text AS s, '{\"a\":[1,2]}'::jsonb AS j, now() AS at",
      [7, "x"],
    );
    expect(rows[0]).toMatchObject({ n: 7, s: "x", j: { a: [1, 2] } });
    expect(rows[0]!.at).toBeInstanceOf(Date);
    const r = await d.db.execute(sql`SELECT ${"2026-01-02T03:04:05.000Z"}::timestamptz AS at`);
    // Drizzle's own parsers keep timestamps as text; they travel to the worker by type OID.
    expect(typeof (r as { rows: Array<{ at: unknown }> }).rows[0]!.at).toBe("string");
  });

  test("an error keeps its PostgreSQL code and details", async () => {
    await d.query("INSERT INTO t VALUES (1, 'a')");
    const err = await d.query("INSERT INTO t VALUES (1, 'b')").catch((e: unknown) => e);
    expect(pgErrorCode(err)).toBe("23505");
    expect((err as { constraint?: string }).constraint).toBe("t_pkey");
  });

  test("a transaction commits whole or not at all", async () => {
    await d.db.transaction(async (tx) => {
      await tx.execute(sql`INSERT INTO t VALUES (10, 'in')`);
      await tx.execute(sql`INSERT INTO t VALUES (11, 'in')`);
    });
    await expect(
      d.db.transaction(async (tx) => {
        await tx.execute(sql`INSERT INTO t VALUES (12, 'out')`);
        throw new Error("changed my mind");
      }),
    ).rejects.toThrow("changed my mind");
    // A failed statement inside rolls everything back too.
    await expect(
      d.db.transaction(async (tx) => {
        await tx.execute(sql`INSERT INTO t VALUES (13, 'out')`);
        await tx.execute(sql`INSERT INTO t VALUES (10, 'dup')`);
      }),
    ).rejects.toThrow();
    const ids = await d.query<{ id: number }>("SELECT id FROM t WHERE id >= 10 ORDER BY id");
    expect(ids.map((r) => r.id)).toEqual([10, 11]);
  });

  test("savepoints: a nested transaction rolls back alone", async () => {
    await d.db.transaction(async (tx) => {
      await tx.execute(sql`INSERT INTO t VALUES (20, 'outer')`);
      await tx
        .transaction(async (inner) => {
          await inner.execute(sql`INSERT INTO t VALUES (21, 'inner')`);
          throw new Error("inner only");
        })
        .catch(() => {});
    });
    const ids = await d.query<{ id: number }>("SELECT id FROM t WHERE id >= 20 AND id < 30 ORDER BY id");
    expect(ids.map((r) => r.id)).toEqual([20]);
  });

  test("a plain query waits for an open transaction instead of running inside it", async () => {
    let inserted!: () => void;
    const insertedP = new Promise<void>((r) => (inserted = r));
    let release!: () => void;
    const releaseP = new Promise<void>((r) => (release = r));
    const tx = d.db.transaction(async (t) => {
      await t.execute(sql`INSERT INTO t VALUES (30, 'tx')`);
      inserted();
      await releaseP;
      await t.execute(sql`UPDATE t SET v = 'committed' WHERE id = 30`);
    });
    await insertedP;
    const read = d.query<{ v: string }>("SELECT v FROM t WHERE id = 30");
    release();
    await tx;
    expect(await read).toEqual([{ v: "committed" }]);
  });

  test("notifications arrive on commit only", async () => {
    const got: string[] = [];
    const unlisten = await d.client!.listen("mc_test_channel", (p) => got.push(p));
    await d.db.transaction(async (tx) => {
      await tx.execute(sql`SELECT pg_notify('mc_test_channel', 'kept')`);
    });
    await d.db
      .transaction(async (tx) => {
        await tx.execute(sql`SELECT pg_notify('mc_test_channel', 'dropped')`);
        throw new Error("rollback");
      })
      .catch(() => {});
    await d.query("SELECT pg_notify('mc_test_channel', 'plain')");
    await unlisten();
    await d.query("SELECT pg_notify('mc_test_channel', 'after')");
    await d.query("SELECT 1");
    expect(got).toEqual(["kept", "plain"]);
  });

  test("a dump of the data directory loads into a new database", async () => {
    const blob = await d.client!.dumpDataDir("gzip");
    const copy = await openDatabase({ databaseUrl: null, dataDir: null, loadDataDir: blob });
    try {
      const rows = await copy.query<{ n: number }>("SELECT count(*)::int AS n FROM t");
      expect(rows[0]!.n).toBeGreaterThan(0);
    } finally {
      await copy.close();
    }
  });

  test("after close, calls fail instead of hanging", async () => {
    const other = await openDatabase({ databaseUrl: null, dataDir: null, loadDataDir: template() });
    await other.close();
    await expect(other.query("SELECT 1")).rejects.toThrow();
  });

  test("on the calling thread (MC_PGLITE_WORKER=false) the same statements work", async () => {
    const local = await openDatabase({
      databaseUrl: null,
      dataDir: null,
      loadDataDir: template(),
      pgliteThread: false,
    });
    try {
      expect(await local.query<{ n: number }>("SELECT 1 AS n")).toEqual([{ n: 1 }]);
    } finally {
      await local.close();
    }
  });
});
