// approve_task answers within a few seconds even while GitHub is slow to merge the task's pull request: an MCP
// client gives up on a call after about a minute (-32001), and approving must not hold an agent's turn that long.
// The approve itself is the route's (TasksService.approve, merge included) and runs to its end whatever the
// caller does; this file only decides how long a tool call waits for it and where its late outcome goes.
//
// Invariants (per tasks service, i.e. per app):
// - at most one approve started through MCP runs per task: a second approve_task for that task while it runs
//   joins it (no second merge is queued behind the first);
// - an approve that outlived its caller's wait keeps its outcome, and the next approve_task for that task
//   collects it ("call approve_task again" is how a caller polls), until OUTCOME_TTL_MS has passed;
// - `settled()` resolves once no approve runs, so closing the server waits for them (they write the trace).
import type { Principal } from "../core/principal.js";
import type { ReviewBody } from "../tasks/tasks.schemas.js";
import type { TasksService } from "../tasks/tasks.service.js";

/** How long approve_task waits for the approve (a merge) before answering that it goes on. */
export const APPROVE_WAIT_MS = 5_000;
/** How long the outcome of an approve nobody waited for is kept for the next approve_task to collect. */
const OUTCOME_TTL_MS = 15 * 60_000;

/** A tool's answer while its work goes on past what a call waits for: what it is doing and what to poll. */
export class StillRunning {
  constructor(readonly body: Record<string, unknown>) {}
}

type Approve = TasksService["approve"];
type Outcome = { ok: true; task: Awaited<ReturnType<Approve>> } | { ok: false; error: unknown };

interface Running {
  done: Promise<Outcome>;
  outcome: Outcome | null;
  /** A caller stopped waiting: the outcome is kept for the next approve_task. */
  unclaimed: boolean;
}

export interface Approvals {
  approve(taskKey: string, input: ReviewBody, by: Principal, waitMs?: number): Promise<unknown>;
  settled(): Promise<void>;
}

const registry = new WeakMap<object, Approvals>();

/** The approvals of one tasks service (one app). */
export function approvalsFor(tasks: Pick<TasksService, "approve">): Approvals {
  let a = registry.get(tasks);
  if (!a) {
    a = createApprovals((key, input, by) => tasks.approve(key, input, by));
    registry.set(tasks, a);
  }
  return a;
}

function unwrap(o: Outcome) {
  if (o.ok) return o.task;
  throw o.error;
}

function createApprovals(approveTask: Approve): Approvals {
  const running = new Map<string, Running>();

  function start(taskKey: string, input: ReviewBody, by: Principal): Running {
    const r: Running = { done: null as unknown as Promise<Outcome>, outcome: null, unclaimed: false };
    r.done = approveTask(taskKey, input, by).then(
      (task): Outcome => ({ ok: true, task }),
      (error: unknown): Outcome => ({ ok: false, error }),
    );
    void r.done.then((o) => {
      r.outcome = o;
      if (!r.unclaimed) {
        if (running.get(taskKey) === r) running.delete(taskKey);
        return;
      }
      setTimeout(() => {
        if (running.get(taskKey) === r) running.delete(taskKey);
      }, OUTCOME_TTL_MS).unref();
    });
    running.set(taskKey, r);
    return r;
  }

  return {
    async approve(taskKey, input, by, waitMs = APPROVE_WAIT_MS) {
      const earlier = running.get(taskKey);
      if (earlier?.outcome) {
        // It finished after its caller stopped waiting: this call collects its outcome.
        running.delete(taskKey);
        return unwrap(earlier.outcome);
      }
      const r = earlier ?? start(taskKey, input, by);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), waitMs)));
      const o = await Promise.race([r.done, late]).finally(() => clearTimeout(timer));
      if (o !== null) {
        if (running.get(taskKey) === r) running.delete(taskKey);
        return unwrap(o);
      }
      r.unclaimed = true;
      return new StillRunning({
        task_id: taskKey,
        approve: "in_progress",
        detail:
          "Still approving: GitHub has not finished merging the task's pull request. The approve goes on; " +
          "call approve_task again for its outcome, or poll get_task (completed once merged).",
      });
    },
    async settled() {
      await Promise.all([...running.values()].map((r) => r.done));
    },
  };
}
