// Reads of requirements for other modules (an objective's progress, the traceability matrix). One owner per
// table: only src/requirements writes `requirements`.
export { completionInputsOf, type RequirementView } from "./requirements.repo.js";
