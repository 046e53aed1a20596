import { sql } from "drizzle-orm";
import { bigint, index, integer, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { insertedAt, updatedAt } from "./columns.js";
import { agents } from "./agents.js";
import { missions } from "./missions.js";
import { tasks } from "./tasks.js";
import type { DispatchStatus } from "../../runtime/dispatch.state.js";

// The durable dispatch queue. A row is written in the same transaction as the trace entry that announces
// it; workers claim rows with FOR UPDATE SKIP LOCKED. The partial unique index is what guarantees a task
// is never dispatched twice at the same time, whatever the processes do.
export const dispatches = pgTable(
  "dispatches",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    taskId: integer("task_id")
      .notNull()
      .references(() => tasks.id),
    missionId: integer("mission_id")
      .notNull()
      .references(() => missions.id),
    agentId: integer("agent_id")
      .notNull()
      .references(() => agents.id),
    status: text("status").$type<DispatchStatus>().notNull().default("queued"),
    attempt: integer("attempt").notNull().default(1),
    runAfter: timestamp("run_after", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    /** The server process running it (its runtime id) while `running`. */
    owner: text("owner"),
    /** Process group of the agent run, so a successor can make sure it is gone after a crash. */
    pid: integer("pid"),
    reason: text("reason"),
    /** While `running`: when the run last printed a line or a tool event (written at most once a second). */
    lastOutputAt: timestamp("last_output_at", { withTimezone: true, mode: "date" }),
    startedAt: timestamp("started_at", { withTimezone: true, mode: "date" }),
    finishedAt: timestamp("finished_at", { withTimezone: true, mode: "date" }),
    insertedAt: insertedAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index("dispatches_claim_idx").on(t.missionId, t.agentId, t.status, t.id),
    // An agent's live run (agent reads, the staleness daemon's "no run holds it").
    index("dispatches_running_agent_idx")
      .on(t.agentId, t.id)
      .where(sql`status = 'running'`),
    // GET /api/dispatches?status=… (the console's parked dispatches), in id order, however many have finished.
    index("dispatches_status_idx").on(t.status, t.id),
    uniqueIndex("dispatches_one_live_per_task")
      .on(t.taskId)
      .where(sql`status IN ('queued', 'running', 'awaiting_approval')`),
  ],
);

// Which server process runs a mission's tree. The owner renews `expires_at`; anyone may take a lease that
// has expired.
export const missionLeases = pgTable("mission_leases", {
  missionId: integer("mission_id")
    .primaryKey()
    .references(() => missions.id),
  owner: text("owner").notNull(),
  expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
  acquiredAt: timestamp("acquired_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
});
