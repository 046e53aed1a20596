// The statuses and the rules about them, taken from the server's own state files so the console never
// spells a status or copies a rule (a status or a legal move added on the server is one the console knows).
// Each file imported here is pure and depends on nothing that cannot go in a browser bundle (core/assert-never
// at most, and the dispatch file a type-only import of the adapters' event types, erased by the build).
export {
  TASK,
  TASK_STATUSES,
  canMoveTask,
  isExecutable,
  isRetriedByExecute,
  isTaskStatus,
  type TaskStatus,
} from "../../src/tasks/tasks.state.js";
export { MISSION, canMoveMission } from "../../src/missions/missions.state.js";
export { AGENT } from "../../src/agents/agents.state.js";
export { DISPATCH, isAwaitingApproval } from "../../src/runtime/dispatch.state.js";
export { conflictsOf } from "../../src/tasks/conflicts.shape.js";
