// Turns a coding agent's tool call (Claude Code's `PreToolUse`: `tool_name`, `tool_input`) into policy
// actions. Pure. `Bash` commands go through shellActions; file edits become `file_write`; any other tool is a
// `tool_use` action carrying its input, so a policy can still name it (`{"action_type": "tool_use",
// "tool": "WebFetch"}`).
import { isPlainObject } from "./matcher.js";
import { isOutsideWorktree, shellActions, type ShellAction, type ShellContext } from "./shell-actions.js";

const FILE_TOOLS: Record<string, string> = {
  Write: "file_path",
  Edit: "file_path",
  MultiEdit: "file_path",
  NotebookEdit: "notebook_path",
};

export function toolUseActions(toolName: string, toolInput: unknown, ctx: ShellContext = {}): ShellAction[] {
  const input = isPlainObject(toolInput) ? toolInput : {};
  if (toolName === "Bash" && typeof input.command === "string") return shellActions(input.command, ctx);
  const field = FILE_TOOLS[toolName];
  if (field !== undefined && typeof input[field] === "string") {
    const p = input[field] as string;
    return [{ action_type: "file_write", path: p, via: toolName, outside_worktree: isOutsideWorktree(p, ctx) }];
  }
  return [{ action_type: "tool_use", tool: toolName, input }];
}
