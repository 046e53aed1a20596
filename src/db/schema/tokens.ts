import { index, integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import { id, insertedAt } from "./columns.js";

// Only the SHA-256 of a token is stored; the secret itself is shown once, on create.
export const apiTokens = pgTable(
  "api_tokens",
  {
    id: id(),
    name: text("name"),
    role: text("role").notNull(),
    agentId: integer("agent_id"),
    tokenHash: text("token_hash").notNull().unique(),
    /** For runtime-issued tokens: the run they belong to stops being valid at this moment. */
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }),
    revokedAt: timestamp("revoked_at", { withTimezone: true, mode: "date" }),
    lastUsedAt: timestamp("last_used_at", { withTimezone: true, mode: "date" }),
    insertedAt: insertedAt(),
  },
  (t) => [index("api_tokens_agent_idx").on(t.agentId)],
);
