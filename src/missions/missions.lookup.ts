// Reads of missions for other modules. One owner per table: only src/missions writes `missions`; the others
// read through these (each takes the caller's executor, so a read inside a transaction sees what it sees).
export { findMission, type MissionRow } from "./missions.repo.js";
