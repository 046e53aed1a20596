// The Claude Code hooks receiver: how an agent that a person started by hand, outside the runtime, still shows
// up live. Claude Code's `http` hooks POST each event with the agent token in a header; the event becomes the
// agent's activity through the agents service (the one place that maps events to statuses and traces them):
//   SessionStart → session_start, UserPromptSubmit → task_start, PreToolUse / PostToolUse / SubagentStop →
//   heartbeat, Notification → waiting_for_input, Stop → task_complete, SessionEnd → stop;
//   any other event name (Claude Code adds events over time) → heartbeat.
// The answer is Claude Code's hook JSON. A step between the activity and the answer may decide a PreToolUse
// (`deciders.preToolUse`, for the policy engine): deny or ask, with a reason Claude Code shows, or no decision
// at all (never "allow": that would skip Claude Code's own permission check), maybe with a warning message.
//
// Claude Code sends `http` hooks for every event but SessionStart (and Setup), which take `command` hooks
// only: the settings snippet wires SessionStart as a command that posts its stdin (the same JSON) here.
import type { AgentEvent } from "../agents/agents.state.js";
import type { AgentsService } from "../agents/agents.service.js";
import type { Principal } from "../core/principal.js";
import { Forbidden, Invalid } from "../core/errors.js";
import { parseRef } from "../core/ids.js";
import {
  CLAUDE_HOOK_EVENTS,
  type ClaudeHookEvent,
  type ClaudeHookOutput,
  type ClaudeHookPayload,
} from "./hooks.schemas.js";
import { isAgentRole } from "../tokens/tokens.state.js";

export const HOOK_ACTIVITY: Record<ClaudeHookEvent, AgentEvent> = {
  SessionStart: "session_start",
  UserPromptSubmit: "task_start",
  PreToolUse: "heartbeat",
  PostToolUse: "heartbeat",
  Notification: "waiting_for_input",
  Stop: "task_complete",
  SubagentStop: "heartbeat",
  SessionEnd: "stop",
};

/** The events Claude Code never sends to an `http` hook ("HTTP hooks are not supported for SessionStart"). */
const COMMAND_ONLY_EVENTS: ReadonlySet<string> = new Set(["SessionStart"]);

/** The events whose hooks take a tool matcher in settings.json. */
const TOOL_EVENTS: ReadonlySet<string> = new Set(["PreToolUse", "PostToolUse"]);

export function activityFor(hookEvent: string): AgentEvent {
  return (CLAUDE_HOOK_EVENTS as readonly string[]).includes(hookEvent)
    ? HOOK_ACTIVITY[hookEvent as ClaudeHookEvent]
    : "heartbeat";
}

export interface PreToolUseInput {
  principal: Principal;
  session_id: string;
  task_id: string | number | null;
  tool_name: string | null;
  tool_input: unknown;
  cwd: string | null;
}

export interface PreToolUseDecision {
  /** null: no permission decision (Claude Code's own rules apply); `reason` is then only shown as a message. */
  decision: "deny" | "ask" | null;
  reason: string;
}

export interface HookDeciders {
  /** A say on a tool call before Claude Code runs it; null leaves the decision to Claude Code's own rules. */
  preToolUse?(input: PreToolUseInput): Promise<PreToolUseDecision | null>;
}

export interface HooksDeps {
  agents: AgentsService;
  /** MC_PUBLIC_URL: the base URL put in the settings snippet; else the URL the request came to. */
  publicUrl: string | null;
  deciders?: HookDeciders;
}

export type HooksService = ReturnType<typeof createHooksService>;

const clip = (v: string | undefined, max: number) =>
  v === undefined ? undefined : v.length > max ? `${v.slice(0, max)}…` : v;

export function createHooksService({ agents, publicUrl, deciders = {} }: HooksDeps) {
  /** `POST /api/hooks/claude-code`: the event as the token's agent's activity, and Claude Code's answer. */
  async function receive(
    p: ClaudeHookPayload,
    taskHeader: string | undefined,
    by: Principal,
  ): Promise<ClaudeHookOutput> {
    // Hooks speak for one agent: the one the token is bound to.
    if (!isAgentRole(by.role) || by.agentId === null) throw new Forbidden();
    let taskId: string | number | null = null;
    if (taskHeader !== undefined && taskHeader.trim() !== "") {
      taskId = parseRef(taskHeader.trim());
      if (taskId === null) throw Invalid.field("x-mc-task-id", "is not a valid task id or key");
    }
    const event = activityFor(p.hook_event_name);
    // Only what says what happened goes into the trace: never the tool's input or output, nor the prompt.
    const context: Record<string, unknown> = {
      via: "claude_code_hook",
      hook_event_name: p.hook_event_name,
      session_id: p.session_id,
      ...(p.cwd !== undefined ? { cwd: clip(p.cwd, 500) } : {}),
      ...(p.tool_name !== undefined ? { tool_name: clip(p.tool_name, 200) } : {}),
      ...(p.message !== undefined ? { message: clip(p.message, 500) } : {}),
      ...(p.source !== undefined ? { source: p.source } : {}),
      ...(p.reason !== undefined ? { reason: clip(p.reason, 500) } : {}),
      ...(taskId !== null ? { task_id: taskId } : {}),
    };
    await agents.activity(String(by.agentId), { event, context }, by);

    if (p.hook_event_name === "PreToolUse" && deciders.preToolUse) {
      const d = await deciders.preToolUse({
        principal: by,
        session_id: p.session_id,
        task_id: taskId,
        tool_name: p.tool_name ?? null,
        tool_input: p.tool_input,
        cwd: p.cwd ?? null,
      });
      if (d?.decision) {
        return {
          hookSpecificOutput: {
            hookEventName: "PreToolUse",
            permissionDecision: d.decision,
            permissionDecisionReason: d.reason,
          },
        };
      }
      if (d && d.reason) return { systemMessage: d.reason };
    }
    return {};
  }

  /** `GET /api/agents/:agent_id/hooks/claude-code`: the settings.json that wires Claude Code to this server. */
  async function settings(agentRaw: string, by: Principal, requestBase: string) {
    const agent = await agents.get(agentRaw, by);
    const url = `${(publicUrl ?? requestBase).replace(/\/+$/, "")}/api/hooks/claude-code`;
    const hook = {
      type: "http",
      url,
      // Claude Code fills these from its environment, and only for the variables allowedEnvVars lists.
      headers: { Authorization: "Bearer $MC_AGENT_TOKEN", "X-MC-Task-Id": "$MC_TASK_ID" },
      allowedEnvVars: ["MC_AGENT_TOKEN", "MC_TASK_ID"],
      timeout: 10,
    };
    // SessionStart takes `command` hooks only: curl posts the event JSON Claude Code writes on its stdin. Its
    // output is thrown away (a SessionStart hook's stdout would become context for the model), and it never
    // fails the session.
    const quoted = `'${url.replace(/'/g, `'\\''`)}'`;
    const command = {
      type: "command",
      command:
        `curl -sS -m 10 -X POST ${quoted} -H "Authorization: Bearer $MC_AGENT_TOKEN" -H "X-MC-Task-Id: $MC_TASK_ID" ` +
        `-H 'Content-Type: application/json' --data-binary @- >/dev/null 2>&1 || true`,
      timeout: 15,
    };
    const hooks = Object.fromEntries(
      CLAUDE_HOOK_EVENTS.map((e) => {
        const h = COMMAND_ONLY_EVENTS.has(e) ? command : hook;
        return [e, [TOOL_EVENTS.has(e) ? { matcher: "*", hooks: [h] } : { hooks: [h] }]];
      }),
    );
    return {
      agent_id: agent.agent_id,
      url,
      token_env: "MC_AGENT_TOKEN",
      settings: { hooks },
      instructions:
        `Merge "settings" into ~/.claude/settings.json (or a project's .claude/settings.json), create an agent ` +
        `token for ${agent.agent_id} (POST /api/tokens {"role": "agent", "agent_id": "${agent.agent_id}"}) and ` +
        `start Claude Code with it in MC_AGENT_TOKEN. Runs started by this server's runtime already have ` +
        `MC_AGENT_TOKEN and MC_TASK_ID set.`,
    };
  }

  return { receive, settings };
}
