import { date, pgTable, text } from "drizzle-orm/pg-core";
import { id, insertedAt, updatedAt } from "./columns.js";
import type { SprintStatus } from "../../sprints/sprints.state.js";

export const sprints = pgTable("sprints", {
  id: id(),
  sprintId: text("sprint_id").notNull().unique(),
  name: text("name").notNull(),
  goal: text("goal"),
  startDate: date("start_date", { mode: "string" }),
  endDate: date("end_date", { mode: "string" }),
  status: text("status").$type<SprintStatus>().notNull().default("planned"),
  insertedAt: insertedAt(),
  updatedAt: updatedAt(),
});
