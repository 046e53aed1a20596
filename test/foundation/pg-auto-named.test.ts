// PostgreSQL: every parameterized statement runs as a prepared statement named by its text
// (src/db/pg-named.ts), parsed once per pool connection; statements without parameters stay in the simple
// protocol (several statements in one text); a statement whose cached plan PostgreSQL refuses after a schema
// change fails once and then runs unnamed. Seen from the server: pg_prepared_statements on the connection.
import { sql } from "drizzle-orm";
import { execRows } from "../../src/db/client.js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type pg from "pg";
import { backend, createTestDb, type TestDb } from "../harness.js";

describe.skipIf(backend !== "postgres")("PostgreSQL statements named by their text", () => {
  let testDb: TestDb;
  let client: pg.PoolClient;

  /** The statements prepared on this connection whose text is `text`. */
  async function preparedAs(text: string): Promise<string[]> {
    const r = await client.query<{ name: string }>(
      "SELECT name FROM pg_prepared_statements WHERE statement = $1 ORDER BY name",
      [text],
    );
    return r.rows.map((x) => x.name);
  }

  beforeAll(async () => {
    testDb = await createTestDb();
    client = await testDb.database.pool!.connect();
  });
  afterAll(async () => {
    client?.release();
    await testDb?.drop();
  });

  test("a parameterized statement is prepared once per connection under one name and answers as before", async () => {
    const text = "SELECT $1::int + 1 AS n /* auto-named 1 */";
    for (const v of [1, 2, 3]) expect((await client.query(text, [v])).rows).toEqual([{ n: v + 1 }]);
    expect((await client.query({ text, values: [41] })).rows).toEqual([{ n: 42 }]);
    const names = await preparedAs(text);
    expect(names).toHaveLength(1);
    expect(names[0]).toMatch(/^mc_[0-9a-z]+$/);
  });

  test("drizzle's queries (as the services run them, in a transaction) are named too", async () => {
    const db = testDb.database.db;
    const text = "SELECT $1::int AS v /* auto-named 2 */";
    await db.transaction(async (tx) => {
      for (let i = 0; i < 3; i++)
        expect(await execRows(tx, sql`SELECT ${7}::int AS v /* auto-named 2 */`)).toEqual([{ v: 7 }]);
      // Same connection: the transaction's.
      const r = await execRows<{ name: string }>(
        tx,
        sql`SELECT name FROM pg_prepared_statements WHERE statement = ${text}`,
      );
      expect(r).toHaveLength(1);
      expect(r[0]!.name).toMatch(/^mc_[0-9a-z]+$/);
    });
  });

  test("a statement without parameters is not prepared, and several statements in one text still run", async () => {
    const text = "SELECT 1 AS a /* auto-named 3 */";
    await client.query(text);
    expect(await preparedAs(text)).toEqual([]);
    const r = (await client.query("SELECT 1 AS a; SELECT 2 AS b")) as unknown as pg.QueryResult[];
    expect(r.map((x) => x.rows)).toEqual([[{ a: 1 }], [{ b: 2 }]]);
  });

  test("an error leaves the statement usable; one text under one name; errors keep their code", async () => {
    const text = "SELECT 10 / $1::int AS q /* auto-named 4 */";
    await expect(client.query(text, [0])).rejects.toMatchObject({ code: "22012" });
    expect((await client.query(text, [5])).rows).toEqual([{ q: 2 }]);
    expect(await preparedAs(text)).toHaveLength(1);
  });

  test("a plan a schema change made stale (0A000) fails once, then the text runs unnamed and answers", async () => {
    await client.query("CREATE TABLE auto_named_t (id int PRIMARY KEY, a text)");
    await client.query("INSERT INTO auto_named_t VALUES (1, 'x')");
    const text = "SELECT * FROM auto_named_t WHERE id = $1 /* auto-named 5 */";
    expect((await client.query(text, [1])).rows).toEqual([{ id: 1, a: "x" }]);
    await client.query("ALTER TABLE auto_named_t ADD COLUMN b text DEFAULT 'y'");
    await expect(client.query(text, [1])).rejects.toMatchObject({ code: "0A000" });
    expect((await client.query(text, [1])).rows).toEqual([{ id: 1, a: "x", b: "y" }]);
    expect((await client.query(text, [1])).rows).toEqual([{ id: 1, a: "x", b: "y" }]);
  });
});
