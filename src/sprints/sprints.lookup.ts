// Reads of sprints for other modules. One owner per table: only src/sprints writes `sprints`; the others read
// through these.
import { immutableKeys } from "../db/keys.js";
import { sprints } from "../db/schema/index.js";

/** Sprint keys by id, read once per process (a key never changes: db/keys.ts). */
export const sprintKeysOf = immutableKeys("sprint", sprints, sprints.id, sprints.sprintId);
