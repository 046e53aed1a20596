import { and, asc, eq, gt, isNull, sql } from "drizzle-orm";
import type { Executor } from "../db/client.js";
import { agents, apiTokens, dispatches } from "../db/schema/index.js";
import { succeededStatus } from "../runtime/dispatch.state.js";
import type { Page } from "../core/pagination.js";
import type { TokenRole } from "./tokens.state.js";

export type TokenRow = typeof apiTokens.$inferSelect & { agentKey: string | null };

const cols = {
  id: apiTokens.id,
  name: apiTokens.name,
  role: apiTokens.role,
  agentId: apiTokens.agentId,
  tokenHash: apiTokens.tokenHash,
  expiresAt: apiTokens.expiresAt,
  revokedAt: apiTokens.revokedAt,
  lastUsedAt: apiTokens.lastUsedAt,
  taskId: apiTokens.taskId,
  dispatchId: apiTokens.dispatchId,
  insertedAt: apiTokens.insertedAt,
  agentKey: agents.agentId,
};

export async function findActiveByHash(exec: Executor, hash: string): Promise<TokenRow | undefined> {
  const rows = await exec
    .select(cols)
    .from(apiTokens)
    .leftJoin(agents, eq(agents.id, apiTokens.agentId))
    .where(
      and(
        eq(apiTokens.tokenHash, hash),
        isNull(apiTokens.revokedAt),
        sql`(${apiTokens.expiresAt} IS NULL OR ${apiTokens.expiresAt} > now())`,
      ),
    )
    .limit(1);
  return rows[0];
}

/** Of these hashes, those of tokens that still authenticate (not revoked, not expired), in one statement. */
export async function activeHashes(exec: Executor, hashes: string[]): Promise<string[]> {
  if (hashes.length === 0) return [];
  // Hex digests: safe in an array literal, which both drivers pass as one text parameter.
  const rows = await exec
    .select({ hash: apiTokens.tokenHash })
    .from(apiTokens)
    .where(
      and(
        sql`${apiTokens.tokenHash} = ANY(${`{${hashes.join(",")}}`}::text[])`,
        isNull(apiTokens.revokedAt),
        sql`(${apiTokens.expiresAt} IS NULL OR ${apiTokens.expiresAt} > now())`,
      ),
    );
  return rows.map((r) => r.hash);
}

export async function listActive(exec: Executor, page: Page): Promise<TokenRow[]> {
  return exec
    .select(cols)
    .from(apiTokens)
    .leftJoin(agents, eq(agents.id, apiTokens.agentId))
    .where(and(isNull(apiTokens.revokedAt), page.after === null ? undefined : gt(apiTokens.id, page.after)))
    .orderBy(asc(apiTokens.id))
    .limit(page.limit + 1);
}

export async function insertToken(
  exec: Executor,
  values: {
    name: string | null;
    role: TokenRole;
    agentId: number | null;
    tokenHash: string;
    expiresAt?: Date | null;
    taskId?: number | null;
    dispatchId?: number | null;
  },
) {
  const rows = await exec.insert(apiTokens).values(values).returning();
  return rows[0]!;
}

export async function revokeToken(exec: Executor, id: number) {
  const rows = await exec
    .update(apiTokens)
    .set({ revokedAt: sql`now()` })
    .where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)))
    .returning();
  return rows[0];
}

/** Revokes the live tokens of these runs (dispatch ids); the hashes of those it revoked. */
export async function revokeRunTokens(exec: Executor, dispatchIds: number[]): Promise<string[]> {
  if (dispatchIds.length === 0) return [];
  const rows = await exec
    .update(apiTokens)
    .set({ revokedAt: sql`now()` })
    .where(
      and(sql`${apiTokens.dispatchId} = ANY(${`{${dispatchIds.join(",")}}`}::bigint[])`, isNull(apiTokens.revokedAt)),
    )
    .returning({ hash: apiTokens.tokenHash });
  return rows.map((r) => r.hash);
}

/**
 * Revokes the tokens of the task's delivered runs (a webhook's: the remote agent's work is the run), returning
 * their hashes. A live run's token is not touched (a process run's dies when its process ends). Reads the
 * dispatch's status only, in the same statement.
 */
export async function revokeDeliveredRunTokens(exec: Executor, taskId: number): Promise<string[]> {
  const rows = await exec
    .update(apiTokens)
    .set({ revokedAt: sql`now()` })
    .where(
      and(
        eq(apiTokens.taskId, taskId),
        isNull(apiTokens.revokedAt),
        sql`${apiTokens.dispatchId} IN (SELECT ${dispatches.id} FROM ${dispatches} WHERE ${dispatches.taskId} = ${taskId} AND ${dispatches.status} = ${succeededStatus("remote")})`,
      ),
    )
    .returning({ hash: apiTokens.tokenHash });
  return rows.map((r) => r.hash);
}

/** Moves `last_used_at` forward to when each token was last used (ages in ms before the statement). */
export async function touchUsed(exec: Executor, ids: number[], agesMs: number[]): Promise<void> {
  if (ids.length === 0) return;
  const v = sql`(SELECT unnest(${`{${ids.join(",")}}`}::integer[]) AS id, unnest(${`{${agesMs.join(",")}}`}::bigint[]) AS age_ms) AS v`;
  const at = sql`(now() - v.age_ms * interval '1 millisecond')`;
  await exec
    .update(apiTokens)
    .set({ lastUsedAt: sql`GREATEST(${apiTokens.lastUsedAt}, ${at})` })
    .from(v)
    .where(sql`${apiTokens.id} = v.id`);
}

export async function countTokens(exec: Executor): Promise<number> {
  const rows = await exec.select({ n: sql<number>`count(*)::int` }).from(apiTokens);
  return rows[0]?.n ?? 0;
}
