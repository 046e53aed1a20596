import { doublePrecision, jsonb, pgTable, text, index } from "drizzle-orm/pg-core";
import { id, insertedAt, updatedAt } from "./columns.js";
import type { MissionStatus } from "../../missions/missions.state.js";

export const missions = pgTable(
  "missions",
  {
    id: id(),
    missionId: text("mission_id").notNull().unique(),
    goal: text("goal").notNull(),
    description: text("description"),
    status: text("status").$type<MissionStatus>().notNull().default("planning"),
    metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default({}),
    /** Spend limit in US dollars: the mission pauses itself when its tasks' outputs.cost_usd add up past it. */
    budgetUsd: doublePrecision("budget_usd"),
    insertedAt: insertedAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index("missions_status_idx").on(t.status, t.id)],
);
