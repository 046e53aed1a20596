// The prompt a coding CLI gets for a task: the task's objective, the mission's goal and the requirements the
// task serves. It goes on the command line, so it is kept under the kernel's limit for one argument
// (128 KiB) and free of NUL bytes, and it never starts with "-" (a CLI would read it as an option).
import type { RunContext } from "./types.js";

/** Well under Linux's MAX_ARG_STRLEN (131072 bytes), counting multi-byte characters. */
export const MAX_PROMPT_BYTES = 100_000;

function cut(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

export function buildPrompt(ctx: Pick<RunContext, "task" | "mission" | "requirements">): string {
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
    "",
    "Work in the current directory. When you are done, summarise what you changed; anything you leave " +
      "uncommitted is committed for you when the run ends.",
  );
  let prompt = lines.join("\n").replace(/\0/g, "");
  // Cut by bytes, not characters, and never inside a surrogate pair.
  while (Buffer.byteLength(prompt, "utf8") > MAX_PROMPT_BYTES) {
    prompt = Array.from(prompt).slice(0, Math.floor(prompt.length * 0.9)).join("");
  }
  return prompt;
}
