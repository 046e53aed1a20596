import { sql } from "drizzle-orm";
import { index, integer, jsonb, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";
import { id, insertedAt, updatedAt } from "./columns.js";
import { missions } from "./missions.js";
import type { AgentStatus, StatusCause } from "../../agents/agents.state.js";

export const agents = pgTable(
  "agents",
  {
    id: id(),
    agentId: text("agent_id").notNull().unique(),
    name: text("name"),
    adapterModule: text("adapter_module").notNull().default("manual"),
    capabilities: jsonb("capabilities").$type<string[]>().notNull().default([]),
    /** Adapter settings. Values under secret-looking keys are stored but never returned. */
    config: jsonb("config").$type<Record<string, unknown>>().notNull().default({}),
    status: text("status").$type<AgentStatus>().notNull().default("offline"),
    /** Key of the task the agent last said it started (activity `task_start`). */
    currentTaskId: text("current_task_id"),
    lastSeenAt: timestamp("last_seen_at", { withTimezone: true, mode: "date" }),
    /** What last changed the status (agents.state.ts STATUS_CAUSES): activity, hook, run, stale, reset, heartbeat. */
    statusCause: text("status_cause").$type<StatusCause>(),
    /** The sentence that explains the status to a person (agents.status.ts renders the time-dependent ones). */
    statusReason: text("status_reason"),
    /** When the status last changed (NULL: not since the agent was created). */
    statusSince: timestamp("status_since", { withTimezone: true, mode: "date" }),
    /** The last activity event reported for the agent (by itself, its hooks or the runtime), heartbeats aside. */
    lastEvent: text("last_event"),
    lastEventAt: timestamp("last_event_at", { withTimezone: true, mode: "date" }),
    insertedAt: insertedAt(),
    updatedAt: updatedAt(),
  },
  // The staleness daemon's scan: agents that could go stale, by last_seen_at.
  (t) => [
    index("agents_live_seen_idx")
      .on(t.lastSeenAt)
      .where(sql`status IN ('idle', 'working', 'blocked', 'waiting_for_input')`),
  ],
);

export const missionAgents = pgTable(
  "mission_agents",
  {
    missionId: integer("mission_id")
      .notNull()
      .references(() => missions.id),
    agentId: integer("agent_id")
      .notNull()
      .references(() => agents.id),
    insertedAt: insertedAt(),
  },
  (t) => [primaryKey({ columns: [t.missionId, t.agentId] }), index("mission_agents_agent_idx").on(t.agentId)],
);
