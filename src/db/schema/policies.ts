import { sql } from "drizzle-orm";
import { boolean, check, index, integer, jsonb, pgTable, text } from "drizzle-orm/pg-core";
import { id, insertedAt, updatedAt } from "./columns.js";
import type { PolicyMode } from "../../policies/decide.js";

// Guardrail policies. `conditions` and `actions` are validated by src/policies before they are stored, so
// every row here compiles. `version` starts at 1 and grows by one with every change: decisions in the trace
// name the version they used, and a policy's history is its `policy.*` trace entries.
export const policies = pgTable(
  "policies",
  {
    id: id(),
    policyId: text("policy_id").notNull().unique(),
    description: text("description"),
    /** `global`, `mission:<key>` or `agent:<key>`. */
    scope: text("scope").notNull().default("global"),
    conditions: jsonb("conditions").$type<Record<string, unknown>>().notNull().default({}),
    /** One-key objects: `{"block": msg}`, `{"require_approval": msg}`, `{"warn": msg}`. */
    actions: jsonb("actions").$type<Array<Record<string, string>>>().notNull().default([]),
    enabled: boolean("enabled").notNull().default(true),
    mode: text("mode").$type<PolicyMode>().notNull().default("enforce"),
    version: integer("version").notNull().default(1),
    insertedAt: insertedAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index("policies_scope_idx").on(t.scope, t.id),
    check("policies_mode_check", sql`${t.mode} in ('enforce', 'dry_run')`),
    check("policies_version_check", sql`${t.version} >= 1`),
  ],
);
