// Reports as an enforcement point: the actions an agent says it performed are evaluated, inside the
// report's transaction, as policies would judge them before the fact. Only `block` stops the task; a
// `require_approval` or `warn` is recorded (each action has its decision in the trace) and the report goes on.
import type { CheckReportedActions } from "../tasks/tasks.service.js";
import type { PoliciesService } from "./policies.service.js";

export function reportedActionsCheck(policies: Pick<PoliciesService, "evaluateAll">): CheckReportedActions {
  return async (tx, { actions, task, actor }) => {
    const verdict = await policies.evaluateAll(
      tx,
      { actions, missionKey: task.missionKey, agentKey: task.agentKey, taskKey: task.taskId, source: "report" },
      actor,
    );
    return {
      blocked: verdict.decision === "block",
      messages: verdict.messages,
      decisionId: verdict.deciding?.decision_id ?? null,
    };
  };
}
