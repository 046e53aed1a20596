// The staleness daemon: staleness is written, not computed on read. An agent in `idle`, `working`, `blocked`
// or `waiting_for_input` that no run of the runtime holds and that has been silent for longer than the window
// becomes `offline`, with its `agent.status_changed` {from, to: "offline", reason: "stale", last_seen_at}
// entry (which the live stream publishes). Invariants:
// - One loop per server process, a tick every quarter window (at most half a second), so an agent goes offline
//   within a second after its window ends. A tick that finds candidates first writes this process's coalesced
//   heartbeats (an agent that beat here is never made stale for a heartbeat still in memory) and re-checks;
//   heartbeats answered by another process reach the database within its flush interval (500 ms), which is
//   why the window is at least a second.
// - Exactly once, whatever the number of servers on one database: each agent is made stale by one
//   conditional UPDATE that re-checks the conditions on the row it locks (agents.repo markStale); of servers
//   racing for the same agent one gets the row and writes the entry, the others match nothing. The entry is
//   in the same transaction as the change.
// - A tick never overlaps the previous one, and a failure is logged and retried by the next tick.
import type { Database } from "../db/client.js";
import * as repo from "./agents.repo.js";
import { traceStatusChange } from "./agents.status.js";
import { CAUSE } from "./agents.state.js";
import type { Heartbeats } from "./heartbeats.js";

/** Who the trace names as the maker of a staleness change. */
export const STALENESS_ACTOR = "system:staleness";
const BATCH = 500;

export interface StalenessDeps {
  database: Database;
  staleAfterS: number;
  heartbeats: Pick<Heartbeats, "settle">;
  log?: (err: unknown) => void;
}

export interface Staleness {
  start(): void;
  /** One pass: the agents it made offline (their keys). */
  tick(): Promise<string[]>;
  stop(): Promise<void>;
}

export function createStaleness({ database, staleAfterS, heartbeats, log = () => {} }: StalenessDeps): Staleness {
  const tickMs = Math.min(500, Math.max(100, (staleAfterS * 1000) / 4));
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<string[]> | null = null;

  async function pass(): Promise<string[]> {
    const made: string[] = [];
    const candidates = await repo.staleCandidates(database.db, staleAfterS, BATCH);
    if (candidates.length === 0) return made;
    await heartbeats.settle();
    for (const id of candidates) {
      const key = await database.db.transaction(async (tx) => {
        const row = await repo.markStale(tx, id, staleAfterS, `no heartbeat for ${staleAfterS} s`);
        if (!row) return null;
        await traceStatusChange(tx, row, {
          cause: CAUSE.stale,
          actor: STALENESS_ACTOR,
          data: { last_seen_at: row.lastSeenAt?.toISOString() ?? null, stale_after_s: staleAfterS },
        });
        return row.agentId;
      });
      if (key) made.push(key);
    }
    return made;
  }

  function tick(): Promise<string[]> {
    running ??= pass().finally(() => {
      running = null;
    });
    return running;
  }

  return {
    start() {
      if (timer) return;
      timer = setInterval(() => void tick().catch(log), tickMs);
      timer.unref();
    },
    tick,
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
      await running?.catch(() => {});
    },
  };
}
