// Keys that never change are read once per process and database (src/db/keys.ts), on both backends.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestDb, type TestDb } from "../harness.js";
import { immutableKeys } from "../../src/db/keys.js";
import { missions } from "../../src/db/schema/index.js";

let db: TestDb;
let ids: number[] = [];
beforeAll(async () => {
  db = await createTestDb();
  const rows = await db.database.query<{ id: number }>(
    `INSERT INTO missions (mission_id, goal) SELECT 'keys-m' || g, 'g' FROM generate_series(1, 6) g RETURNING id`,
  );
  ids = rows.map((r) => Number(r.id));
});
afterAll(async () => {
  await db?.drop();
});

/** The database's key of an id now, to tell a read from a remembered answer (keys never change in the app). */
const rename = (id: number, key: string) =>
  db.database.query("UPDATE missions SET mission_id = $1 WHERE id = $2", [key, id]);

describe("immutableKeys", () => {
  test("answers the keys of the ids asked for, nulls and repeats ignored", async () => {
    const keysOf = immutableKeys("mission_t1", missions, missions.id, missions.missionId);
    const m = await keysOf(db.database, [ids[1]!, null, ids[0]!, ids[1]!]);
    expect([m.get(ids[0]!), m.get(ids[1]!)]).toEqual(["keys-m1", "keys-m2"]);
    expect(await keysOf(db.database, [])).toBeInstanceOf(Map);
  });

  test("a key read once is not read again; only the ids it has not seen are", async () => {
    const keysOf = immutableKeys("mission_t2", missions, missions.id, missions.missionId);
    await keysOf(db.database, [ids[2]!]);
    await rename(ids[2]!, "keys-renamed-3");
    await rename(ids[3]!, "keys-renamed-4");
    const m = await keysOf(db.database, [ids[2]!, ids[3]!]);
    expect([m.get(ids[2]!), m.get(ids[3]!)]).toEqual(["keys-m3", "keys-renamed-4"]);
    await rename(ids[2]!, "keys-m3");
    await rename(ids[3]!, "keys-m4");
  });

  test("past its bound it starts over, keeping the keys asked for", async () => {
    const keysOf = immutableKeys("mission_t3", missions, missions.id, missions.missionId, 3);
    await keysOf(db.database, [ids[0]!, ids[1]!]);
    await rename(ids[0]!, "keys-renamed-1");
    await rename(ids[1]!, "keys-renamed-2");
    // Two more would make four: the map starts over with the three asked for, read or remembered.
    const m = await keysOf(db.database, [ids[1]!, ids[4]!, ids[5]!]);
    expect([...m.entries()].sort()).toEqual(
      [
        [ids[1]!, "keys-m2"],
        [ids[4]!, "keys-m5"],
        [ids[5]!, "keys-m6"],
      ].sort(),
    );
    // ids[0] was dropped: asked again, it is read again (and so shows the database's key).
    expect((await keysOf(db.database, [ids[0]!])).get(ids[0]!)).toBe("keys-renamed-1");
    await rename(ids[0]!, "keys-m1");
    await rename(ids[1]!, "keys-m2");
  });

  test("a call answers the ids it found known even when another starts the map over while it waits", async () => {
    const keysOf = immutableKeys("mission_t8", missions, missions.id, missions.missionId, 3);
    await keysOf(db.database, [ids[0]!, ids[1]!]);
    // The second call passes the bound and starts the map over; the first, started after it, knew ids[0] and
    // waits for ids[2] (on PGlite's one connection the second's read is answered first, as it was sent first).
    const [, m] = await Promise.all([
      keysOf(db.database, [ids[3]!, ids[4]!, ids[5]!]),
      keysOf(db.database, [ids[0]!, ids[2]!]),
    ]);
    expect([m.get(ids[0]!), m.get(ids[2]!)]).toEqual(["keys-m1", "keys-m3"]);
  });

  test("an id with no row is an error, not a missing key in an answer", async () => {
    const keysOf = immutableKeys("mission_t4", missions, missions.id, missions.missionId);
    await expect(keysOf(db.database, [ids[0]!, 987_654_321])).rejects.toThrow("mission_t4: 1 of the ids have no row");
  });

  test("each database has its own keys", async () => {
    const keysOf = immutableKeys("mission_t5", missions, missions.id, missions.missionId);
    const other = await createTestDb();
    try {
      const [row] = await other.database.query<{ id: number }>(
        "INSERT INTO missions (mission_id, goal) VALUES ('keys-other', 'g') RETURNING id",
      );
      // Both databases are new: the other's first mission has the id of this one's first.
      expect(Number(row!.id)).toBe(ids[0]);
      expect((await keysOf(other.database, [ids[0]!])).get(ids[0]!)).toBe("keys-other");
      expect((await keysOf(db.database, [ids[0]!])).get(ids[0]!)).toBe("keys-m1");
    } finally {
      await other.drop();
    }
  });

  test("find: a record by id or by key, remembered both ways once read; none is undefined, not an error", async () => {
    const keys = immutableKeys("mission_t6", missions, missions.id, missions.missionId);
    expect(await keys.find(db.database, "keys-m1")).toEqual({ id: ids[0], key: "keys-m1" });
    expect(await keys.find(db.database, ids[1]!)).toEqual({ id: ids[1], key: "keys-m2" });
    await rename(ids[0]!, "keys-renamed-1");
    await rename(ids[1]!, "keys-renamed-2");
    // Remembered: by the other name too, and in the id → key map.
    expect(await keys.find(db.database, ids[0]!)).toEqual({ id: ids[0], key: "keys-m1" });
    expect(await keys.find(db.database, "keys-m2")).toEqual({ id: ids[1], key: "keys-m2" });
    expect((await keys(db.database, [ids[0]!, ids[1]!])).get(ids[0]!)).toBe("keys-m1");
    // Not seen yet: read, so the database's names answer.
    expect(await keys.find(db.database, "keys-m3")).toEqual({ id: ids[2], key: "keys-m3" });
    await rename(ids[0]!, "keys-m1");
    await rename(ids[1]!, "keys-m2");
    for (const none of ["keys-none", 987_654_321, "keys-renamed-1"]) {
      expect(await keys.find(db.database, none)).toBeUndefined();
    }
  });

  test("find past the bound starts over too, so both maps stay bounded", async () => {
    const keys = immutableKeys("mission_t7", missions, missions.id, missions.missionId, 2);
    await keys.find(db.database, ids[0]!);
    await keys.find(db.database, ids[1]!);
    await rename(ids[0]!, "keys-renamed-1");
    // A third starts over: the first two are read again when asked.
    await keys.find(db.database, ids[2]!);
    expect(await keys.find(db.database, ids[0]!)).toEqual({ id: ids[0], key: "keys-renamed-1" });
    expect(await keys.find(db.database, "keys-m1")).toBeUndefined();
    await rename(ids[0]!, "keys-m1");
  });
});
