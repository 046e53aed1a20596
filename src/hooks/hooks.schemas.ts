import { Type, type Static } from "@sinclair/typebox";
import { nameSchemas, StringEnum } from "../core/envelope.js";

/** The Claude Code hook events this server maps to agent activity (any other event name is a heartbeat). */
export const CLAUDE_HOOK_EVENTS = [
  "SessionStart",
  "UserPromptSubmit",
  "PreToolUse",
  "PostToolUse",
  "Notification",
  "Stop",
  "SubagentStop",
  "SessionEnd",
] as const;
export type ClaudeHookEvent = (typeof CLAUDE_HOOK_EVENTS)[number];

const Text = (max: number, description?: string) =>
  Type.String({ maxLength: max, ...(description ? { description } : {}) });

/** What Claude Code POSTs to an `http` hook: common fields plus each event's own (kept loose: Claude Code adds fields). */
export const ClaudeHookPayload = Type.Object(
  {
    session_id: Type.String({ minLength: 1, maxLength: 256 }),
    hook_event_name: Type.String({
      minLength: 1,
      maxLength: 100,
      description: `one of ${CLAUDE_HOOK_EVENTS.join(", ")}; any other event Claude Code sends counts as a heartbeat`,
    }),
    cwd: Type.Optional(Text(4096)),
    transcript_path: Type.Optional(Text(4096)),
    permission_mode: Type.Optional(Text(100)),
    tool_name: Type.Optional(Text(256, "PreToolUse, PostToolUse")),
    tool_input: Type.Optional(Type.Unknown({ description: "PreToolUse, PostToolUse" })),
    message: Type.Optional(Text(100_000, "Notification")),
    source: Type.Optional(Text(100, "SessionStart: startup, resume, clear, compact")),
    reason: Type.Optional(Text(1_000, "SessionEnd")),
  },
  {
    additionalProperties: true,
    examples: [
      {
        session_id: "2f1c…",
        hook_event_name: "PreToolUse",
        cwd: "/repo",
        tool_name: "Bash",
        tool_input: { command: "npm test" },
      },
    ],
  },
);
export type ClaudeHookPayload = Static<typeof ClaudeHookPayload>;

export const HookHeaders = Type.Object({
  "x-mc-task-id": Type.Optional(
    Type.String({
      maxLength: 200,
      description:
        "the task the session works on (the runtime sets MC_TASK_ID; empty when Claude Code was started by hand)",
    }),
  ),
});

/** Claude Code's hook output: an empty object lets Claude Code go on as usual. */
export const ClaudeHookOutput = Type.Object(
  {
    continue: Type.Optional(Type.Boolean()),
    suppressOutput: Type.Optional(Type.Boolean()),
    systemMessage: Type.Optional(Type.String()),
    hookSpecificOutput: Type.Optional(
      Type.Object({
        hookEventName: Type.String(),
        permissionDecision: Type.Optional(StringEnum(["allow", "deny", "ask"] as const)),
        permissionDecisionReason: Type.Optional(Type.String()),
      }),
    ),
  },
  { description: "Claude Code's hook JSON (not the `{data}` envelope: Claude Code is the reader)" },
);
export type ClaudeHookOutput = Static<typeof ClaudeHookOutput>;

export const HookSettings = Type.Object({
  agent_id: Type.String(),
  url: Type.String({ description: "where Claude Code sends its hook events" }),
  token_env: Type.String({ description: "the environment variable Claude Code reads the agent token from" }),
  settings: Type.Record(Type.String(), Type.Unknown(), {
    description: "merge into ~/.claude/settings.json or the project's .claude/settings.json",
  }),
  instructions: Type.String(),
});

// Names in the OpenAPI document's components.schemas (src/http/openapi.ts).
nameSchemas({ ClaudeHookPayload, ClaudeHookOutput, HookSettings });
