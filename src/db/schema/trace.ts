import { bigint, index, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

// Append-only: no code path updates or deletes a row. References are stored by key (keys never change), so
// an entry stays meaningful on its own and replay needs nothing but this table.
//
// Hash chain (src/trace/chain.ts): entries of one mission form one chain, entries without a mission one
// global chain. `hash` = SHA-256(prev_hash ‖ canonical JSON of the entry's content), `prev_hash` = the hash
// of the chain's previous entry (64 zeros for the first). Both are written by appendTrace only.
export const traceEntries = pgTable(
  "trace_entries",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    at: timestamp("at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    event: text("event").notNull(),
    actor: text("actor").notNull(),
    missionId: text("mission_id"),
    taskId: text("task_id"),
    agentId: text("agent_id"),
    data: jsonb("data").$type<Record<string, unknown>>().notNull().default({}),
    prevHash: text("prev_hash").notNull(),
    hash: text("hash").notNull(),
  },
  (t) => [
    index("trace_mission_idx").on(t.missionId, t.id),
    index("trace_task_idx").on(t.taskId, t.id),
    index("trace_agent_idx").on(t.agentId, t.id),
    index("trace_event_idx").on(t.event, t.id),
    index("trace_at_idx").on(t.at),
    // A mission's entries in a time window (`since`/`until` with `mission_id`): without it such a page walks
    // the mission's entries from its first one, or every entry of that window in any mission.
    index("trace_mission_at_idx").on(t.missionId, t.at),
  ],
);

// The head of every chain: one row per chain, `chain` = the mission key, or '' for the global chain.
// appendTrace updates it in the same statement that inserts the entry, so the row lock it takes serializes
// appends to one chain (and only that chain) until the appending transaction ends. `length` and
// `head_hash` let verification notice entries cut off the end of a chain; `prev_hash` is only the old head,
// kept so the one statement can hand it to the inserted entry (RETURNING sees new values only).
// `head_at` (null for chains begun before it existed) keeps `at` non-decreasing along a chain.
export const traceChains = pgTable("trace_chains", {
  chain: text("chain").primaryKey(),
  headHash: text("head_hash").notNull(),
  prevHash: text("prev_hash").notNull(),
  length: bigint("length", { mode: "number" }).notNull(),
  /** `at` of the head: a new entry's `at` is never earlier, so within a chain `at` grows with the id. */
  headAt: timestamp("head_at", { withTimezone: true, mode: "date" }),
});
