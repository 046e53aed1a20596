// Housekeeping for coding-agent runs, one timer per server process: removes the worktrees of finished tasks
// (Worktrees.sweep) and pauses active missions whose spend has passed their budget (catching spend that agents
// reported through the API; runs here trigger the check themselves). Invariants: one pass at a time
// (singleFlight: `pass()` resolves once a pass that began after the call has ended); a pass that fails is
// logged and the next one runs as usual; stop() waits for a pass in progress.
import type { FastifyBaseLogger } from "fastify";
import { singleFlight } from "../../core/single-flight.js";
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
  const flight = singleFlight(
    async () => {
      await worktrees.sweep().catch((err) => log.error({ err }, "sweeping worktrees failed"));
      await enforceBudgets().catch((err) => log.error({ err }, "checking mission budgets failed"));
    },
    (err) => log.error({ err }, "housekeeping failed"),
  );
  const pass = () => flight.trigger();

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
      await flight.idle();
    },
  };
}
