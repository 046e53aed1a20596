// Reads of objectives and key results for other modules (requirements point at them, traceability reports
// them). One owner per table: only src/okrs writes them. `lock: "key share"` keeps the row from being deleted
// while the caller's transaction points a row of its own at it.
export { findKeyResult, findObjective, type KeyResultView, type ObjectiveRow } from "./okrs.repo.js";
