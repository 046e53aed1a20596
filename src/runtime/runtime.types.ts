import type { RuntimeView } from "../missions/missions.schemas.js";

/**
 * What the rest of the server needs from the mission runtime (the supervised process trees). Services call
 * the hooks after their transaction commits; the runtime never writes a mission's status itself except
 * through the missions service.
 */
export interface MissionRuntime {
  missionStatusChanged(mission: { id: number; missionId: string }, from: string, to: string): Promise<void>;
  view(missionId: number): RuntimeView;
}

/** Without a runtime (until one is wired in), no mission has a process tree. */
export const noRuntime: MissionRuntime = {
  async missionStatusChanged() {},
  view: () => ({ running: false, workers: [] }),
};
