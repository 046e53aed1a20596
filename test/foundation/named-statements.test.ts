// Named prepared statements (Database.queryNamed: node-postgres's named statements on PostgreSQL,
// src/db/pglite-named.ts on PGlite, in its worker thread and on the calling thread): the same answers as a
// plain query, errors with their PostgreSQL code that leave the connection usable, one text per name, the
// embedded database's locking and durability kept.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { openDatabase, type Database } from "../../src/db/client.js";
import { pgErrorCode } from "../../src/db/lookup.js";
import { backend, createTestDb, type TestDb } from "../harness.js";
import { pgliteTemplate } from "../fixtures/pglite-pool.js";

const modes: Array<[string, boolean]> =
  backend === "pglite"
    ? [
        ["PGlite, worker thread", true],
        ["PGlite, calling thread", false],
      ]
    : [["PostgreSQL", true]];

describe.each(modes)("%s", (_label, thread) => {
  let testDb: TestDb | undefined;
  let d: Database;
  let n = 0;
  /** A fresh name each time, so the statements of one test never meet another's. */
  const name = (what: string) => `t_${what}_${++n}`;

  beforeAll(async () => {
    if (backend === "postgres" || thread) {
      testDb = await createTestDb();
      d = testDb.database;
    } else {
      d = await openDatabase({ databaseUrl: null, dataDir: null, pgliteThread: false, loadDataDir: pgliteTemplate() });
    }
    await d.query("CREATE TABLE named_t (id integer PRIMARY KEY, v text, j jsonb, at timestamptz)");
  });
  afterAll(async () => {
    if (testDb) await testDb.drop();
    else await d.close();
  });

  test("parameters and types come back as a plain query gives them; a name is reused with other values", async () => {
    const text = "SELECT $1::int AS n, $2::text AS s, $3::jsonb AS j, $4::timestamptz AS at, $5::text AS nothing";
    const st = name("types");
    for (const k of [1, 2, 3]) {
      const args = [k, `x${k}`, JSON.stringify({ a: [k] }), "2026-01-02T03:04:05.678Z", null];
      const named = await d.queryNamed<Record<string, unknown>>(st, text, args);
      const plain = await d.query<Record<string, unknown>>(text, args);
      expect(named).toEqual(plain);
      expect(named[0]).toMatchObject({ n: k, s: `x${k}`, j: { a: [k] }, nothing: null });
      expect((named[0]!.at as Date).toISOString()).toBe("2026-01-02T03:04:05.678Z");
    }
  });

  test("writes and several rows; no rows is an empty list", async () => {
    const ins = name("insert");
    for (const id of [1, 2, 3])
      expect(
        await d.queryNamed(ins, "INSERT INTO named_t (id, v) VALUES ($1, $2) RETURNING id, v", [id, `v${id}`]),
      ).toEqual([{ id, v: `v${id}` }]);
    const sel = name("select");
    const text = "SELECT id FROM named_t WHERE id > $1 ORDER BY id";
    expect(await d.queryNamed(sel, text, [1])).toEqual([{ id: 2 }, { id: 3 }]);
    expect(await d.queryNamed(sel, text, [99])).toEqual([]);
  });

  test("a failing run keeps its PostgreSQL code and leaves the statement and the connection usable", async () => {
    const ins = name("dup");
    const text = "INSERT INTO named_t (id, v) VALUES ($1, 'x') RETURNING id";
    expect(await d.queryNamed(ins, text, [100])).toEqual([{ id: 100 }]);
    const err = await d.queryNamed(ins, text, [100]).catch((e: unknown) => e);
    expect(pgErrorCode(err)).toBe("23505");
    expect((err as { constraint?: string }).constraint).toBe("named_t_pkey");
    expect(await d.queryNamed(ins, text, [101])).toEqual([{ id: 101 }]);
    expect(await d.query("SELECT 1 AS one")).toEqual([{ one: 1 }]);
  });

  test("a statement that does not parse is an error, and its name is not taken by it", async () => {
    const st = name("syntax");
    const err = await d.queryNamed(st, "SELEC 1", []).catch((e: unknown) => e);
    expect(pgErrorCode(err)).toBe("42601");
    expect(await d.queryNamed(st, "SELECT 2 AS two", [])).toEqual([{ two: 2 }]);
  });

  test("a name stands for one text", async () => {
    const st = name("one_text");
    await d.queryNamed(st, "SELECT 1 AS a", []);
    await expect(d.queryNamed(st, "SELECT 2 AS a", [])).rejects.toThrow();
  });

  // PGlite has one connection: a statement must wait for the open transaction, never run inside it. (On
  // PostgreSQL each pool connection has its own transaction, so there is nothing to wait for.)
  test.skipIf(backend !== "pglite")("it waits for an open transaction instead of running inside it", async () => {
    let inserted!: () => void;
    const insertedP = new Promise<void>((r) => (inserted = r));
    let release!: () => void;
    const releaseP = new Promise<void>((r) => (release = r));
    const tx = d.db.transaction(async (t) => {
      await t.execute(sql`INSERT INTO named_t (id, v) VALUES (300, 'tx')`);
      inserted();
      await releaseP;
      await t.execute(sql`UPDATE named_t SET v = 'committed' WHERE id = 300`);
    });
    await insertedP;
    const read = d.queryNamed<{ v: string }>(name("wait"), "SELECT v FROM named_t WHERE id = $1", [300]);
    release();
    await tx;
    expect(await read).toEqual([{ v: "committed" }]);
  });
});

describe.skipIf(backend !== "pglite")("PGlite named statements and the data directory", () => {
  test.each([
    ["worker thread", true],
    ["calling thread", false],
  ] as const)("a named write survives a restart (%s), and its NOTIFY reaches listeners", async (_l, thread) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mc-named-"));
    try {
      // The first open fills the new directory from the template; the restart below opens what it wrote.
      let d = await openDatabase({
        databaseUrl: null,
        dataDir: dir,
        pgliteThread: thread,
        loadDataDir: pgliteTemplate(),
      });
      const got: string[] = [];
      try {
        await d.query("CREATE TABLE kept (id integer PRIMARY KEY)");
        const unlisten = await d.client!.listen("mc_named_channel", (p) => got.push(p));
        await d.queryNamed(
          "kept_insert",
          "WITH ins AS (INSERT INTO kept VALUES ($1) RETURNING id) SELECT pg_notify('mc_named_channel', id::text) FROM ins",
          [7],
        );
        await d.query("SELECT 1");
        await unlisten();
      } finally {
        await d.close();
      }
      expect(got).toEqual(["7"]);
      d = await openDatabase({ databaseUrl: null, dataDir: dir, pgliteThread: thread });
      try {
        expect(await d.query("SELECT id FROM kept")).toEqual([{ id: 7 }]);
      } finally {
        await d.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(backend !== "pglite")("PGlite worker thread: every query runs as a statement named by its text", () => {
  let testDb: TestDb;
  let d: Database;
  beforeAll(async () => {
    testDb = await createTestDb();
    d = testDb.database;
  });
  afterAll(async () => {
    await testDb.drop();
  });

  const statementsFor = async (text: string) =>
    (
      await d.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement = $1", [text])
    )[0]!.n;

  test("a text is prepared once, whatever the values, in or out of a transaction", async () => {
    const text = "SELECT $1::int + 1 AS n";
    for (const k of [1, 2, 3]) expect(await d.query(text, [k])).toEqual([{ n: k + 1 }]);
    await d.db.transaction(async (tx) => {
      const r = await tx.execute(sql`SELECT ${41}::int + 1 AS n`);
      expect((r as { rows: unknown[] }).rows).toEqual([{ n: 42 }]);
    });
    expect(await statementsFor(text)).toBe(1);
  });

  test("a failed statement inside a transaction rolls the transaction back, and the connection goes on", async () => {
    await d.query("CREATE TABLE auto_t (id integer PRIMARY KEY)");
    await expect(
      d.db.transaction(async (tx) => {
        await tx.execute(sql`INSERT INTO auto_t VALUES (${1})`);
        await tx.execute(sql`INSERT INTO auto_t VALUES (${1})`);
      }),
    ).rejects.toThrow();
    expect(await d.query("SELECT count(*)::int AS n FROM auto_t")).toEqual([{ n: 0 }]);
    await d.db.transaction(async (tx) => {
      await tx.execute(sql`INSERT INTO auto_t VALUES (${1})`);
    });
    expect(await d.query("SELECT id FROM auto_t")).toEqual([{ id: 1 }]);
  });

  test("a table that changes shape under a prepared text: the text is prepared again", async () => {
    await d.query("CREATE TABLE shape_t (a integer)");
    await d.query("INSERT INTO shape_t VALUES (1)");
    const text = "SELECT * FROM shape_t WHERE a = $1";
    expect(await d.query(text, [1])).toEqual([{ a: 1 }]);
    await d.query("ALTER TABLE shape_t ADD COLUMN b text DEFAULT 'x'");
    expect(await d.query(text, [1])).toEqual([{ a: 1, b: "x" }]);
  });

  test("past 2,000 texts, new ones still run (unnamed)", async () => {
    // The database may come from the pool with statements named by earlier files (the hot paths' own names,
    // and texts that already count against the 2,000): new names are counted from here.
    const count = async () =>
      (await d.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_prepared_statements"))[0]!.n;
    const before = await count();
    for (let i = 0; i < 2_050; i++)
      expect(await d.query(`SELECT ${i} AS n, $1::int AS k`, [i])).toEqual([{ n: i, k: i }]);
    expect(await count()).toBeLessThanOrEqual(before + 2_000);
    expect(await statementsFor("SELECT 2049 AS n, $1::int AS k")).toBe(0);
  });
});
