// Guardrails where agents act: at dispatch (block / require_approval) and on reports of actions performed.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, waitFor, type TestContext } from "../harness.js";

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t.close();
});

let n = 0;
async function world(opts: { start?: boolean } = {}) {
  n++;
  const m = `enf-mission-${n}`;
  const a = `enf-agent-${n}`;
  await t.json("POST", "/api/missions", { body: { mission_id: m, goal: "guarded" } });
  await t.json("POST", "/api/agents", { body: { agent_id: a, adapter_module: "manual" } });
  await t.json("POST", `/api/missions/${m}/agents`, { body: { agent_id: a } });
  if (opts.start !== false) await t.json("POST", `/api/missions/${m}/start`);
  const task = await t.json("POST", `/api/missions/${m}/tasks`, {
    body: { objective: "deploy to production", agent_id: a, priority: 1 },
  });
  return { m, a, task: task.body.data.task_id as string };
}

async function policy(body: Record<string, unknown>) {
  const r = await t.json("POST", "/api/policies", { body: { policy: body } });
  expect(r.status).toBe(201);
  return r.body.data;
}

describe("at dispatch", () => {
  test("block → 403 with the policy error; nothing dispatched; the decision is in the trace", async () => {
    const { m, task } = await world();
    await policy({
      policy_id: `no-dispatch-${n}`,
      scope: `mission:${m}`,
      conditions: { action_type: "dispatch", task: { objective: { $regex: "production" } } },
      actions: [{ block: "No production work from agents" }],
    });
    const r = await t.json("POST", `/api/tasks/${task}/execute`);
    expect(r.status).toBe(403);
    expect(r.body.errors).toEqual({ policy: ["No production work from agents"] });
    expect(r.body.policy_decision.decision).toBe("block");
    expect((await t.json("GET", `/api/tasks/${task}`)).body.data.status).toBe("pending");
    const trace = (await t.json("GET", "/api/trace", { query: { task_id: task } })).body.data;
    expect(trace.map((e: any) => e.event)).toEqual(["task.created", "policy.evaluated"]);
    expect(trace[1].data.action).toMatchObject({
      action_type: "dispatch",
      task: { task_id: task },
      mission: { mission_id: m },
    });
  });

  test("require_approval parks the dispatch until a member approves that decision", async () => {
    const { m, task } = await world();
    await policy({
      policy_id: `approve-deploys-${n}`,
      scope: `mission:${m}`,
      conditions: { action_type: "dispatch", task: { objective: { $regex: "deploy" } } },
      actions: [{ require_approval: "Deploys need a human" }],
    });
    const r = await t.json("POST", `/api/tasks/${task}/execute`);
    expect(r.status).toBe(202);
    expect(r.body.data.status).toBe("awaiting_approval");
    expect(r.body.data.policy).toMatchObject({ decision: "require_approval", messages: ["Deploys need a human"] });
    const decisionId = String(r.body.data.policy.decision_id);
    await new Promise((res) => setTimeout(res, 1200));
    expect((await t.json("GET", `/api/dispatches/${r.body.data.id}`)).body.data.status).toBe("awaiting_approval");

    const again = await t.json("POST", `/api/tasks/${task}/execute`);
    expect(again.status).toBe(422);
    expect(again.body).toEqual({ errors: { task_id: ["is already dispatched"] } });
    const wrong = await t.json("POST", `/api/tasks/${task}/execute`, { body: { approve_policy: "999999" } });
    expect(wrong.status).toBe(422);
    expect(wrong.body).toEqual({
      errors: { approve_policy: ["does not name a require_approval decision this task is waiting on"] },
    });
    const agentTok = await t.agentToken(`enf-agent-${n}`);
    expect(
      (await t.json("POST", `/api/tasks/${task}/execute`, { token: agentTok, body: { approve_policy: decisionId } }))
        .status,
    ).toBe(403);

    const ok = await t.json("POST", `/api/tasks/${task}/execute`, {
      token: t.member,
      body: { approve_policy: decisionId },
    });
    expect(ok.status).toBe(202);
    expect(ok.body.data.status).toBe("queued");
    await waitFor(
      async () => (await t.json("GET", `/api/dispatches/${r.body.data.id}`)).body.data.status === "delivered",
    );
    const approved = (
      await t.json("GET", "/api/trace", { query: { task_id: task, event: "dispatch.policy_approved" } })
    ).body.data;
    expect(approved).toHaveLength(1);
    expect(approved[0].actor).toBe("member:test-member");
  });

  test("dry_run policies are recorded but never block", async () => {
    const { m, task } = await world();
    await policy({
      policy_id: `dry-${n}`,
      scope: `mission:${m}`,
      mode: "dry_run",
      conditions: { action_type: "dispatch" },
      actions: [{ block: "would block" }],
    });
    const r = await t.json("POST", `/api/tasks/${task}/execute`);
    expect(r.status).toBe(202);
    const evals = (await t.json("GET", "/api/trace", { query: { task_id: task, event: "policy.evaluated" } })).body
      .data;
    expect(evals).toHaveLength(1);
  });
});

describe("on reports", () => {
  test("the reference's no-force-push blocks a force push an agent reports: the task is blocked and the violation traced", async () => {
    const { m, a, task } = await world({ start: false });
    await t.json("POST", "/api/policies", {
      body: {
        policy: {
          policy_id: "no-force-push",
          description: "Prevent force pushing to protected branches",
          scope: "global",
          conditions: { action_type: "git_push", force: true },
          actions: [{ block: "Force push not allowed" }],
        },
      },
    });
    const tok = await t.agentToken(a);
    await t.json("POST", `/api/tasks/${task}/report`, { token: tok, body: { progress: { status: "in_progress" } } });
    const r = await t.json("POST", `/api/tasks/${task}/report`, {
      token: tok,
      body: {
        progress: {
          status: "pending_review",
          outputs: {
            actions: [{ action_type: "git_commit" }, { action_type: "git_push", force: true, branch: "main" }],
          },
        },
      },
    });
    expect(r.status).toBe(200);
    expect(r.body.data.status).toBe("blocked");
    expect(r.body.data.logs.at(-1)).toMatchObject({
      level: "error",
      message: "blocked by policy: Force push not allowed",
    });
    const moves = (await t.json("GET", "/api/trace", { query: { task_id: task, event: "task.status_changed" } })).body
      .data;
    expect(moves.at(-1).data).toMatchObject({
      from: "in_progress",
      to: "blocked",
      comment: "blocked by policy: Force push not allowed",
    });
    const evals = (await t.json("GET", "/api/trace", { query: { task_id: task, event: "policy.evaluated" } })).body
      .data;
    expect(evals.map((e: any) => e.data.decision)).toEqual(["allow", "block"]);
    expect(m).toBeTruthy();
  });

  test("allowed actions leave the report alone; malformed actions are 422 and change nothing", async () => {
    const { a, task } = await world({ start: false });
    const tok = await t.agentToken(a);
    const ok = await t.json("POST", `/api/tasks/${task}/report`, {
      token: tok,
      body: { progress: { status: "in_progress", outputs: { actions: [{ action_type: "git_commit" }] } } },
    });
    expect(ok.body.data.status).toBe("in_progress");
    for (const [actions, field] of [
      ["nope", "outputs.actions"],
      [[1], "outputs.actions.0"],
    ] as const) {
      const bad = await t.json("POST", `/api/tasks/${task}/report`, {
        token: tok,
        body: { progress: { outputs: { actions } } },
      });
      expect(bad.status).toBe(422);
      expect(Object.keys(bad.body.errors)).toEqual([field]);
    }
  });
});

describe("at Claude Code's PreToolUse hook", () => {
  // Recorded from Claude Code: a Bash tool call about to force-push.
  const forcePush = {
    session_id: "0d8c5f0e-6b7f-4a53-9a3b-7c1b2d9e4f10",
    transcript_path: "/home/dev/.claude/projects/-home-dev-app/0d8c5f0e-6b7f-4a53-9a3b-7c1b2d9e4f10.jsonl",
    cwd: "/home/dev/app",
    permission_mode: "default",
    hook_event_name: "PreToolUse",
    tool_name: "Bash",
    tool_input: { command: "git push --force origin main", description: "Force push the rebased branch" },
  };

  test("the reference's no-force-push denies `git push --force origin main`; the decision is traced", async () => {
    const agent = `hook-agent-${++n}`;
    const tok = await t.agentToken(agent);
    // The global no-force-push policy was created with the reference's body in the report test above.
    const r = await t.json("POST", "/api/hooks/claude-code", { token: tok, body: forcePush });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      hookSpecificOutput: {
        hookEventName: "PreToolUse",
        permissionDecision: "deny",
        permissionDecisionReason: "Force push not allowed",
      },
    });
    const evals = (await t.json("GET", "/api/trace", { query: { agent_id: agent, event: "policy.evaluated" } })).body
      .data;
    expect(
      evals.some(
        (e: any) =>
          e.data.decision === "block" && e.data.action.action_type === "git_push" && e.data.action.force === true,
      ),
    ).toBe(true);
    expect(evals.every((e: any) => e.data.source === "claude_code_hook")).toBe(true);
  });

  test("require_approval → ask; nothing matching → no decision (Claude Code's own rules apply); warn → a message, no decision; a Write to .env is a file_write action", async () => {
    const agent = `hook-agent-${++n}`;
    const tok = await t.agentToken(agent);
    await policy({
      policy_id: `ask-env-${n}`,
      scope: `agent:${agent}`,
      conditions: { action_type: "file_write", path: { $regex: "(^|/)\\.env$" } },
      actions: [{ require_approval: "Secrets files need a human" }],
    });
    const ask = await t.json("POST", "/api/hooks/claude-code", {
      token: tok,
      body: { ...forcePush, tool_name: "Write", tool_input: { file_path: "/home/dev/app/.env", content: "X=1" } },
    });
    expect(ask.body.hookSpecificOutput).toMatchObject({
      permissionDecision: "ask",
      permissionDecisionReason: "Secrets files need a human",
    });
    const allow = await t.json("POST", "/api/hooks/claude-code", {
      token: tok,
      body: { ...forcePush, tool_input: { command: "npm test" } },
    });
    // No permission decision: an "allow" would skip Claude Code's own permission check (issue 18).
    expect(allow.body).toEqual({});
    await policy({
      policy_id: `warn-curl-${n}`,
      scope: `agent:${agent}`,
      conditions: { action_type: "shell", command: { $regex: "^curl" } },
      actions: [{ warn: "Network calls are logged" }],
    });
    const warned = await t.json("POST", "/api/hooks/claude-code", {
      token: tok,
      body: { ...forcePush, tool_input: { command: "curl https://example.com" } },
    });
    expect(warned.status).toBe(200);
    expect(warned.body).toEqual({ systemMessage: "Network calls are logged" });
  });
});

describe("knowledge capture on approve", () => {
  test("an approved task of a mission with metadata.capture_knowledge becomes a searchable document", async () => {
    n++;
    const m = `kb-mission-${n}`;
    await t.json("POST", "/api/missions", {
      body: { mission_id: m, goal: "remember", metadata: { capture_knowledge: true } },
    });
    const task = (
      await t.json("POST", `/api/missions/${m}/tasks`, { body: { objective: "Rotate the signing keys for webhooks" } })
    ).body.data.task_id;
    await t.json("POST", `/api/tasks/${task}/report`, { body: { progress: { status: "in_progress" } } });
    await t.json("POST", `/api/tasks/${task}/report`, {
      body: { progress: { status: "pending_review", outputs: { files_changed: 2 } } },
    });
    await t.json("POST", `/api/tasks/${task}/reject`, { body: { comment: "Keep the old key valid for a day" } });
    await t.json("POST", `/api/tasks/${task}/report`, { body: { progress: { status: "in_progress" } } });
    await t.json("POST", `/api/tasks/${task}/report`, { body: { progress: { status: "pending_review" } } });
    expect((await t.json("POST", `/api/tasks/${task}/approve`, { body: { comment: "LGTM" } })).status).toBe(200);
    const found = await t.json("POST", "/api/knowledge/search", {
      body: { query: "rotate signing keys", limit: 5, filter: { metadata: { type: "task" } } },
    });
    expect(found.status).toBe(200);
    expect(found.body.data[0].metadata).toMatchObject({ type: "task", task_id: task, mission_id: m });
    const doc = await t.json("GET", `/api/knowledge/documents/${found.body.data[0].document_id}`);
    expect(doc.body.data.content).toContain("Keep the old key valid for a day");
    expect(doc.body.data.content).toContain("LGTM");

    // Without the flag nothing is captured.
    const plain = `kb-plain-${n}`;
    await t.json("POST", "/api/missions", { body: { mission_id: plain, goal: "forget" } });
    const t2 = (
      await t.json("POST", `/api/missions/${plain}/tasks`, { body: { objective: "Unremarkable chore zebra" } })
    ).body.data.task_id;
    await t.json("POST", `/api/tasks/${t2}/report`, { body: { progress: { status: "in_progress" } } });
    await t.json("POST", `/api/tasks/${t2}/report`, { body: { progress: { status: "pending_review" } } });
    await t.json("POST", `/api/tasks/${t2}/approve`, { body: {} });
    const none = await t.json("POST", "/api/knowledge/search", {
      body: { query: "zebra chore", limit: 5, filter: { metadata: { type: "task" } } },
    });
    expect(none.body.data).toEqual([]);
  });
});
