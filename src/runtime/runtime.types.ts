import type { Executor } from "../db/client.js";
import type { RuntimeView } from "../missions/missions.schemas.js";
import type { MissionStatus } from "../missions/missions.state.js";

/** The actor of every entry the runtime writes on its own account (a run's moves, its agent's activity). */
export const RUNTIME_ACTOR = "runtime";

/**
 * What the rest of the server needs from the mission runtime (the supervised process trees). Services call
 * the hooks after their transaction commits; the runtime never writes a mission's status itself except
 * through the missions service.
 */
export interface MissionRuntime {
  /**
   * Inside the transaction that moves a mission's status: what the move does to its work (pause: tasks with a
   * live run blocked, dispatches queued again; completed/failed/cancelled: open tasks failed, dispatches
   * cancelled; both: run tokens revoked, agents of stopped runs idle), with the trace entries.
   */
  missionMoving(
    tx: Executor,
    mission: { id: number; missionId: string },
    from: string,
    to: MissionStatus,
    actor: string,
  ): Promise<void>;
  /**
   * Called first in that transaction, before anything is written or traced: locks the rows `missionMoving`
   * will change (live dispatches, then tasks), so the move never holds the mission's trace chain while waiting
   * for a row that a writer holding it waits to append for (a deadlock on PostgreSQL).
   */
  lockForMove(tx: Executor, missionId: number, to: MissionStatus): Promise<void>;
  /** After the move committed: starts the tree, or stops its processes in the background (never waits for them). */
  missionStatusChanged(mission: { id: number; missionId: string }, from: string, to: string): Promise<void>;
  view(missionId: number): RuntimeView;
}

/** Without a runtime (until one is wired in), no mission has a process tree. */
export const noRuntime: MissionRuntime = {
  async missionMoving() {},
  async lockForMove() {},
  async missionStatusChanged() {},
  view: () => ({ running: false, workers: [] }),
};
