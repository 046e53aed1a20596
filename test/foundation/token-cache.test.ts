// The token cache (src/tokens/tokens.service.ts): answers are reused only while the database confirmed them
// within 5 s, by the token's own lookup or by one revalidation statement for every cached token, so a token
// revoked by any process stops working within that time, and busy agents cost no lookup of their own.
import { afterAll, beforeAll, expect, test } from "vitest";
import { createTokensService } from "../../src/tokens/tokens.service.js";
import { SYSTEM, createTestDb, type TestDb } from "../harness.js";

let db: TestDb;
let now = 1_000_000;
const clock = () => now;
beforeAll(async () => {
  db = await createTestDb();
});
afterAll(async () => {
  await db.drop();
});

function service() {
  return createTokensService({ database: db.database, adminToken: null, now: clock });
}

/** Revokes as another server process would: straight in the database, this process's cache untouched. */
async function revokeElsewhere(id: number) {
  await db.database.query("UPDATE api_tokens SET revoked_at = now() WHERE id = $1", [id]);
}

/** Statements run while `fn` runs. */
async function statements(fn: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const proto = Object.getPrototypeOf(db.database.db._.session);
  const original = proto.prepareQuery;
  proto.prepareQuery = function (this: unknown, query: { sql: string }, ...rest: unknown[]) {
    seen.push(query.sql);
    return original.call(this, query, ...rest);
  };
  try {
    await fn();
  } finally {
    proto.prepareQuery = original;
  }
  return seen;
}

test("a revocation by another process is seen by the next revalidation", async () => {
  const tokens = service();
  const t = await tokens.create({ role: "member", name: "elsewhere" }, SYSTEM);
  expect((await tokens.authenticate(t.token))?.tokenId).toBe(t.id);
  await revokeElsewhere(t.id);
  await tokens.revalidate();
  expect(await tokens.authenticate(t.token)).toBeNull();
});

test("without a confirmation for 5 s, a cached answer is looked up again", async () => {
  const tokens = service();
  const t = await tokens.create({ role: "member", name: "aging" }, SYSTEM);
  expect(await tokens.authenticate(t.token)).not.toBeNull();
  await revokeElsewhere(t.id);
  now += 4_000;
  // Within 5 s of its lookup the answer stands (and a revalidation starts in the background)…
  const stale = await tokens.authenticate(t.token);
  await tokens.revalidate();
  expect(stale).not.toBeNull();
  // …which has dropped it by now.
  expect(await tokens.authenticate(t.token)).toBeNull();

  // Entries nobody confirmed for 5 s (no traffic, so no revalidation) are looked up again.
  const u = await tokens.create({ role: "member", name: "aging-2" }, SYSTEM);
  const other = service();
  expect(await other.authenticate(u.token)).not.toBeNull();
  await other.revalidate();
  await revokeElsewhere(u.id);
  now += 5_001;
  expect(await other.authenticate(u.token)).toBeNull();
});

test("busy tokens are confirmed together: one statement for all of them, none per request", async () => {
  const tokens = service();
  const made = await Promise.all(
    Array.from({ length: 20 }, (_, i) => tokens.create({ role: "member", name: `busy-${i}` }, SYSTEM)),
  );
  for (const m of made) expect(await tokens.authenticate(m.token)).not.toBeNull();
  // For a minute, each token is used every 3 s: a revalidation starts at most every 2 s, none per request.
  const seen = await statements(async () => {
    for (let step = 0; step < 20; step++) {
      now += 3_000;
      for (const m of made) expect(await tokens.authenticate(m.token)).not.toBeNull();
      await tokens.revalidate();
    }
  });
  expect(seen.filter((s) => /api_tokens/.test(s)).every((s) => /ANY/.test(s))).toBe(true);
  expect(seen.length).toBeLessThanOrEqual(20);
});

test("an unknown secret is not revalidated, and a token revoked here stops at once", async () => {
  const tokens = service();
  expect(await tokens.authenticate("mc_not-a-real-token")).toBeNull();
  const t = await tokens.create({ role: "admin", name: "local" }, SYSTEM);
  expect(await tokens.authenticate(t.token)).not.toBeNull();
  await tokens.revoke(String(t.id), SYSTEM);
  expect(await tokens.authenticate(t.token)).toBeNull();
});
