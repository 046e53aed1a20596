// API tokens. Invariants: a secret is generated here, returned once, and only its SHA-256 is stored; a
// revoked or expired token stops authenticating within CACHE_TTL_MS on every process (the cache is the
// only thing that can make a lookup stale, and it forgets within that time).
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { sql } from "drizzle-orm";
import type { Database } from "../db/client.js";
import type { Principal, Role } from "../http/auth.js";
import { Invalid, NotFound } from "../http/errors.js";
import { parseRef, type Ref } from "../http/ids.js";
import { pageOf, toPage } from "../http/pagination.js";
import { appendTrace } from "../trace/trace.service.js";
import { findAgent } from "../agents/agents.repo.js";
import * as repo from "./tokens.repo.js";
import type { TokenCreate } from "./tokens.schemas.js";

export const TOKEN_PREFIX = "mc_";
const CACHE_TTL_MS = 5_000;
const CACHE_MAX = 10_000;
const BOOTSTRAP_LOCK = 727_274_002;

export function generateSecret(): string {
  return TOKEN_PREFIX + randomBytes(32).toString("base64url");
}

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

function actorOf(row: repo.TokenRow): string {
  if (row.role === "agent") return `agent:${row.agentKey ?? row.agentId}`;
  return `${row.role}:${row.name ?? `token-${row.id}`}`;
}

function principalOf(row: repo.TokenRow): Principal {
  return {
    role: row.role as Role,
    tokenId: row.id,
    name: row.name,
    agentId: row.agentId,
    agentKey: row.agentKey,
    actor: actorOf(row),
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
}

export type TokensService = ReturnType<typeof createTokensService>;

export function createTokensService({ database, adminToken }: TokensDeps) {
  const { db } = database;
  const cache = new Map<string, { principal: Principal | null; until: number }>();
  const adminHash = adminToken ? Buffer.from(hashSecret(adminToken), "hex") : null;
  const envAdmin: Principal = {
    role: "admin",
    tokenId: null,
    name: "MC_ADMIN_TOKEN",
    agentId: null,
    agentKey: null,
    actor: "admin:env",
  };

  async function authenticate(secret: string): Promise<Principal | null> {
    if (!secret.startsWith(TOKEN_PREFIX) && adminHash === null) return null;
    const hash = hashSecret(secret);
    if (adminHash && timingSafeEqual(Buffer.from(hash, "hex"), adminHash)) return envAdmin;
    const now = Date.now();
    const hit = cache.get(hash);
    if (hit && hit.until > now) return hit.principal;
    const row = await repo.findActiveByHash(db, hash);
    const principal = row ? principalOf(row) : null;
    if (cache.size >= CACHE_MAX) cache.clear();
    // Never cache past a token's own expiry.
    const until = Math.min(now + CACHE_TTL_MS, row?.expiresAt?.getTime() ?? Infinity);
    cache.set(hash, { principal, until });
    return principal;
  }

  async function resolveAgent(ref: Ref | undefined, role: string): Promise<{ id: number; key: string } | null> {
    if (role !== "agent") {
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

  /** A short-lived agent token for one run of the runtime (MC_AGENT_TOKEN). Not traced: it is not a change. */
  async function issueRunToken(agentId: number, ttlS: number, name: string) {
    const secret = generateSecret();
    await repo.insertToken(db, {
      name,
      role: "agent",
      agentId,
      tokenHash: hashSecret(secret),
      expiresAt: new Date(Date.now() + ttlS * 1000),
    });
    return secret;
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
        role: "admin",
        agentId: null,
        tokenHash: hashSecret(secret),
      });
      await appendTrace(tx, {
        event: "token.created",
        actor: "system",
        data: { token_id: r.id, role: "admin", name: r.name },
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

  return { authenticate, create, list, revoke, issueRunToken, ensureBootstrapAdmin };
}
