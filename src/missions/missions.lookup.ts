// Reads of missions for other modules. One owner per table: only src/missions writes `missions`; the others
// read through these (each takes the caller's executor, so a read inside a transaction sees what it sees).
import { immutableKeys } from "../db/keys.js";
import { missions } from "../db/schema/index.js";

export { findMission, type MissionRow } from "./missions.repo.js";

/** Mission keys by id, read once per process (a key never changes: db/keys.ts). */
export const missionKeysOf = immutableKeys("mission", missions, missions.id, missions.missionId);
