// The prompt a coding CLI gets for a task: the task's objective, the mission's goal and the requirements the
// task serves. It goes on the command line, so it is kept under the kernel's limit for one argument
// (128 KiB) and free of NUL bytes, and it never starts with "-" (a CLI would read it as an option).
import type { RunContext } from "./types.js";

/** Well under Linux's MAX_ARG_STRLEN (131072 bytes), counting multi-byte characters. */
export const MAX_PROMPT_BYTES = 100_000;

function cut(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

function reviewLines(ctx: Pick<RunContext, "review">): string[] {
  if (!ctx.review) return [];
  const comment = ctx.review.comment?.trim();
  return [
    "",
    `Your previous work on this task was reviewed and rejected by ${cut(ctx.review.by, 200)}.`,
    comment ? `The reviewer's comment:\n${cut(comment, 20_000)}` : "The reviewer left no comment.",
    "Address the review.",
  ];
}

/** Within the byte limit, without NUL bytes. */
function finish(lines: string[]): string {
  let prompt = lines.join("\n").replace(/\0/g, "");
  // Cut by bytes, not characters, and never inside a surrogate pair.
  while (Buffer.byteLength(prompt, "utf8") > MAX_PROMPT_BYTES) {
    prompt = Array.from(prompt)
      .slice(0, Math.floor(prompt.length * 0.9))
      .join("");
  }
  return prompt;
}

/**
 * The prompt of a run that resumes the agent's previous session on the task: the session holds the task
 * already, so it says why the agent is back (the review, or an interrupted run) and restates the objective.
 */
export function resumePrompt(ctx: Pick<RunContext, "task" | "mission" | "review" | "attempt">): string {
  const lines = [
    `Mission Control: you are back on task ${ctx.task.task_id} of mission ${ctx.mission.mission_id}` +
      (ctx.review ? "." : ", whose previous run ended before it was reviewed. Continue where you left off."),
    ...reviewLines(ctx),
    "",
    "Task objective (unchanged):",
    cut(ctx.task.objective, 20_000),
    "",
    "Work in the current directory. When you are done, summarise what you changed; anything you leave " +
      "uncommitted is committed for you when the run ends.",
  ];
  return finish(lines);
}

export function buildPrompt(ctx: Pick<RunContext, "task" | "mission" | "requirements" | "review">): string {
  const lines = [
    `You are working on task ${ctx.task.task_id} of mission ${ctx.mission.mission_id}, dispatched by Mission Control.`,
    "",
    "Mission goal:",
    cut(ctx.mission.goal, 10_000),
    "",
    "Task objective:",
    cut(ctx.task.objective, 20_000),
  ];
  if (ctx.requirements.length > 0) {
    lines.push("", "Requirements this task serves:");
    for (const r of ctx.requirements) {
      lines.push(`- ${r.requirement_id}: ${cut(r.title, 500)}`);
      if (r.description) lines.push(`  ${cut(r.description, 4_000).replace(/\n/g, "\n  ")}`);
    }
  }
  lines.push(
    ...reviewLines(ctx),
    "",
    "Work in the current directory. When you are done, summarise what you changed; anything you leave " +
      "uncommitted is committed for you when the run ends.",
  );
  return finish(lines);
}
