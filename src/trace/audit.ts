// Verification, export and replay over the stored chains. All three read in keyset batches, so memory
// holds one batch (plus, for replay, the rebuilt state and its timeline), whatever the chain's length.
import type { Database } from "../db/client.js";
import {
  ChainChecker,
  openReader,
  readBatch,
  readHeads,
  walk,
  type ChainRow,
  type ChainScope,
  type VerifyResult,
} from "./chain.js";
import { chainOf } from "./trace.append.js";
import { emptyReplay, foldTrace, type ReplayState, type ReplayTask, type TimelineLine } from "./replay.fold.js";

const BATCH = 1000;

export async function verifyChain(database: Database, scope: ChainScope): Promise<VerifyResult> {
  const reader = await openReader(database, "all" in scope);
  try {
    const checker = new ChainChecker(await readHeads(reader, scope));
    for await (const rows of walk(reader, scope, BATCH)) for (const r of rows) checker.feed(r);
    return checker.result();
  } finally {
    await reader.release();
  }
}

function exportLine(r: ChainRow): string {
  return `${JSON.stringify({
    id: r.id,
    at: r.at,
    event: r.event,
    actor: r.actor,
    mission_id: r.mission_id,
    task_id: r.task_id,
    agent_id: r.agent_id,
    data: r.data,
    prev_hash: r.prev_hash,
    hash: r.hash,
  })}\n`;
}

/** The last line of an export: what a complete file must end on (scripts/verify-trace.mjs checks it). */
export interface ExportSummary {
  /** chain (mission_id, or "" for the global chain) → hash of the last entry of it in the file */
  chain_heads: Record<string, string>;
  entries: number;
}

/**
 * The entries of a scope as JSON Lines, one batch per chunk, pulled by the consumer: a slow client slows
 * the reads down instead of filling memory. Stopping early (client gone) releases the reader. The last line
 * is an ExportSummary of what was sent, so a file whose tail was cut off (a dropped connection, a full disk)
 * is told apart from a complete one: any cut loses the summary, or leaves one that does not match.
 */
export async function* exportLines(database: Database, scope: ChainScope, batch = 500): AsyncGenerator<string> {
  const reader = await openReader(database, "all" in scope);
  const heads = new Map<string, string>();
  let entries = 0;
  try {
    for await (const rows of walk(reader, scope, batch)) {
      for (const r of rows) heads.set(chainOf(r.mission_id), r.hash);
      entries += rows.length;
      yield rows.map(exportLine).join("");
    }
  } finally {
    await reader.release();
  }
  const summary: ExportSummary = { chain_heads: Object.fromEntries(heads), entries };
  yield `${JSON.stringify(summary)}\n`;
}

export interface ReplayResult {
  mission: { mission_id: string; status: string | null };
  tasks: ReplayTask[];
  events_replayed: number;
  skipped: number;
  chain_valid: boolean;
  consistent: boolean | null;
  timeline: TimelineLine[];
}

interface StoredState {
  status: string | null;
  tasks: Map<string, { status: string; agent_id: string | null }>;
}

async function readStored(database: Database, missionDbId: number): Promise<StoredState> {
  const m = await database.query<{ status: string }>("SELECT status FROM missions WHERE id = $1", [missionDbId]);
  const rows = await database.query<{ task_id: string; status: string; agent_id: string | null }>(
    `SELECT t.task_id, t.status, a.agent_id FROM tasks t LEFT JOIN agents a ON a.id = t.agent_id
     WHERE t.mission_id = $1 ORDER BY t.id`,
    [missionDbId],
  );
  return {
    status: m[0]?.status ?? null,
    tasks: new Map(rows.map((r) => [r.task_id, { status: r.status, agent_id: r.agent_id }])),
  };
}

function sameState(s: ReplayState, stored: StoredState): boolean {
  if (s.mission.status !== stored.status || s.tasks.size !== stored.tasks.size) return false;
  for (const [k, t] of s.tasks) {
    const o = stored.tasks.get(k);
    if (!o || o.status !== t.status || o.agent_id !== t.agent_id) return false;
  }
  return true;
}

/**
 * Rebuilds a mission from its chain. The whole chain is checked (chain_valid), the fold stops at the first
 * entry after `until`. Without `until` the result is compared with the stored mission and tasks; to compare
 * like with like without holding a transaction, the stored state is read after the fold and the chain is
 * then checked for entries that committed meanwhile: every change to the mission or its tasks appends to
 * this chain in the change's own transaction, so no new entry means the stored state read is exactly the
 * state after the last entry folded. If there are new entries they are folded and the comparison repeats.
 */
export async function replayMission(
  database: Database,
  mission: { id: number; missionId: string },
  untilMs: number | null,
): Promise<ReplayResult> {
  const reader = await openReader(database, false);
  const scope: ChainScope = { mission: mission.missionId };
  const checker = new ChainChecker(await readHeads(reader, scope));
  let state = emptyReplay(mission.missionId);
  let folding = true;
  let after = 0;

  /** Reads and folds every batch after `after`; false when there was nothing new. */
  const drain = async (): Promise<boolean> => {
    let any = false;
    for (;;) {
      const rows = await readBatch(reader, scope, after, BATCH);
      if (rows.length === 0) return any;
      any = true;
      const fold: ChainRow[] = [];
      for (const r of rows) {
        checker.feed(r);
        if (folding && untilMs !== null && r.atUs > untilMs * 1000) folding = false;
        if (folding) fold.push(r);
      }
      if (fold.length > 0) state = foldTrace(state, fold);
      after = rows[rows.length - 1]!.id;
      if (rows.length < BATCH) return any;
    }
  };

  await drain();
  let consistent: boolean | null = null;
  if (untilMs === null) {
    for (let attempt = 0; attempt < 5 && consistent === null; attempt++) {
      const stored = await readStored(database, mission.id);
      if (!(await drain())) consistent = sameState(state, stored);
    }
    // Still being written to after five rounds: compare with the latest read, knowing it may be a moment off.
    consistent ??= sameState(state, await readStored(database, mission.id));
  }
  return {
    mission: state.mission,
    tasks: [...state.tasks.values()],
    events_replayed: state.events_replayed,
    skipped: state.skipped,
    chain_valid: checker.result().valid,
    consistent,
    timeline: [...state.timeline],
  };
}
