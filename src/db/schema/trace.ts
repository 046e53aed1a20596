import { bigint, index, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

// Append-only: no code path updates or deletes a row. References are stored by key (keys never change), so
// an entry stays meaningful on its own and replay needs nothing but this table.
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
  },
  (t) => [
    index("trace_mission_idx").on(t.missionId, t.id),
    index("trace_task_idx").on(t.taskId, t.id),
    index("trace_agent_idx").on(t.agentId, t.id),
    index("trace_event_idx").on(t.event, t.id),
    index("trace_at_idx").on(t.at),
  ],
);
