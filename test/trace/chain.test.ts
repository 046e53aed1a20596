// The hash chain: what appendTrace writes, what verification accepts, and that tampering directly in the
// database (UPDATE, DELETE, reordering) is detected. Runs on PGlite, and on PostgreSQL with
// TEST_DATABASE_URL (where the concurrency test uses several pools, i.e. several real connections).
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { openDatabase, type Executor } from "../../src/db/client.js";
import fc from "fast-check";
import {
  GENESIS,
  atFromMicros,
  canonicalJson,
  contentAround,
  contentJson,
  entryHash,
} from "../../src/trace/canonical.js";
import { appendTrace } from "../../src/trace/trace.append.js";
import { backend, createTestContext, type TestContext } from "../harness.js";
import { append, createMission, idsOf, sql, uniq, verify } from "./helpers.js";

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t.close();
});

/** A mission with a chain of `n` extra entries after mission.created; returns the mission key and ids. */
async function missionWithEntries(n: number) {
  const m = await createMission(t);
  await append(
    t,
    ...Array.from({ length: n }, (_, i) => ({
      event: "mission.updated" as const,
      actor: "admin:test",
      missionId: m.mission_id,
      data: { changes: { i, text: `entry ${i}` } },
    })),
  );
  return { key: m.mission_id, id: m.id, ids: await idsOf(t, m.mission_id) };
}

describe("canonical JSON", () => {
  test.each([
    [{ b: 1, a: 2 }, '{"a":2,"b":1}'],
    [{ a: { d: [3, { z: 1, y: null }], c: "x" } }, '{"a":{"c":"x","d":[3,{"y":null,"z":1}]}}'],
    [{ é: 1, e: 2, E: 3, "10": 4, "9": 5 }, '{"10":4,"9":5,"E":3,"e":2,"é":1}'],
    [{ s: 'q"\\\n\u0001\u2028😀' }, '{"s":"q\\"\\\\\\n\\u0001\u2028😀"}'],
    [[1e21, 1.5, -0, 0.1 + 0.2, 1e-7], "[1e+21,1.5,0,0.30000000000000004,1e-7]"],
    [[], "[]"],
    [{}, "{}"],
  ])("%j → %s", (value, expected) => {
    expect(canonicalJson(value)).toBe(expected);
  });

  test("keys sort by UTF-16 code units, as RFC 8785 says (not by code point)", () => {
    // U+FF61 sorts after U+1F600's high surrogate (U+D83D) in code units, before it in code points.
    expect(canonicalJson({ "\uff61": 1, "😀": 2 })).toBe('{"😀":2,"｡":1}');
  });

  test("at: whole milliseconds give the API form, anything finer keeps its microseconds", () => {
    expect(atFromMicros(1767225600123000)).toBe("2026-01-01T00:00:00.123Z");
    expect(atFromMicros(1767225600123001)).toBe("2026-01-01T00:00:00.123001Z");
    expect(atFromMicros(-1)).toBe("1969-12-31T23:59:59.999999Z");
  });
});

describe("appending", () => {
  test("entries link to their predecessor; SQL and JS compute the same hash (unicode data included)", async () => {
    const m = await createMission(t);
    const [a, b] = await append(
      t,
      {
        event: "mission.updated",
        actor: "admin:test",
        missionId: m.mission_id,
        data: { changes: { text: 'é 😀 \u2028 "q" \\' } },
      },
      {
        event: "mission.updated",
        actor: "admin:test",
        missionId: m.mission_id,
        taskId: "task-x",
        agentId: "agent-y",
        data: { changes: { n: 1.5, nested: { z: [1, null] } } },
      },
    );
    const created = (
      await sql<{ hash: string }>(t, "SELECT hash FROM trace_entries WHERE mission_id = $1 ORDER BY id LIMIT 1", [
        m.mission_id,
      ])
    )[0]!;
    expect(a!.prevHash).toBe(created.hash);
    expect(b!.prevHash).toBe(a!.hash);
    for (const e of [a!, b!]) {
      const content = {
        at: e.at.toISOString(),
        event: e.event,
        actor: e.actor,
        mission_id: e.missionId,
        task_id: e.taskId,
        agent_id: e.agentId,
        data: e.data,
      };
      expect(e.hash).toBe(entryHash(e.prevHash, content));
      expect(e.hash).toMatch(/^[0-9a-f]{64}$/);
    }
    // What is stored is what was returned.
    const stored = await sql<{ id: number; prev_hash: string; hash: string; at: Date }>(
      t,
      "SELECT id, prev_hash, hash, at FROM trace_entries WHERE id = $1",
      [b!.id],
    );
    expect(stored[0]).toMatchObject({ prev_hash: b!.prevHash, hash: b!.hash });
    expect(new Date(stored[0]!.at).toISOString()).toBe(b!.at.toISOString());
  });

  test("the first entry of a chain starts from 64 zeros; the chain head records length and last hash", async () => {
    const m = await createMission(t);
    const first = (
      await sql<{ prev_hash: string; hash: string }>(
        t,
        "SELECT prev_hash, hash FROM trace_entries WHERE mission_id = $1",
        [m.mission_id],
      )
    )[0]!;
    expect(first.prev_hash).toBe(GENESIS);
    const head = await sql<{ head_hash: string; length: number }>(
      t,
      "SELECT head_hash, length FROM trace_chains WHERE chain = $1",
      [m.mission_id],
    );
    expect(head).toEqual([{ head_hash: first.hash, length: 1 }]);
  });

  test("data is hashed as stored: undefined members dropped, Dates as strings", async () => {
    const m = await createMission(t);
    const [e] = await append(t, {
      event: "mission.updated",
      actor: "admin:test",
      missionId: m.mission_id,
      data: { changes: { keep: 1, gone: undefined, when: new Date("2026-01-01T00:00:00Z"), list: [undefined, 2] } },
    });
    expect(e!.data).toEqual({ changes: { keep: 1, when: "2026-01-01T00:00:00.000Z", list: [null, 2] } });
    expect((await verify(t, m.mission_id)).valid).toBe(true);
  });

  test("entries without a mission form the global chain", async () => {
    const before =
      (await sql<{ length: number }>(t, "SELECT length FROM trace_chains WHERE chain = ''"))[0]?.length ?? 0;
    const [x, y] = await append(
      t,
      { event: "token.created", actor: "admin:test", data: { token_id: 1, role: "member", name: null } },
      { event: "agent.registered", actor: "agent:a", agentId: "a", data: { event: "heartbeat" } },
    );
    expect(y!.prevHash).toBe(x!.hash);
    const head = (
      await sql<{ length: number; head_hash: string }>(t, "SELECT length, head_hash FROM trace_chains WHERE chain = ''")
    )[0]!;
    expect(head).toEqual({ length: before + 2, head_hash: y!.hash });
  });

  test("at comes from the database in whole milliseconds and never goes back within a chain", async () => {
    const m = await createMission(t);
    // Pretend the chain's last entry was written by a clock an hour ahead.
    const ahead = new Date(Date.now() + 3600_000);
    ahead.setUTCMilliseconds(123);
    await sql(t, "UPDATE trace_chains SET head_at = $2 WHERE chain = $1", [m.mission_id, ahead.toISOString()]);
    const [e] = await append(t, {
      event: "mission.updated",
      actor: "x",
      missionId: m.mission_id,
      data: { changes: {} },
    });
    expect(e!.at.toISOString()).toBe(ahead.toISOString());
    // Another chain is not held back by it.
    const [g] = await append(t, {
      event: "mission.updated",
      actor: "x",
      missionId: (await createMission(t)).mission_id,
      data: { changes: {} },
    });
    expect(Math.abs(g!.at.getTime() - Date.now())).toBeLessThan(60_000);
    const stored = await sql<{ us: string }>(
      t,
      "SELECT (extract(epoch FROM at) * 1000000)::bigint::text AS us FROM trace_entries WHERE id = $1",
      [g!.id],
    );
    expect(Number(stored[0]!.us) % 1000).toBe(0);
    expect((await verify(t, m.mission_id)).valid).toBe(true);
  });

  test("a rolled-back append leaves neither entry nor head change", async () => {
    const { key, ids } = await missionWithEntries(2);
    await expect(
      t.database.db.transaction(async (tx) => {
        await appendTrace(tx as Executor, {
          event: "mission.updated",
          actor: "x",
          missionId: key,
          data: { changes: {} },
        });
        throw new Error("roll back");
      }),
    ).rejects.toThrow("roll back");
    expect(await idsOf(t, key)).toEqual(ids);
    const v = await verify(t, key);
    expect(v).toEqual({ valid: true, entries: 3, first_bad_id: null, reason: null });
    await append(t, { event: "mission.updated", actor: "x", missionId: key, data: { changes: {} } });
    expect(await verify(t, key)).toMatchObject({ valid: true, entries: 4 });
  });
});

describe("verification detects tampering", () => {
  test("an intact chain verifies, by key and by integer id (walked in numeric id order)", async () => {
    const { key, id, ids } = await missionWithEntries(120);
    expect(ids.some((x) => x < 100) && ids.some((x) => x >= 100)).toBe(true); // "99" sorts after "100" as text
    expect(await verify(t, key)).toEqual({ valid: true, entries: 121, first_bad_id: null, reason: null });
    expect(await verify(t, id)).toEqual({ valid: true, entries: 121, first_bad_id: null, reason: null });
  });

  const updates: Array<[string, string]> = [
    ["data changed", "UPDATE trace_entries SET data = jsonb_set(data, '{text}', '\"forged\"') WHERE id = $1"],
    ["data key added", "UPDATE trace_entries SET data = data || '{\"extra\": true}' WHERE id = $1"],
    ["event changed", "UPDATE trace_entries SET event = 'note.removed' WHERE id = $1"],
    ["actor changed", "UPDATE trace_entries SET actor = 'admin:someone-else' WHERE id = $1"],
    ["task_id set", "UPDATE trace_entries SET task_id = 'task-forged' WHERE id = $1"],
    ["agent_id set", "UPDATE trace_entries SET agent_id = 'agent-forged' WHERE id = $1"],
    ["at moved by a second", "UPDATE trace_entries SET at = at + interval '1 second' WHERE id = $1"],
    ["at moved by one microsecond", "UPDATE trace_entries SET at = at + interval '1 microsecond' WHERE id = $1"],
    ["hash recomputed wrongly", "UPDATE trace_entries SET hash = md5(hash) || md5(hash) WHERE id = $1"],
  ];
  test.each(updates)("UPDATE (%s) → hash_mismatch at that entry", async (_name, stmt) => {
    const { key, ids } = await missionWithEntries(4);
    const target = ids[2]!;
    await sql(t, stmt, [target]);
    const v = await verify(t, key);
    expect(v.valid).toBe(false);
    expect(v.entries).toBe(5);
    expect(v.first_bad_id).toBe(target);
    // A forged hash is caught as the entry's own mismatch, or by the next entry's link.
    expect(["hash_mismatch", "broken_link"]).toContain(v.reason);
    if (!stmt.includes("SET hash")) expect(v.reason).toBe("hash_mismatch");
  });

  test("moving an entry to another mission breaks both chains", async () => {
    const a = await missionWithEntries(3);
    const b = await missionWithEntries(3);
    await sql(t, "UPDATE trace_entries SET mission_id = $2 WHERE id = $1", [a.ids[2], b.key]);
    expect(await verify(t, a.key)).toMatchObject({ valid: false, first_bad_id: a.ids[3], reason: "broken_link" });
    expect(await verify(t, b.key)).toMatchObject({ valid: false, first_bad_id: a.ids[2] });
  });

  test("DELETE of an entry in the middle → broken_link at the entry after it", async () => {
    const { key, ids } = await missionWithEntries(4);
    await sql(t, "DELETE FROM trace_entries WHERE id = $1", [ids[2]]);
    expect(await verify(t, key)).toEqual({ valid: false, entries: 4, first_bad_id: ids[3], reason: "broken_link" });
  });

  test("DELETE of the first entry → broken_link at the new first", async () => {
    const { key, ids } = await missionWithEntries(2);
    await sql(t, "DELETE FROM trace_entries WHERE id = $1", [ids[0]]);
    expect(await verify(t, key)).toMatchObject({ valid: false, first_bad_id: ids[1], reason: "broken_link" });
  });

  test("DELETE of the last entries → truncated (nothing after them to break)", async () => {
    const { key, ids } = await missionWithEntries(4);
    await sql(t, "DELETE FROM trace_entries WHERE id >= $1 AND mission_id = $2", [ids[3], key]);
    expect(await verify(t, key)).toEqual({ valid: false, entries: 3, first_bad_id: null, reason: "truncated" });
  });

  test("DELETE of every entry of a chain → truncated", async () => {
    const { key } = await missionWithEntries(1);
    await sql(t, "DELETE FROM trace_entries WHERE mission_id = $1", [key]);
    expect(await verify(t, key)).toEqual({ valid: false, entries: 0, first_bad_id: null, reason: "truncated" });
  });

  test("reordering by swapping the contents of two entries (hashes left in place) → hash_mismatch", async () => {
    const { key, ids } = await missionWithEntries(4);
    const [x, y] = [ids[1]!, ids[3]!];
    await sql(
      t,
      `UPDATE trace_entries e SET data = o.data, at = o.at
       FROM trace_entries o WHERE (e.id, o.id) IN (($1::bigint, $2::bigint), ($2::bigint, $1::bigint))`,
      [x, y],
    );
    expect(await verify(t, key)).toMatchObject({ valid: false, first_bad_id: x, reason: "hash_mismatch" });
  });

  test("reordering by swapping whole rows (hashes moved along) → broken_link", async () => {
    const { key, ids } = await missionWithEntries(4);
    const [x, y] = [ids[1]!, ids[2]!];
    await sql(
      t,
      `UPDATE trace_entries e SET at = o.at, event = o.event, actor = o.actor, data = o.data,
         prev_hash = o.prev_hash, hash = o.hash
       FROM trace_entries o WHERE (e.id, o.id) IN (($1::bigint, $2::bigint), ($2::bigint, $1::bigint))`,
      [x, y],
    );
    expect(await verify(t, key)).toMatchObject({ valid: false, first_bad_id: x, reason: "broken_link" });
  });

  test("an inserted entry, even with a correctly computed hash, breaks the link of the next one", async () => {
    const { key, ids } = await missionWithEntries(3);
    const prev = (await sql<{ hash: string }>(t, "SELECT hash FROM trace_entries WHERE id = $1", [ids[1]]))[0]!.hash;
    const content = {
      at: "2026-01-01T00:00:00.000Z",
      event: "note.added",
      actor: "forger",
      mission_id: key,
      task_id: null,
      agent_id: null,
      data: {},
    };
    const forged = await sql<{ id: number }>(
      t,
      `INSERT INTO trace_entries (at, event, actor, mission_id, data, prev_hash, hash)
       VALUES ($1, 'note.added', 'forger', $2, '{}', $3, $4) RETURNING id`,
      [content.at, key, prev, entryHash(prev, content)],
    );
    // It sorts after the others (a new id), so it is the last entry's link that it fails.
    expect(await verify(t, key)).toMatchObject({
      valid: false,
      first_bad_id: Number(forged[0]!.id),
      reason: "broken_link",
    });
  });

  test("a chain rewritten after a point, head left alone → head_mismatch", async () => {
    const { key, ids } = await missionWithEntries(2);
    // Recompute the last entry's hash consistently with new content: the chain itself looks fine…
    const last = (
      await sql<{ prev_hash: string }>(t, "SELECT prev_hash FROM trace_entries WHERE id = $1", [ids[2]])
    )[0]!;
    const row = (
      await sql<{ at: Date; event: string; actor: string }>(
        t,
        "SELECT at, event, actor FROM trace_entries WHERE id = $1",
        [ids[2]],
      )
    )[0]!;
    const content = {
      at: new Date(row.at).toISOString(),
      event: row.event,
      actor: row.actor,
      mission_id: key,
      task_id: null,
      agent_id: null,
      data: { forged: true },
    };
    await sql(t, "UPDATE trace_entries SET data = '{\"forged\": true}', hash = $2 WHERE id = $1", [
      ids[2],
      entryHash(last.prev_hash, content),
    ]);
    // …but it no longer ends on the head recorded when the real entry was appended.
    expect(await verify(t, key)).toEqual({ valid: false, entries: 3, first_bad_id: null, reason: "head_mismatch" });
  });

  test("an entry from before the chain existed (empty hashes) is reported", async () => {
    const key = uniq("legacy");
    const rows = await sql<{ id: number }>(
      t,
      "INSERT INTO trace_entries (event, actor, mission_id, data, prev_hash, hash) VALUES ('x', 'y', $1, '{}', '', '') RETURNING id",
      [key],
    );
    await sql(t, "INSERT INTO missions (mission_id, goal) VALUES ($1, 'g')", [key]);
    expect(await verify(t, key)).toMatchObject({
      valid: false,
      first_bad_id: Number(rows[0]!.id),
      reason: "broken_link",
    });
  });

  test("verifying every chain at once finds a tampered one among intact ones", async () => {
    const good = await missionWithEntries(2);
    const bad = await missionWithEntries(3);
    expect((await verify(t, good.key)).valid).toBe(true);
    await sql(t, "UPDATE trace_entries SET actor = 'x' WHERE id = $1", [bad.ids[1]]);
    const all = await verify(t);
    expect(all.valid).toBe(false);
    const total = (await sql<{ n: number }>(t, "SELECT count(*)::int AS n FROM trace_entries"))[0]!.n;
    expect(all.entries).toBe(total);
    // Earlier tests left tampered chains too; the first bad entry overall is reported.
    expect(all.first_bad_id).not.toBeNull();
    expect(all.first_bad_id!).toBeLessThanOrEqual(bad.ids[1]!);
    expect((await verify(t, good.key)).valid).toBe(true);
  });
});

describe("GET /api/trace/verify", () => {
  test.each(["no-such-mission", "999999", "bad key!", "0"])("unknown mission %s → 404", async (id) => {
    const r = await t.json("GET", "/api/trace/verify", { query: { mission_id: id } });
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ errors: { detail: "Not Found" } });
  });

  test("no token → 401; agent token → 403", async () => {
    const r = await t.json("GET", "/api/trace/verify", { token: null });
    expect(r.status).toBe(401);
    expect(r.headers["www-authenticate"]).toBe("Bearer");
    expect(r.body).toEqual({ errors: { detail: "Unauthorized" } });
    const a = await t.json("GET", "/api/trace/verify", { token: await t.agentToken(uniq("agent")) });
    expect(a.status).toBe(403);
    expect(a.body).toEqual({ errors: { detail: "Forbidden" } });
  });

  test("members may verify", async () => {
    const m = await createMission(t);
    const r = await t.json("GET", "/api/trace/verify", { token: t.member, query: { mission_id: m.mission_id } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ data: { valid: true, entries: 1, first_bad_id: null, reason: null } });
  });
});

describe("concurrent appends to one chain", () => {
  /** Appends in parallel from `pools` separate connection pools; each transaction waits a little while holding the lock. */
  async function hammer(key: string, pools: Array<{ db: typeof t.database.db }>, n: number) {
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        pools[i % pools.length]!.db.transaction(async (tx) => {
          await appendTrace(tx as Executor, {
            event: "mission.updated",
            actor: `w${i}`,
            missionId: key,
            data: { changes: { i } },
          });
          await new Promise((r) => setTimeout(r, i % 3));
          await appendTrace(tx as Executor, {
            event: "mission.updated",
            actor: `w${i}`,
            missionId: key,
            data: { changes: { i, second: true } },
          });
        }),
      ),
    );
  }

  /** `first`: entries before the concurrent ones (mission.created). */
  async function assertLinear(key: string, expected: number, first: number) {
    const rows = await sql<{ id: number; prev_hash: string; hash: string; actor: string }>(
      t,
      "SELECT id, prev_hash, hash, actor FROM trace_entries WHERE mission_id = $1 ORDER BY id",
      [key],
    );
    expect(rows).toHaveLength(expected);
    // No fork: every hash is the predecessor of exactly one entry; no gap: each links to the one before.
    expect(new Set(rows.map((r) => r.prev_hash)).size).toBe(rows.length);
    rows.forEach((r, i) => expect(r.prev_hash).toBe(i === 0 ? GENESIS : rows[i - 1]!.hash));
    // A transaction's two entries are adjacent: the chain stays locked until it commits.
    for (let i = first + 1; i < rows.length; i += 2) expect(rows[i]!.actor).toBe(rows[i - 1]!.actor);
    expect(await verify(t, key)).toEqual({ valid: true, entries: expected, first_bad_id: null, reason: null });
    const head = await sql<{ length: number }>(t, "SELECT length FROM trace_chains WHERE chain = $1", [key]);
    expect(Number(head[0]!.length)).toBe(expected);
  }

  test("many transactions at once: one linear chain, no fork, no gap", async () => {
    const m = await createMission(t);
    const extra =
      backend === "postgres"
        ? await Promise.all([1, 2].map(() => openDatabase({ databaseUrl: t.db.url, dataDir: null, poolSize: 4 })))
        : [];
    try {
      await hammer(m.mission_id, [t.database, ...extra], 40);
    } finally {
      await Promise.all(extra.map((d) => d.close()));
    }
    await assertLinear(m.mission_id, 1 + 80, 1);
  });

  test.runIf(backend === "postgres")(
    "a chain's lock holds only that chain: other missions append meanwhile",
    async () => {
      const a = await createMission(t);
      const b = await createMission(t);
      const other = await openDatabase({ databaseUrl: t.db.url, dataDir: null, poolSize: 3 });
      try {
        let release!: () => void;
        const held = new Promise<void>((r) => (release = r));
        let appended!: () => void;
        const holding = new Promise<void>((r) => (appended = r));
        const tx1 = t.database.db.transaction(async (tx) => {
          await appendTrace(tx as Executor, {
            event: "mission.updated",
            actor: "tx1",
            missionId: a.mission_id,
            data: { changes: {} },
          });
          appended();
          await held;
        });
        await holding;
        // Mission B is not blocked by the open transaction on A…
        await other.db.transaction((tx) =>
          appendTrace(tx as Executor, {
            event: "mission.updated",
            actor: "tx2",
            missionId: b.mission_id,
            data: { changes: {} },
          }),
        );
        // …while a second append to A waits for tx1 to commit.
        let tx3Done = false;
        const tx3 = other.db
          .transaction((tx) =>
            appendTrace(tx as Executor, {
              event: "mission.updated",
              actor: "tx3",
              missionId: a.mission_id,
              data: { changes: {} },
            }),
          )
          .then(() => (tx3Done = true));
        await new Promise((r) => setTimeout(r, 300));
        expect(tx3Done).toBe(false);
        release();
        await tx1;
        await tx3;
        const actors = await sql<{ actor: string }>(
          t,
          "SELECT actor FROM trace_entries WHERE mission_id = $1 ORDER BY id",
          [a.mission_id],
        );
        expect(actors.map((r) => r.actor).slice(1)).toEqual(["tx1", "tx3"]);
        expect((await verify(t, a.mission_id)).valid).toBe(true);
        expect((await verify(t, b.mission_id)).valid).toBe(true);
      } finally {
        await other.close();
      }
    },
  );

  test("the first appends of a brand-new chain race safely", async () => {
    const key = uniq("fresh");
    const extra =
      backend === "postgres" ? [await openDatabase({ databaseUrl: t.db.url, dataDir: null, poolSize: 4 })] : [];
    try {
      await hammer(key, [t.database, ...extra], 12);
    } finally {
      await Promise.all(extra.map((d) => d.close()));
    }
    await sql(t, "INSERT INTO missions (mission_id, goal) VALUES ($1, 'g')", [key]);
    await assertLinear(key, 24, 0);
  });
});

test("the halves around `at` that the append statement joins are the canonical JSON", () => {
  fc.assert(
    fc.property(
      fc.record({
        at: fc
          .date({ min: new Date("1970-01-01"), max: new Date("9999-12-31"), noInvalidDate: true })
          .map((d) => d.toISOString()),
        event: fc.string(),
        actor: fc.string(),
        mission_id: fc.option(fc.string(), { nil: null }),
        task_id: fc.option(fc.string(), { nil: null }),
        agent_id: fc.option(fc.string(), { nil: null }),
        data: fc.jsonValue(),
      }),
      (c) => {
        const [before, after] = contentAround(c);
        expect(before + c.at + after).toBe(contentJson(c));
        expect(JSON.parse(before + c.at + after)).toEqual(JSON.parse(JSON.stringify(c)));
      },
    ),
    { numRuns: 500 },
  );
});

test("contentJson names exactly the hashed fields", () => {
  const c = { at: "a", event: "e", actor: "x", mission_id: null, task_id: "t", agent_id: null, data: { b: 1 } };
  expect(contentJson({ ...c, id: 5, hash: "h" } as typeof c)).toBe(
    '{"actor":"x","agent_id":null,"at":"a","data":{"b":1},"event":"e","mission_id":null,"task_id":"t"}',
  );
});

test("OpenAPI describes the trace routes, streams with their content types", async () => {
  const doc = (await t.json("GET", "/openapi.json", { token: null })).body;
  expect(doc.paths["/api/trace/verify"].get.summary).toBe("Verify the hash chain");
  expect(Object.keys(doc.paths["/api/trace/export"].get.responses["200"].content)).toEqual(["application/x-ndjson"]);
  expect(Object.keys(doc.paths["/api/events"].get.responses["200"].content)).toEqual(["text/event-stream"]);
  expect(doc.paths["/api/missions/{mission_id}/replay"].post.summary).toBe("Replay mission trace");
});
