import { sql } from "drizzle-orm";
import { bigint, index, integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import { id, insertedAt } from "./columns.js";
import type { TokenRole } from "../../tokens/tokens.state.js";

// Only the SHA-256 of a token is stored; the secret itself is shown once, on create.
export const apiTokens = pgTable(
  "api_tokens",
  {
    id: id(),
    name: text("name"),
    role: text("role").$type<TokenRole>().notNull(),
    agentId: integer("agent_id"),
    tokenHash: text("token_hash").notNull().unique(),
    /** For runtime-issued tokens: the run they belong to stops being valid at this moment. */
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }),
    revokedAt: timestamp("revoked_at", { withTimezone: true, mode: "date" }),
    /** Kept by the token cache: at most a minute behind the last request made with the token. */
    lastUsedAt: timestamp("last_used_at", { withTimezone: true, mode: "date" }),
    /** For run tokens: the run's task (the only task the token may act on) and its dispatch (revoked when it ends). */
    taskId: integer("task_id"),
    dispatchId: bigint("dispatch_id", { mode: "number" }),
    insertedAt: insertedAt(),
  },
  (t) => [
    index("api_tokens_agent_idx").on(t.agentId),
    index("api_tokens_dispatch_idx")
      .on(t.dispatchId)
      .where(sql`dispatch_id IS NOT NULL AND revoked_at IS NULL`),
  ],
);
