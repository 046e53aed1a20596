// API tokens. Invariants: a secret is generated here, returned once, and only its SHA-256 is stored; a
// revoked or expired token stops authenticating within CACHE_TTL_MS on every process. The cache is the only
// thing that can make a lookup stale: an answer is used only while the database has confirmed it within
// CACHE_TTL_MS, either by the token's own lookup or by a revalidation, one statement that checks every cached
// token at once. While requests come in, one starts in the background every REVALIDATE_AFTER_MS, so under
// steady traffic an agent that calls every few seconds (or minutes) costs no lookup of its own (it would with
// a plain 5 s expiry), and a revocation made by any process is seen by the next revalidation.
// Run tokens (issueRunToken) are bound to one run: their principal may act only on the run's task, and they
// are revoked by `revokeRunTokens` when the run ends, in the transaction that ends it; this process drops them
// from its cache at once, other processes at their next revalidation (within CACHE_TTL_MS). A webhook's run
// is the remote agent's work after delivery: its token is revoked when its task leaves `in_progress`
// (`revokeDeliveredRunTokens`, called by the tasks service in the move's transaction).
// `last_used_at` is kept without a write per request: uses are noted in memory and written by one statement
// every USAGE_FLUSH_MS (and on close), so it is at most that far behind.
import { hash as hashOf, randomBytes, timingSafeEqual } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { sql } from "drizzle-orm";
import type { Database, Executor } from "../db/client.js";
import type { Principal } from "../core/principal.js";
import { Invalid, NotFound } from "../core/errors.js";
import { parseRef, type Ref } from "../core/ids.js";
import { pageOf, toPage } from "../core/pagination.js";
import { appendTrace } from "../trace/trace.append.js";
import { findAgent } from "../agents/agents.lookup.js";
import * as repo from "./tokens.repo.js";
import type { TokenCreate } from "./tokens.schemas.js";
import { isAgentRole, ROLE, type TokenRole } from "./tokens.state.js";

export const TOKEN_PREFIX = "mc_";
const CACHE_TTL_MS = 5_000;
const REVALIDATE_AFTER_MS = 2_000;
/** Entries not used for this long are not revalidated but dropped. */
const CACHE_IDLE_MS = 10 * 60_000;
const CACHE_MAX = 10_000;
const BOOTSTRAP_LOCK = 727_274_002;
/** How often noted token uses are written to `last_used_at`. */
const USAGE_FLUSH_MS = 30_000;

export function generateSecret(): string {
  return TOKEN_PREFIX + randomBytes(32).toString("base64url");
}

/**
 * A secret's SHA-256 in hex, as stored. One-shot `hash` (Node 20.12): on every authenticated request, and a
 * fifth of the time of a Hash object made, fed and read (0.3 against 1.4 µs here).
 */
export function hashSecret(secret: string): string {
  return hashOf("sha256", secret, "hex");
}

function actorOf(row: repo.TokenRow): string {
  if (isAgentRole(row.role)) return `agent:${row.agentKey ?? row.agentId}`;
  return `${row.role}:${row.name ?? `token-${row.id}`}`;
}

function principalOf(row: repo.TokenRow): Principal {
  return {
    role: row.role,
    tokenId: row.id,
    name: row.name,
    agentId: row.agentId,
    agentKey: row.agentKey,
    actor: actorOf(row),
    runTaskId: row.taskId,
  };
}

export function tokenToApi(row: repo.TokenRow) {
  return {
    id: row.id,
    role: row.role,
    agent_id: row.agentKey,
    name: row.name,
    expires_at: row.expiresAt,
    last_used_at: row.lastUsedAt,
    inserted_at: row.insertedAt,
  };
}

export interface TokensDeps {
  database: Database;
  adminToken: string | null;
  /** The clock the cache ages by (tests move it). */
  now?: () => number;
}

interface CacheEntry {
  principal: Principal | null;
  /** When the database last said this answer was right. */
  confirmedAt: number;
  /** The token's own expiry. */
  until: number;
  usedAt: number;
}

export type TokensService = ReturnType<typeof createTokensService>;

export function createTokensService({ database, adminToken, now: clock = Date.now }: TokensDeps) {
  const { db } = database;
  const cache = new Map<string, CacheEntry>();
  let revalidating: Promise<void> | null = null;
  let revalidatedAt = 0;
  // Compared in constant time, as bytes of its hex (every SHA-256 hex is 64 of them).
  const adminHash = adminToken ? Buffer.from(hashSecret(adminToken), "latin1") : null;
  const envAdmin: Principal = {
    role: ROLE.admin,
    tokenId: null,
    name: "MC_ADMIN_TOKEN",
    agentId: null,
    agentKey: null,
    actor: "admin:env",
  };

  /** Token id → when (local ms) it was last used and not yet written. */
  let used = new Map<number, number>();
  function noteUse(p: Principal | null) {
    if (p?.tokenId != null) used.set(p.tokenId, Date.now());
  }
  let flushingUse: Promise<void> = Promise.resolve();
  /** Writes the noted uses (one statement); never throws (they are kept for the next try). */
  function flushUsage(): Promise<void> {
    flushingUse = flushingUse.then(async () => {
      if (used.size === 0) return;
      const batch = used;
      used = new Map();
      const sentAt = Date.now();
      const ids = [...batch.keys()];
      try {
        await repo.touchUsed(
          db,
          ids,
          ids.map((id) => Math.max(0, sentAt - batch.get(id)!)),
        );
      } catch {
        for (const [id, at] of batch) used.set(id, Math.max(used.get(id) ?? 0, at));
      }
    });
    return flushingUse;
  }
  const usageTimer = setInterval(() => void flushUsage(), USAGE_FLUSH_MS);
  usageTimer.unref();

  async function authenticate(secret: string): Promise<Principal | null> {
    if (!secret.startsWith(TOKEN_PREFIX) && adminHash === null) return null;
    const hash = hashSecret(secret);
    if (adminHash && timingSafeEqual(Buffer.from(hash, "latin1"), adminHash)) return envAdmin;
    const now = clock();
    if (now - revalidatedAt >= REVALIDATE_AFTER_MS && cache.size > 0) {
      revalidatedAt = now;
      void revalidate();
    }
    const hit = cache.get(hash);
    if (hit && hit.until > now && now - hit.confirmedAt < CACHE_TTL_MS) {
      hit.usedAt = now;
      noteUse(hit.principal);
      return hit.principal;
    }
    const row = await repo.findActiveByHash(db, hash);
    const principal = row ? principalOf(row) : null;
    noteUse(principal);
    if (cache.size >= CACHE_MAX) cache.clear();
    // Never cache past a token's own expiry. An unknown secret is remembered (briefly) but never revalidated.
    cache.set(hash, { principal, confirmedAt: now, until: row?.expiresAt?.getTime() ?? Infinity, usedAt: now });
    return principal;
  }

  /**
   * Confirms every cached token in one statement: still active ones count as confirmed at the moment the
   * statement was sent (its snapshot is no older), the others are dropped. One at a time; never throws (on
   * failure entries simply age out and are looked up one by one again).
   */
  function revalidate(): Promise<void> {
    revalidating ??= (async () => {
      const started = clock();
      const entries: Array<[string, CacheEntry]> = [];
      for (const [hash, e] of cache) {
        if (!e.principal) continue;
        if (started - e.usedAt > CACHE_IDLE_MS) cache.delete(hash);
        else entries.push([hash, e]);
      }
      for (let i = 0; i < entries.length; i += 5_000) {
        const chunk = entries.slice(i, i + 5_000);
        const active = new Set(
          await repo.activeHashes(
            db,
            chunk.map(([h]) => h),
          ),
        );
        for (const [hash, e] of chunk) {
          if (cache.get(hash) !== e) continue; // looked up again meanwhile: that answer is newer
          if (active.has(hash)) e.confirmedAt = Math.max(e.confirmedAt, started);
          else cache.delete(hash);
        }
      }
    })()
      .catch(() => {})
      .finally(() => {
        revalidating = null;
      });
    return revalidating;
  }

  async function resolveAgent(ref: Ref | undefined, role: TokenRole): Promise<{ id: number; key: string } | null> {
    if (!isAgentRole(role)) {
      if (ref !== undefined) throw Invalid.field("agent_id", "is only allowed for agent tokens");
      return null;
    }
    if (ref === undefined) throw Invalid.field("agent_id", "is required for agent tokens");
    const parsed = parseRef(ref);
    const agent = parsed === null ? undefined : await findAgent(db, parsed);
    if (!agent) throw Invalid.field("agent_id", "does not exist");
    return { id: agent.id, key: agent.agentId };
  }

  async function create(input: TokenCreate, by: Principal) {
    const agent = await resolveAgent(input.agent_id, input.role);
    const secret = generateSecret();
    const row = await db.transaction(async (tx) => {
      const r = await repo.insertToken(tx, {
        name: input.name ?? null,
        role: input.role,
        agentId: agent?.id ?? null,
        tokenHash: hashSecret(secret),
      });
      await appendTrace(tx, {
        event: "token.created",
        actor: by.actor,
        agentId: agent?.key ?? null,
        data: { token_id: r.id, role: r.role, name: r.name },
      });
      return r;
    });
    return { id: row.id, role: row.role, agent_id: agent?.key ?? null, name: row.name, token: secret };
  }

  /**
   * A short-lived agent token for one run of the runtime (MC_AGENT_TOKEN), bound to the run's task and
   * dispatch. Not traced: it is not a change.
   */
  async function issueRunToken(
    agentId: number,
    ttlS: number,
    name: string,
    run: { taskId: number; dispatchId: number },
  ) {
    const secret = generateSecret();
    await repo.insertToken(db, {
      name,
      role: ROLE.agent,
      agentId,
      tokenHash: hashSecret(secret),
      expiresAt: new Date(Date.now() + ttlS * 1000),
      taskId: run.taskId,
      dispatchId: run.dispatchId,
    });
    return secret;
  }

  /** Revokes the tokens of runs that ended, in the caller's transaction (not traced: the run's end is). */
  async function revokeRunTokens(exec: Executor, dispatchIds: number[]): Promise<number> {
    const hashes = await repo.revokeRunTokens(exec, dispatchIds);
    for (const h of hashes) cache.delete(h);
    return hashes.length;
  }

  /**
   * The task of a delivered run (a webhook's) left `in_progress`: the remote agent's work, which is that run,
   * is over, so its token is revoked in the caller's transaction (not traced: the task's move is).
   */
  async function revokeDeliveredRunTokens(exec: Executor, taskId: number): Promise<number> {
    const hashes = await repo.revokeDeliveredRunTokens(exec, taskId);
    for (const h of hashes) cache.delete(h);
    return hashes.length;
  }

  async function close() {
    clearInterval(usageTimer);
    await flushUsage();
  }

  async function list(q: { limit?: number; cursor?: string }) {
    const page = pageOf(q);
    return toPage(await repo.listActive(db, page), page, tokenToApi);
  }

  async function revoke(idRaw: string, by: Principal) {
    const id = parseRef(idRaw);
    if (typeof id !== "number") throw new NotFound();
    await db.transaction(async (tx) => {
      const row = await repo.revokeToken(tx, id);
      if (!row) throw new NotFound();
      await appendTrace(tx, {
        event: "token.revoked",
        actor: by.actor,
        data: { token_id: row.id, role: row.role, name: row.name },
      });
      cache.delete(row.tokenHash);
    });
  }

  /**
   * First start with no token at all and no MC_ADMIN_TOKEN: make an admin token so the operator can get in.
   * Returns the secret when one was created (the caller prints it once), else null.
   */
  async function ensureBootstrapAdmin(dataDir: string): Promise<string | null> {
    if (adminToken) return null;
    const secret = generateSecret();
    const created = await db.transaction(async (tx) => {
      // Two processes starting together on one PostgreSQL must not both create one.
      await tx.execute(sql`SELECT pg_advisory_xact_lock(${BOOTSTRAP_LOCK})`);
      if ((await repo.countTokens(tx)) > 0) return false;
      const r = await repo.insertToken(tx, {
        name: "bootstrap-admin",
        role: ROLE.admin,
        agentId: null,
        tokenHash: hashSecret(secret),
      });
      await appendTrace(tx, {
        event: "token.created",
        actor: "system",
        data: { token_id: r.id, role: ROLE.admin, name: r.name },
      });
      return true;
    });
    if (!created) return null;
    fs.mkdirSync(dataDir, { recursive: true });
    const file = path.join(dataDir, "admin-token");
    fs.writeFileSync(file, `${secret}\n`, { mode: 0o600 });
    fs.chmodSync(file, 0o600);
    return secret;
  }

  return {
    authenticate,
    revalidate,
    create,
    list,
    revoke,
    issueRunToken,
    revokeRunTokens,
    revokeDeliveredRunTokens,
    flushUsage,
    close,
    ensureBootstrapAdmin,
  };
}
