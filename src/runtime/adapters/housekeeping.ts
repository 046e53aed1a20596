// Housekeeping for coding-agent runs, one timer per server process: removes the worktrees of finished tasks
// (Worktrees.sweep) and pauses active missions whose spend has passed their budget (catching spend that agents
// reported through the API; runs here trigger the check themselves). Invariants: one pass at a time; a pass
// that fails is logged and the next one runs as usual; stop() waits for a pass in progress.
import type { FastifyBaseLogger } from "fastify";
import type { Worktrees } from "./worktree.js";

export interface HousekeepingDeps {
  worktrees: Worktrees;
  enforceBudgets(): Promise<unknown>;
  log: FastifyBaseLogger;
  everyMs?: number;
}

export type Housekeeping = ReturnType<typeof createHousekeeping>;

export function createHousekeeping({ worktrees, enforceBudgets, log, everyMs = 5_000 }: HousekeepingDeps) {
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;

  function pass(): Promise<void> {
    running ??= (async () => {
      await worktrees.sweep().catch((err) => log.error({ err }, "sweeping worktrees failed"));
      await enforceBudgets().catch((err) => log.error({ err }, "checking mission budgets failed"));
    })().finally(() => {
      running = null;
    });
    return running;
  }

  return {
    pass,
    start() {
      if (timer) return;
      timer = setInterval(() => void pass(), everyMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
      await running;
    },
  };
}
