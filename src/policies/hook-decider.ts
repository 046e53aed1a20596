// Claude Code's PreToolUse hook as an enforcement point: the tool call is turned into policy actions
// (a Bash command into shell/git actions, Write/Edit into file_write), evaluated for the hook's agent, and
// the strictest decision answered in Claude Code's terms: block → deny, require_approval → ask.
// Nothing else carries a permission decision: an "allow" would skip Claude Code's own permission check and so
// widen what the agent may do just because the hooks are installed. A `warn` only adds its message.
import type { Database } from "../db/client.js";
import type { HookDeciders } from "../hooks/hooks.service.js";
import { findTaskKey } from "../trace/trace.lookup.js";
import type { PoliciesService } from "./policies.service.js";
import { toolUseActions } from "./tool-actions.js";
import { assertNever } from "../core/assert-never.js";

export function preToolUseDecider(
  database: Database,
  policies: Pick<PoliciesService, "evaluateAll">,
): NonNullable<HookDeciders["preToolUse"]> {
  return async (input) => {
    const actions = toolUseActions(input.tool_name ?? "", input.tool_input, { cwd: input.cwd, worktree: input.cwd });
    const taskKey =
      typeof input.task_id === "number" ? ((await findTaskKey(database.db, input.task_id)) ?? null) : input.task_id;
    const verdict = await policies.evaluateAll(
      database.db,
      { actions, agentKey: input.principal.agentKey, taskKey, source: "claude_code_hook" },
      input.principal.actor,
    );
    const reason = verdict.messages.join("; ");
    switch (verdict.decision) {
      case "block":
        return { decision: "deny", reason };
      case "require_approval":
        return { decision: "ask", reason };
      case "warn":
        return reason ? { decision: null, reason } : null;
      case "allow":
        return null;
      default:
        return assertNever(verdict.decision);
    }
  };
}
