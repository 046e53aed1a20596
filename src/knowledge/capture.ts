// Where knowledge comes from besides direct writes: an approved task of a mission with
// `metadata.capture_knowledge = true` becomes a document (objective, outputs, review comments), in the
// approve's own transaction, so agents can search what was done before.
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import type { Executor } from "../db/client.js";
import { traceEntries } from "../db/schema/index.js";
import { findMission } from "../missions/missions.lookup.js";
import type { OnApproved } from "../tasks/tasks.service.js";
import type { KnowledgeService } from "./knowledge.service.js";

/** Review comments of a task, oldest first: the `comment` of its approve and reject moves. */
async function reviewComments(exec: Executor, taskKey: string): Promise<string[]> {
  const rows = await exec
    .select({ comment: sql<string | null>`${traceEntries.data}->>'comment'` })
    .from(traceEntries)
    .where(
      and(
        eq(traceEntries.taskId, taskKey),
        eq(traceEntries.event, "task.status_changed"),
        inArray(sql`${traceEntries.data}->>'via'`, ["approve", "reject"]),
      ),
    )
    .orderBy(asc(traceEntries.id));
  return rows.flatMap((r) => (r.comment ? [r.comment] : []));
}

export function captureApprovedTask(knowledge: Pick<KnowledgeService, "upsertTaskSummary">): OnApproved {
  return async (tx, task, { principal }) => {
    const mission = await findMission(tx, task.missionId);
    if (mission?.metadata.capture_knowledge !== true) return;
    await knowledge.upsertTaskSummary(
      tx,
      {
        task_id: task.taskId,
        mission_id: mission.missionId,
        objective: task.objective,
        agent_id: task.agentKey ?? undefined,
        outputs: task.outputs,
        review_comments: await reviewComments(tx, task.taskId),
      },
      principal,
    );
  };
}
