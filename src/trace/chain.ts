// Reading chains back and checking them. Rows are always read in keyset batches (never all at once), with
// `at` taken as the exact stored microseconds, so what is checked is what is stored.
//
// Which reads are safe without a transaction: within one chain, ids are drawn under the chain's head lock,
// so id order is commit order and a keyset walk over one chain (`mission_id = $1 AND id > $after`) can never
// step past an entry that commits later. A walk across all chains can (ids of different chains commit out
// of order on PostgreSQL), so whole-trace reads run in one REPEATABLE READ snapshot (`openReader`).
import type pg from "pg";
import type { Database } from "../db/client.js";
import { GENESIS, atFromMicros, entryHash } from "./canonical.js";
import { chainOf } from "./trace.append.js";
import type { TraceEntry } from "./trace.events.js";

/** What a walk covers: one mission's chain, the global chain (`mission: null`), or every chain. */
export type ChainScope = { mission: string | null } | { all: true };

/** An entry as stored, with `at` exactly as hashed (see atFromMicros) and in microseconds. */
export interface ChainRow extends TraceEntry {
  atUs: number;
}

export interface Reader {
  rows<T>(text: string, params: unknown[]): Promise<T[]>;
  release(): Promise<void>;
}

/**
 * A reader for whole-trace walks. On PostgreSQL it holds one connection in a read-only REPEATABLE READ
 * transaction (one snapshot for the whole walk; it blocks no writer). PGlite runs one transaction at a time,
 * so a walk there needs no snapshot and must not hold one (it would stall every other request): every
 * entry committed between two batches has a larger id than any seen before.
 */
export async function openReader(database: Database, snapshot: boolean): Promise<Reader> {
  if (!snapshot || database.kind === "pglite" || !database.pool) {
    return { rows: (text, params) => database.query(text, params), release: async () => {} };
  }
  const client: pg.PoolClient = await database.pool.connect();
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  } catch (err) {
    client.release(true);
    throw err;
  }
  let done = false;
  return {
    async rows<T>(text: string, params: unknown[]) {
      return (await client.query(text, params)).rows as T[];
    },
    async release() {
      if (done) return;
      done = true;
      try {
        await client.query("COMMIT");
        client.release();
      } catch {
        client.release(true);
      }
    },
  };
}

/** A row as `COLUMNS` selects it: numbers and `data` as text, so nothing is lost before hashing. */
type RawRow = Omit<TraceEntry, "id" | "at" | "data"> & { id: string; at_us: string; data: string };

const COLUMNS = `id::text AS id, (extract(epoch FROM at) * 1000000)::bigint::text AS at_us, event, actor,
  mission_id, task_id, agent_id, data::text AS data, prev_hash, hash`;

function toChainRow(r: RawRow): ChainRow {
  const atUs = Number(r.at_us);
  return {
    id: Number(r.id),
    at: atFromMicros(atUs),
    atUs,
    event: r.event,
    actor: r.actor,
    mission_id: r.mission_id,
    task_id: r.task_id,
    agent_id: r.agent_id,
    data: JSON.parse(r.data) as unknown,
    prev_hash: r.prev_hash,
    hash: r.hash,
  };
}

/** The SQL of one keyset batch: (mission_id, id) for one chain, the primary key for all. */
export function batchQuery(scope: ChainScope, after: number, limit: number): { text: string; params: unknown[] } {
  if ("all" in scope) {
    return {
      text: `SELECT ${COLUMNS} FROM trace_entries WHERE id > $1 ORDER BY trace_entries.id LIMIT $2`,
      params: [after, limit],
    };
  }
  if (scope.mission === null) {
    return {
      text: `SELECT ${COLUMNS} FROM trace_entries WHERE mission_id IS NULL AND id > $1 ORDER BY trace_entries.id LIMIT $2`,
      params: [after, limit],
    };
  }
  return {
    text: `SELECT ${COLUMNS} FROM trace_entries WHERE mission_id = $1 AND id > $2 ORDER BY trace_entries.id LIMIT $3`,
    params: [scope.mission, after, limit],
  };
}

/** One keyset batch of a scope, oldest first. */
export async function readBatch(reader: Reader, scope: ChainScope, after: number, limit: number): Promise<ChainRow[]> {
  const q = batchQuery(scope, after, limit);
  return (await reader.rows<RawRow>(q.text, q.params)).map(toChainRow);
}

/** Every row of a scope in id order, batch by batch: memory holds one batch at a time. */
export async function* walk(reader: Reader, scope: ChainScope, batch = 1000): AsyncGenerator<ChainRow[]> {
  let after = 0;
  for (;;) {
    const rows = await readBatch(reader, scope, after, batch);
    if (rows.length > 0) yield rows;
    if (rows.length < batch) return;
    after = rows[rows.length - 1]!.id;
  }
}

export interface ChainHead {
  length: number;
  headHash: string;
}

/** The recorded heads of the chains in a scope (read before walking, so appends during a walk are fine). */
export async function readHeads(reader: Reader, scope: ChainScope): Promise<Map<string, ChainHead>> {
  const rows =
    "all" in scope
      ? await reader.rows<{ chain: string; head_hash: string; length: string }>(
          "SELECT chain, head_hash, length::text AS length FROM trace_chains",
          [],
        )
      : await reader.rows<{ chain: string; head_hash: string; length: string }>(
          "SELECT chain, head_hash, length::text AS length FROM trace_chains WHERE chain = $1",
          [chainOf(scope.mission)],
        );
  return new Map(rows.map((r) => [r.chain, { length: Number(r.length), headHash: r.head_hash }]));
}

export type ChainProblem = "hash_mismatch" | "broken_link" | "truncated" | "head_mismatch";

export interface VerifyResult {
  valid: boolean;
  entries: number;
  first_bad_id: number | null;
  reason: ChainProblem | null;
}

/**
 * Checks rows fed in id order against the chain rules and the heads read before the walk. It keeps one
 * small record per chain, not the rows. An entry whose content was changed fails its own hash
 * (`hash_mismatch`); a deleted, inserted or moved entry breaks the link of the entry after it
 * (`broken_link`); entries cut off the end leave the chain shorter than its head says (`truncated`), and a
 * chain that does not end on the recorded head hash is `head_mismatch`. After a bad entry the walk goes on
 * from that entry's stored hash, so `entries` counts the whole chain and `first_bad_id` is the first.
 */
export class ChainChecker {
  private readonly chains = new Map<string, { last: string; count: number; hashAtHead: string | null }>();
  private entries = 0;
  private firstBadId: number | null = null;
  private reason: ChainProblem | null = null;

  constructor(private readonly heads: Map<string, ChainHead>) {}

  private bad(id: number | null, reason: ChainProblem) {
    if (this.reason !== null) return;
    this.firstBadId = id;
    this.reason = reason;
  }

  feed(row: ChainRow): void {
    const key = chainOf(row.mission_id);
    let st = this.chains.get(key);
    if (!st) {
      st = { last: GENESIS, count: 0, hashAtHead: null };
      this.chains.set(key, st);
    }
    this.entries++;
    st.count++;
    if (row.prev_hash !== st.last) this.bad(row.id, "broken_link");
    else if (entryHash(row.prev_hash, row) !== row.hash) this.bad(row.id, "hash_mismatch");
    st.last = row.hash;
    if (st.count === this.heads.get(key)?.length) st.hashAtHead = row.hash;
  }

  result(): VerifyResult {
    for (const [key, head] of this.heads) {
      const st = this.chains.get(key);
      if (!st || st.count < head.length) this.bad(null, "truncated");
      else if (st.hashAtHead !== head.headHash) this.bad(null, "head_mismatch");
    }
    return { valid: this.reason === null, entries: this.entries, first_bad_id: this.firstBadId, reason: this.reason };
  }
}
