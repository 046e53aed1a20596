import { index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { id } from "./columns.js";

// One row per (token, Idempotency-Key) seen on a POST within the last 24 hours. `status_code` is null while
// the first request is still being processed; afterwards the row holds the response to replay.
export const idempotencyKeys = pgTable(
  "idempotency_keys",
  {
    id: id(),
    /** Whose key this is: keys are scoped per token (`token:<id>`, or `actor:<name>` for MC_ADMIN_TOKEN). */
    scope: text("scope").notNull(),
    key: text("key").notNull(),
    /** SHA-256 of method, URL and canonical JSON body: the same key with another request is refused. */
    fingerprint: text("fingerprint").notNull(),
    statusCode: integer("status_code"),
    responseBody: text("response_body"),
    responseHeaders: jsonb("response_headers").$type<Record<string, string>>(),
    insertedAt: timestamp("inserted_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("idempotency_keys_scope_key_idx").on(t.scope, t.key),
    index("idempotency_keys_inserted_idx").on(t.insertedAt),
  ],
);
