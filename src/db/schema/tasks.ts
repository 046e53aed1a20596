import { bigint, index, integer, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import { id, insertedAt, updatedAt } from "./columns.js";
import { missions } from "./missions.js";
import { agents } from "./agents.js";
import { sprints } from "./sprints.js";
import type { TaskStatus } from "../../tasks/tasks.state.js";

export const tasks = pgTable(
  "tasks",
  {
    id: id(),
    taskId: text("task_id").notNull().unique(),
    missionId: integer("mission_id")
      .notNull()
      .references(() => missions.id),
    objective: text("objective").notNull(),
    status: text("status").$type<TaskStatus>().notNull().default("pending"),
    agentId: integer("agent_id").references(() => agents.id),
    sprintId: integer("sprint_id").references(() => sprints.id),
    priority: integer("priority"),
    outputs: jsonb("outputs").$type<Record<string, unknown>>().notNull().default({}),
    requiredCapabilities: jsonb("required_capabilities").$type<string[]>().notNull().default([]),
    insertedAt: insertedAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index("tasks_mission_idx").on(t.missionId, t.id),
    index("tasks_agent_idx").on(t.agentId, t.status),
    index("tasks_status_idx").on(t.status, t.id),
    index("tasks_sprint_idx").on(t.sprintId),
  ],
);

// A long-running task can have thousands of log lines: they live here, not in a JSON column on the task.
export const taskLogs = pgTable(
  "task_logs",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    taskId: integer("task_id")
      .notNull()
      .references(() => tasks.id),
    message: text("message").notNull(),
    level: text("level"),
    timestamp: timestamp("timestamp", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [index("task_logs_task_idx").on(t.taskId, t.id)],
);
