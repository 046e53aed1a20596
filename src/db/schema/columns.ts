import { integer, timestamp } from "drizzle-orm/pg-core";

/** Every record has a database-assigned integer `id` and create/update timestamps. */
export const id = () => integer("id").primaryKey().generatedAlwaysAsIdentity();
export const insertedAt = () => timestamp("inserted_at", { withTimezone: true, mode: "date" }).notNull().defaultNow();
export const updatedAt = () => timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow();
