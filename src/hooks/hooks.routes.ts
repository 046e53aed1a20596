import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyRequest } from "fastify";
import { AgentParam } from "../agents/agents.schemas.js";
import { Data } from "../core/envelope.js";
import { ClaudeHookOutput, ClaudeHookPayload, HookHeaders, HookSettings } from "./hooks.schemas.js";
import type { HooksService } from "./hooks.service.js";

/** This server's base URL as the client reached it (for the settings snippet when MC_PUBLIC_URL is unset). */
function requestBase(req: FastifyRequest): string {
  const host = req.host;
  return `${req.protocol}://${/^[A-Za-z0-9.:[\]-]{1,300}$/.test(host) ? host : "localhost"}`;
}

export const hooksRoutes: FastifyPluginAsyncTypebox<{ hooks: HooksService }> = async (app, { hooks }) => {
  app.post(
    "/api/hooks/claude-code",
    {
      config: { access: "agent" },
      schema: {
        tags: ["hooks"],
        summary: "Receive a Claude Code hook",
        operationId: "receiveClaudeCodeHook",
        description:
          "Claude Code's hooks post each event here with an agent token (Authorization header): `http` hooks for " +
          "UserPromptSubmit, PreToolUse, PostToolUse, Notification, Stop, SubagentStop and SessionEnd; SessionStart, " +
          "which Claude Code never sends to an `http` hook, through the settings snippet's `command` hook (curl posts " +
          "the event JSON Claude Code gives it on stdin). The event becomes that agent's activity: SessionStart → " +
          "session_start, UserPromptSubmit → task_start (the task from the X-MC-Task-Id header, when set), " +
          "PreToolUse, PostToolUse and SubagentStop → heartbeat, Notification → waiting_for_input, Stop → " +
          "task_complete, SessionEnd → stop; any other event name → heartbeat. Only agent tokens may post (others: " +
          "403). The answer is Claude Code's hook JSON, not the `{data}` envelope: `{}` lets Claude Code go on with " +
          'its own permission rules. For PreToolUse a policy that blocks answers `permissionDecision: "deny"`, one ' +
          'that requires approval `"ask"`; a `warn` adds only a `systemMessage`. It never answers `"allow"`, ' +
          "which would skip Claude Code's own permission check.",
        headers: HookHeaders,
        body: ClaudeHookPayload,
        response: { 200: ClaudeHookOutput },
      },
    },
    async (req) => hooks.receive(req.body, req.headers["x-mc-task-id"], req.principal),
  );

  app.get(
    "/api/agents/:agent_id/hooks/claude-code",
    {
      config: { access: "agent" },
      schema: {
        tags: ["hooks"],
        summary: "Claude Code hooks settings for an agent",
        operationId: "getAgentClaudeCodeHooks",
        description:
          "The settings.json snippet that wires a Claude Code installation to this server as this agent: an `http` " +
          "hook for every mapped event but SessionStart, which gets a `command` hook (curl posting its stdin, output " +
          "discarded, never failing the session), with the URL filled in (MC_PUBLIC_URL, else the URL this request " +
          "came to) and the token read from the MC_AGENT_TOKEN environment variable. An agent token may read only " +
          "its own.",
        params: AgentParam,
        response: { 200: Data(HookSettings) },
      },
    },
    async (req) => ({ data: await hooks.settings(req.params.agent_id, req.principal, requestBase(req)) }),
  );
};
