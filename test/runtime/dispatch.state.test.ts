// The dispatch state file against what the database enforces: the live statuses are exactly those of the
// partial unique index (one live dispatch per task), and the moves agree with the predicates.
import { getTableConfig, PgDialect } from "drizzle-orm/pg-core";
import { describe, expect, test } from "vitest";
import { dispatches } from "../../src/db/schema/index.js";
import {
  canMoveDispatch,
  DISPATCH_STATUSES,
  isDispatchable,
  isFinalDispatch,
  isLiveDispatch,
  LIVE_DISPATCH_STATUSES,
} from "../../src/runtime/dispatch.state.js";

describe("dispatch statuses", () => {
  test("the live statuses are the ones the one-live-dispatch-per-task index names", () => {
    const index = getTableConfig(dispatches).indexes.find((i) => i.config.name === "dispatches_one_live_per_task");
    const where = new PgDialect().sqlToQuery(index!.config.where!).sql;
    const named = [...where.matchAll(/'([a-z_]+)'/g)].map((m) => m[1]);
    expect([...named].sort()).toEqual([...LIVE_DISPATCH_STATUSES].sort());
  });

  test("a status is live exactly when it is not final; only final statuses have no moves", () => {
    for (const s of DISPATCH_STATUSES) {
      expect(isLiveDispatch(s)).toBe(!isFinalDispatch(s));
      for (const to of DISPATCH_STATUSES) if (isFinalDispatch(s)) expect(canMoveDispatch(s, to)).toBe(false);
    }
  });

  test("only a queued dispatch is claimed, and a claim makes it running", () => {
    expect(DISPATCH_STATUSES.filter(isDispatchable)).toEqual(["queued"]);
    expect(canMoveDispatch("queued", "running")).toBe(true);
    expect(canMoveDispatch("awaiting_approval", "running")).toBe(false);
    expect(canMoveDispatch("running", "queued")).toBe(true);
  });
});
