// The Claude Code hooks receiver and the settings snippet: every hook event becomes the right activity for
// the token's agent, the answer is Claude Code's hook JSON, and the snippet points Claude Code here.
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { createHooksService } from "../../src/hooks/hooks.service.js";
import { createTestContext, SYSTEM, type TestContext } from "../harness.js";

/** An agent.activity entry's data, as these tests read it. */
type ActivityData = { event: string; context: Record<string, unknown> };

let t: TestContext;
let n = 0;

beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t.close();
});

async function freshAgent() {
  n++;
  const key = `hooked-${n}`;
  return { key, token: await t.agentToken(key) };
}

function hook(token: string | null, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return t.json("POST", "/api/hooks/claude-code", { token, body, headers });
}

const payload = (event: string, more: Record<string, unknown> = {}) => ({
  session_id: "9c6d1a2e-5b7f-4f3c-8a1d-2e4b6c8d0f12",
  transcript_path: "/home/ada/.claude/projects/-repo/9c6d1a2e.jsonl",
  cwd: "/repo",
  permission_mode: "default",
  hook_event_name: event,
  ...more,
});

async function agent(key: string) {
  return (await t.json("GET", `/api/agents/${key}`)).body.data;
}

async function activity(key: string) {
  return (
    (await t.json("GET", "/api/trace", { query: { agent_id: key, event: "agent.activity", limit: "500" } })).body
      .data as Array<{ data: ActivityData }>
  ).map((e) => e.data);
}

describe("POST /api/hooks/claude-code", () => {
  test("a whole session: each event sets the agent's status as mapped; heartbeats are not traced", async () => {
    const { key, token } = await freshAgent();
    const steps: Array<[string, Record<string, unknown>, string, string | null, string | null]> = [
      // event, extra payload, status after, current task after, traced activity event (null: heartbeat)
      ["SessionStart", { source: "startup" }, "idle", null, "session_start"],
      [
        "UserPromptSubmit",
        { prompt: "Implement the login endpoint, the password is hunter2" },
        "working",
        "task-77",
        "task_start",
      ],
      ["PreToolUse", { tool_name: "Bash", tool_input: { command: "npm test" } }, "working", "task-77", null],
      [
        "PostToolUse",
        { tool_name: "Bash", tool_input: { command: "npm test" }, tool_response: { stdout: "ok" } },
        "working",
        "task-77",
        null,
      ],
      [
        "Notification",
        { message: "Claude needs your permission to use Bash", notification_type: "permission_prompt" },
        "waiting_for_input",
        "task-77",
        "waiting_for_input",
      ],
      ["SubagentStop", { stop_hook_active: false }, "waiting_for_input", "task-77", null],
      ["Stop", { stop_hook_active: false }, "idle", null, "task_complete"],
      ["SessionEnd", { reason: "prompt_input_exit" }, "offline", null, "stop"],
    ];
    let traced = 0;
    for (const [event, extra, status, current, tracedAs] of steps) {
      const before = await agent(key);
      const r = await hook(token, payload(event, extra), { "x-mc-task-id": "task-77" });
      expect(r.status, event).toBe(200);
      // Nothing matches "npm test": PreToolUse carries no permission decision (Claude Code's own rules apply),
      // like every other event.
      expect(r.body, event).toEqual({});
      const after = await agent(key);
      expect(after.status, event).toBe(status);
      expect(after.current_task_id, event).toBe(current);
      expect(new Date(after.last_seen_at).getTime(), event).toBeGreaterThanOrEqual(
        new Date(before.last_seen_at ?? 0).getTime(),
      );
      const entries = await activity(key);
      if (tracedAs) traced++;
      expect(entries, event).toHaveLength(traced);
      if (tracedAs) expect(entries.at(-1)!.event, event).toBe(tracedAs);
    }
    const entries = await activity(key);
    expect(entries.map((e) => e.event)).toEqual([
      "session_start",
      "task_start",
      "waiting_for_input",
      "task_complete",
      "stop",
    ]);
    expect(entries[0]!.context).toEqual({
      via: "claude_code_hook",
      hook_event_name: "SessionStart",
      session_id: "9c6d1a2e-5b7f-4f3c-8a1d-2e4b6c8d0f12",
      cwd: "/repo",
      source: "startup",
      task_id: "task-77",
    });
    expect(entries[2]!.context).toMatchObject({ message: "Claude needs your permission to use Bash" });
    expect(entries[4]!.context).toMatchObject({ reason: "prompt_input_exit" });
    // The prompt, tool inputs and tool output never reach the trace.
    expect(JSON.stringify(entries)).not.toMatch(/hunter2|npm test|tool_response/);
  });

  test("an event Claude Code adds later (PreCompact) is a heartbeat: it brings an offline agent back", async () => {
    const { key, token } = await freshAgent();
    expect((await agent(key)).status).toBe("offline");
    const r = await hook(token, payload("PreCompact", { trigger: "auto" }));
    expect(r.status).toBe(200);
    expect((await agent(key)).status).toBe("idle");
    expect(await activity(key)).toEqual([]);
  });

  test("without X-MC-Task-Id (or with it empty, as an unset MC_TASK_ID sends it) a prompt starts no particular task", async () => {
    const { key, token } = await freshAgent();
    expect((await hook(token, payload("UserPromptSubmit"), { "x-mc-task-id": "" })).status).toBe(200);
    expect(await agent(key)).toMatchObject({ status: "working", current_task_id: null });
    expect((await activity(key))[0]!.context.task_id).toBeUndefined();
  });

  test("error table", async () => {
    const { token } = await freshAgent();
    const cases: Array<[string, () => Promise<{ status: number; body: any }>, number, unknown]> = [
      [
        "no session_id",
        () => hook(token, { hook_event_name: "Stop" }),
        422,
        { errors: { session_id: ["is required"] } },
      ],
      [
        "no hook_event_name",
        () => hook(token, { session_id: "s" }),
        422,
        { errors: { hook_event_name: ["is required"] } },
      ],
      [
        "session_id not a string",
        () => hook(token, { session_id: 5, hook_event_name: "Stop" }),
        422,
        { errors: { session_id: ["must be string"] } },
      ],
      [
        "empty event name",
        () => hook(token, { session_id: "s", hook_event_name: "" }),
        422,
        { errors: { hook_event_name: ["must NOT have fewer than 1 characters"] } },
      ],
      [
        "bad task header",
        () => hook(token, payload("UserPromptSubmit"), { "x-mc-task-id": "not a key!" }),
        422,
        { errors: { "x-mc-task-id": ["is not a valid task id or key"] } },
      ],
      [
        "malformed JSON",
        () =>
          t.json("POST", "/api/hooks/claude-code", {
            token,
            payload: "{nope",
            headers: { "content-type": "application/json" },
          }),
        400,
        { errors: { detail: "Malformed JSON in request body" } },
      ],
    ];
    for (const [name, call, status, body] of cases) {
      const r = await call();
      expect(r.status, name).toBe(status);
      expect(r.body, name).toEqual(body);
    }
  });

  test("only agent tokens: none → 401, member or admin → 403", async () => {
    const r = await hook(null, payload("Stop"));
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ errors: { detail: "Unauthorized" } });
    for (const token of [t.member, t.admin]) {
      const f = await hook(token, payload("Stop"));
      expect(f.status).toBe(403);
      expect(f.body).toEqual({ errors: { detail: "Forbidden" } });
    }
  });
});

describe("OpenAPI", () => {
  test("both routes are described, with the hook payload, the task header and Claude Code's answer", async () => {
    const doc = (await t.json("GET", "/openapi.json", { token: null })).body;
    const post = doc.paths["/api/hooks/claude-code"].post;
    expect(post.summary).toBe("Receive a Claude Code hook");
    expect(post.parameters.map((p: any) => [p.in, p.name])).toContainEqual(["header", "x-mc-task-id"]);
    // Named schemas are `$ref`s into components.schemas.
    const named = (s: any) => (s.$ref ? doc.components.schemas[s.$ref.split("/").pop()] : s);
    expect(named(post.requestBody.content["application/json"].schema).required).toEqual([
      "session_id",
      "hook_event_name",
    ]);
    expect(Object.keys(named(post.responses["200"].content["application/json"].schema).properties)).toContain(
      "hookSpecificOutput",
    );
    expect(doc.paths["/api/agents/{agent_id}/hooks/claude-code"].get.summary).toBe(
      "Claude Code hooks settings for an agent",
    );
  });
});

describe("the decision step (PreToolUse)", () => {
  test("a decider's answer becomes Claude Code's permission decision; no answer, or another event, is {}", async () => {
    const { key } = await freshAgent();
    const principal = {
      ...SYSTEM,
      role: "agent" as const,
      agentId: (await agent(key)).id,
      agentKey: key,
      actor: `agent:${key}`,
    };
    const preToolUse = vi.fn(async (input: { tool_name: string | null; tool_input: unknown }) =>
      input.tool_name === "Bash" && JSON.stringify(input.tool_input).includes("--force")
        ? { decision: "deny" as const, reason: "Force push not allowed" }
        : null,
    );
    const hooks = createHooksService({
      agents: t.app.services.agents,
      publicUrl: null,
      deciders: { preToolUse },
    });
    const push = payload("PreToolUse", { tool_name: "Bash", tool_input: { command: "git push --force" } });
    expect(await hooks.receive(push as never, "task-1", principal)).toEqual({
      hookSpecificOutput: {
        hookEventName: "PreToolUse",
        permissionDecision: "deny",
        permissionDecisionReason: "Force push not allowed",
      },
    });
    expect(preToolUse).toHaveBeenCalledWith(
      expect.objectContaining({
        session_id: push.session_id,
        task_id: "task-1",
        tool_name: "Bash",
        tool_input: { command: "git push --force" },
        cwd: "/repo",
      }),
    );
    expect(await hooks.receive(payload("PreToolUse", { tool_name: "Read" }) as never, undefined, principal)).toEqual(
      {},
    );
    expect(await hooks.receive(payload("PostToolUse", { tool_name: "Bash" }) as never, undefined, principal)).toEqual(
      {},
    );
    expect(preToolUse).toHaveBeenCalledTimes(2);
  });
});

describe("GET /api/agents/:agent_id/hooks/claude-code", () => {
  test("the settings.json snippet: every mapped event, an http hook to this server, the token from the environment", async () => {
    const { key, token } = await freshAgent();
    const r = await t.json("GET", `/api/agents/${key}/hooks/claude-code`, { headers: { host: "mc.internal:4000" } });
    expect(r.status).toBe(200);
    const url = "http://mc.internal:4000/api/hooks/claude-code";
    const hook = {
      type: "http",
      url,
      headers: { Authorization: "Bearer $MC_AGENT_TOKEN", "X-MC-Task-Id": "$MC_TASK_ID" },
      allowedEnvVars: ["MC_AGENT_TOKEN", "MC_TASK_ID"],
      timeout: 10,
    };
    expect(r.body.data).toMatchObject({
      agent_id: key,
      url,
      token_env: "MC_AGENT_TOKEN",
      instructions: expect.stringContaining(`"agent_id": "${key}"`),
    });
    // SessionStart takes command hooks only: curl posts the event JSON from its stdin, its output discarded.
    const command = {
      type: "command",
      command:
        `curl -sS -m 10 -X POST '${url}' -H "Authorization: Bearer $MC_AGENT_TOKEN" -H "X-MC-Task-Id: $MC_TASK_ID" ` +
        `-H 'Content-Type: application/json' --data-binary @- >/dev/null 2>&1 || true`,
      timeout: 15,
    };
    expect(r.body.data.settings).toEqual({
      hooks: {
        SessionStart: [{ hooks: [command] }],
        UserPromptSubmit: [{ hooks: [hook] }],
        PreToolUse: [{ matcher: "*", hooks: [hook] }],
        PostToolUse: [{ matcher: "*", hooks: [hook] }],
        Notification: [{ hooks: [hook] }],
        Stop: [{ hooks: [hook] }],
        SubagentStop: [{ hooks: [hook] }],
        SessionEnd: [{ hooks: [hook] }],
      },
    });

    // What Claude Code would send with that snippet (the variables filled in) is accepted.
    const sent = await t.json("POST", new URL(url).pathname, {
      token: null,
      headers: { authorization: hook.headers.Authorization.replace("$MC_AGENT_TOKEN", token), "x-mc-task-id": "" },
      body: payload("SessionStart"),
    });
    expect(sent.status).toBe(200);

    // The agent itself may read its own snippet.
    expect((await t.json("GET", `/api/agents/${key}/hooks/claude-code`, { token })).status).toBe(200);
  });

  test("MC_PUBLIC_URL wins over the request's host", async () => {
    const other = await createTestContext({ MC_PUBLIC_URL: "https://mc.example.com/" });
    try {
      await other.agentToken("pub-agent");
      const r = await other.json("GET", "/api/agents/pub-agent/hooks/claude-code", { headers: { host: "ignored:1" } });
      expect(r.status).toBe(200);
      expect(r.body.data.url).toBe("https://mc.example.com/api/hooks/claude-code");
      expect(r.body.data.settings.hooks.Stop[0].hooks[0].url).toBe("https://mc.example.com/api/hooks/claude-code");
    } finally {
      await other.close();
    }
  });

  test("errors and access: unknown agent 404, another agent's token 403, no token 401", async () => {
    const a = await freshAgent();
    const b = await freshAgent();
    const notFound = await t.json("GET", "/api/agents/nobody-here/hooks/claude-code");
    expect(notFound.status).toBe(404);
    expect(notFound.body).toEqual({ errors: { detail: "Not Found" } });
    const forbidden = await t.json("GET", `/api/agents/${a.key}/hooks/claude-code`, { token: b.token });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body).toEqual({ errors: { detail: "Forbidden" } });
    expect((await t.json("GET", `/api/agents/${a.key}/hooks/claude-code`, { token: null })).status).toBe(401);
    expect((await t.json("GET", `/api/agents/${a.key}/hooks/claude-code`, { token: t.member })).status).toBe(200);
  });
});
