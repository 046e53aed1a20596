// The three CLI parsers against their recorded streams: every line becomes normalized events (events.ts),
// garbage becomes raw logs, and nothing a CLI prints makes a parser throw.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { claudeCodeParser, claudeCodeSpec } from "../../src/runtime/adapters/claude-code.js";
import { cliOutcome, inGitWorkTree, previousSession } from "../../src/runtime/adapters/cli.js";
import { codexParser, codexSpec } from "../../src/runtime/adapters/codex.js";
import type { LineParser, RunEvent } from "../../src/runtime/adapters/events.js";
import { geminiCliParser, geminiCliSpec } from "../../src/runtime/adapters/gemini-cli.js";
import { buildPrompt, MAX_PROMPT_BYTES, resumePrompt } from "../../src/runtime/adapters/prompt.js";
import { stdoutLines } from "./recordings.js";

function run(parser: LineParser, lines: string[]): RunEvent[] {
  return [...lines.flatMap((l) => parser.line(l)), ...parser.end()];
}

const logs = (events: RunEvent[], level?: string) =>
  events.flatMap((e) => (e.type === "log" && (level === undefined || e.level === level) ? [e.message] : []));
const tools = (events: RunEvent[]) => events.flatMap((e) => (e.type === "tool" ? [e.message] : []));
/** The files each writing tool event names (what the conflict radar is given). */
const written = (events: RunEvent[]) => events.flatMap((e) => (e.type === "tool" && e.files ? [e.files] : []));

describe("claude_code stream-json", () => {
  test("a successful session: session, text, tools, and the result's outputs", () => {
    const p = claudeCodeParser();
    const events = run(p, stdoutLines("claude", "success"));
    expect(events[0]).toEqual({ type: "session", sessionId: "sess-123", model: "claude-sonnet-4-5-20250929" });
    expect(tools(events)).toEqual([
      "tool: Read /work/repo/README.md",
      "tool: Write /work/repo/src/login.js",
      "tool: Write /work/repo/test/login.test.js",
      "tool: Bash node --test test/",
      "tool: Edit /work/repo/README.md",
    ]);
    // Tool results (file contents, command output) are not logged; the assistant's text is.
    expect(logs(events)).toEqual([
      "I'll start by looking at how the project is laid out.",
      expect.stringMatching(/^Added `POST \/login`/),
      "result: success after 11 turns, $0.0731",
    ]);
    const result = events.at(-1);
    expect(result).toEqual({
      type: "result",
      ok: true,
      reason: undefined,
      outputs: {
        result: expect.stringMatching(/^Added `POST \/login`/),
        subtype: "success",
        cost_usd: 0.0731,
        num_turns: 11,
        duration_ms: 48213,
        usage: {
          input_tokens: 31,
          output_tokens: 1480,
          cache_creation_input_tokens: 8412,
          cache_read_input_tokens: 96120,
        },
        session_id: "sess-123",
      },
    });
    expect(p.result).toBe(result);
  });

  test("an error result (error_max_turns) fails, keeps its cost, and a failed tool is a warning", () => {
    const p = claudeCodeParser();
    const events = run(p, stdoutLines("claude", "error"));
    expect(p.result).toMatchObject({
      ok: false,
      reason: "claude_code ended with error_max_turns",
      outputs: { cost_usd: 0.0213, num_turns: 3, subtype: "error_max_turns" },
    });
    expect(p.result!.outputs.result).toBeUndefined();
    expect(logs(events, "warn")).toEqual([expect.stringMatching(/^tool error: npm error Missing script: "test"/)]);
    expect(logs(events, "error")).toEqual(["result: error_max_turns after 3 turns, $0.0213"]);
  });

  test("is_error on a success subtype (an API error) fails with the message", () => {
    const p = claudeCodeParser();
    p.line(
      JSON.stringify({
        type: "result",
        subtype: "success",
        is_error: true,
        result: "API Error: 401 invalid x-api-key",
        total_cost_usd: 0,
      }),
    );
    expect(p.result).toMatchObject({
      ok: false,
      reason: "claude_code reported an error: API Error: 401 invalid x-api-key",
    });
  });

  test("garbage lines are raw logs; known noise is not; a huge line is cut", () => {
    const p = claudeCodeParser();
    const events = run(p, stdoutLines("claude", "garbage"));
    const messages = logs(events);
    expect(messages).toContain("Warning: no stdin data received in 3s, proceeding without it.");
    expect(messages).toContain('{"type": "assistant", "message": {"content": [{"type": "text", "text": "cut off');
    expect(messages).toContain("[1, 2, 3]");
    expect(messages).toContain('{"type":"mystery_event","payload":{"x":1}}');
    expect(messages).toContain('{"type":"assistant","message":"not an object"}');
    expect(messages).toContain("system: compact_boundary");
    const huge = messages.find((m) => m.startsWith("xxxx"))!;
    expect(huge.length).toBeLessThan(4_100);
    expect(huge).toMatch(/… \[36000 more characters\]$/);
    // The blank line and the partial-message delta produce nothing.
    expect(messages.some((m) => m.includes("text_delta"))).toBe(false);
    expect(p.result).toMatchObject({ ok: true, outputs: { result: "Wrote NOTES.md.", cost_usd: 0.0102 } });
  });

  test("a crash midway leaves no result", () => {
    const p = claudeCodeParser();
    const events = run(p, stdoutLines("claude", "crash"));
    expect(p.result).toBeNull();
    expect(tools(events)).toEqual(["tool: Write /work/repo/src/login.js"]);
  });

  test("a subagent's tool use is marked", () => {
    const p = claudeCodeParser();
    const e = p.line(
      JSON.stringify({
        type: "assistant",
        parent_tool_use_id: "toolu_1",
        message: { content: [{ type: "tool_use", name: "Grep", input: { pattern: "TODO" } }] },
      }),
    );
    expect(e).toEqual([{ type: "tool", name: "Grep", message: "[subagent] tool: Grep TODO" }]);
  });
});

describe("codex exec --json", () => {
  test("a successful thread: session, commands with exit codes, file changes, usage, the last message as result", () => {
    const p = codexParser();
    const events = run(p, stdoutLines("codex", "success"));
    expect(events[0]).toEqual({ type: "session", sessionId: "sess-123" });
    expect(tools(events)).toEqual([
      "tool: command $ bash -lc ls",
      "tool: file_change add /work/repo/src/login.js",
      "tool: file_change add /work/repo/test/login.test.js",
      "tool: command $ bash -lc 'node --test test/'",
      "tool: file_change update /work/repo/src/login.js",
      "tool: command $ bash -lc 'node --test test/'",
    ]);
    expect(logs(events, "info")).toEqual([
      "$ bash -lc ls → exit 0",
      "$ bash -lc 'node --test test/' → exit 0",
      "Implemented `login` in src/login.js (401 on bad credentials) with a test in test/login.test.js; `node --test` passes.",
    ]);
    // A failing command is a warning with the end of its output; reasoning and plans are not logged.
    expect(logs(events, "warn")).toEqual([
      expect.stringMatching(/^\$ bash -lc 'node --test test\/' → exit 1\n✖ rejects a bad password/),
    ]);
    expect(p.result).toEqual({
      type: "result",
      ok: true,
      outputs: {
        result:
          "Implemented `login` in src/login.js (401 on bad credentials) with a test in test/login.test.js; `node --test` passes.",
        usage: { input_tokens: 24763, cached_input_tokens: 24448, output_tokens: 1122 },
        num_turns: 1,
      },
    });
  });

  test("file_change items name the files they change (for the conflict radar); commands name none", () => {
    const events = run(codexParser(), stdoutLines("codex", "success"));
    expect(written(events)).toEqual([
      ["/work/repo/src/login.js"],
      ["/work/repo/test/login.test.js"],
      ["/work/repo/src/login.js"],
    ]);
    const several = codexParser().line(
      JSON.stringify({
        type: "item.completed",
        item: {
          type: "file_change",
          changes: [{ path: "a.js", kind: "add" }, { path: "b/c.md", kind: "delete" }, { kind: "update" }],
        },
      }),
    );
    expect(written(several)).toEqual([["a.js", "b/c.md"]]);
  });

  test("usage adds up over turns", () => {
    const p = codexParser();
    for (const u of [1, 2])
      p.line(
        JSON.stringify({
          type: "turn.completed",
          usage: { input_tokens: 100 * u, cached_input_tokens: 0, output_tokens: 10 * u },
        }),
      );
    expect(p.result!.outputs).toEqual({
      usage: { input_tokens: 300, cached_input_tokens: 0, output_tokens: 30 },
      num_turns: 2,
    });
  });

  test("errors are logged; turn.failed fails the run with its message", () => {
    const p = codexParser();
    const events = run(p, stdoutLines("codex", "error"));
    expect(logs(events, "error")).toEqual([
      expect.stringMatching(/^codex error: Reconnecting\.\.\. 1\/5/),
      expect.stringMatching(/^codex error: Reconnecting\.\.\. 2\/5/),
      "turn failed: exceeded retry limit, last status: 429 Too Many Requests",
    ]);
    expect(p.result).toMatchObject({
      ok: false,
      reason: "codex turn failed: exceeded retry limit, last status: 429 Too Many Requests",
    });
  });

  test("garbage and unknown items are raw logs", () => {
    const p = codexParser();
    const messages = logs(run(p, stdoutLines("codex", "garbage")));
    expect(messages).toEqual(
      expect.arrayContaining([
        "[2025-10-10T12:00:00] OpenAI Codex v0.46.0 (research preview)",
        "--------",
        '{"type":"session.configured","model":"gpt-5-codex"}',
        '{"type":"item.completed","item":',
        '{"type":"item.completed","item":{"id":"item_0","type":"hologram","payload":1}}',
        '{"type":"item.completed","item":"nope"}',
      ]),
    );
    expect(p.result).toMatchObject({ ok: true, outputs: { result: "Wrote NOTES.md." } });
  });

  test("a crash midway leaves no result", () => {
    const p = codexParser();
    run(p, stdoutLines("codex", "crash"));
    expect(p.result).toBeNull();
  });
});

describe("gemini stream-json", () => {
  test("a successful session: chunks joined into one line, tools, tool errors, warnings, stats", () => {
    const p = geminiCliParser();
    const events = run(p, stdoutLines("gemini", "success"));
    expect(events[0]).toEqual({ type: "session", sessionId: "sess-123", model: "gemini-2.5-pro" });
    expect(tools(events)).toEqual([
      "tool: write_file /work/repo/src/login.js",
      "tool: run_shell_command npm test",
      "tool: replace /work/repo/README.md",
    ]);
    expect(logs(events, "info")).toEqual([
      "I'll add the login handler and a test.",
      "Added `login` in src/login.js and noted it in the README.",
      "result: success",
    ]);
    expect(logs(events, "warn")).toEqual([
      'tool error (run_shell_command): Command exited with code 1: npm error Missing script: "test"',
      "gemini: Rate limit reached for gemini-2.5-pro; retrying in 2s",
    ]);
    expect(p.result).toEqual({
      type: "result",
      ok: true,
      reason: undefined,
      outputs: {
        result: "Added `login` in src/login.js and noted it in the README.",
        status: "success",
        usage: { input_tokens: 16890, output_tokens: 1344, total_tokens: 18234 },
        duration_ms: 11874,
        tool_calls: 3,
      },
    });
    // The chunks are logged in order with what came between them.
    const order = events
      .filter((e) => e.type === "log" || e.type === "tool")
      .map((e) => ("message" in e ? e.message : ""));
    expect(order.indexOf("I'll add the login handler and a test.")).toBeLessThan(
      order.indexOf("tool: write_file /work/repo/src/login.js"),
    );
  });

  test("write_file and replace name the file they write (for the conflict radar); other tools name none", () => {
    const events = run(geminiCliParser(), stdoutLines("gemini", "success"));
    expect(written(events)).toEqual([["/work/repo/src/login.js"], ["/work/repo/README.md"]]);
  });

  test("an error result fails with its message", () => {
    const p = geminiCliParser();
    run(p, stdoutLines("gemini", "error"));
    expect(p.result).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^gemini_cli ended with an error: Reached max session turns/),
    });
  });

  test("garbage lines are raw logs", () => {
    const p = geminiCliParser();
    const messages = logs(run(p, stdoutLines("gemini", "garbage")));
    expect(messages).toEqual(
      expect.arrayContaining([
        "Loaded cached credentials.",
        "Data collection is disabled.",
        '{"type":"message","timestamp":"2025-10-10T12:00:01.000Z","role":"system","content":"?"}',
        '{"type":"telemetry","timestamp":"2025-10-10T12:00:01.000Z"}',
        '{"type":"message","role":"assistant","content":"unterminated',
        "null",
        "Wrote NOTES.md.",
      ]),
    );
    expect(p.result).toMatchObject({ ok: true, outputs: { result: "Wrote NOTES.md." } });
  });

  test("a crash midway: the gathered chunk is still logged at the end, no result", () => {
    const p = geminiCliParser();
    const events = run(p, stdoutLines("gemini", "crash"));
    expect(logs(events)).toContain("Writing the handler");
    expect(p.result).toBeNull();
  });
});

describe("any line", () => {
  const parsers = { claude: claudeCodeParser, codex: codexParser, gemini: geminiCliParser };
  test.each(Object.entries(parsers))(
    "%s: never throws; a non-blank line that is not a known event is a raw log",
    (_name, make) => {
      fc.assert(
        fc.property(
          fc.array(
            fc.oneof(
              fc.string({ maxLength: 300 }),
              fc.json({ maxDepth: 4 }),
              fc.jsonValue().map((v) => JSON.stringify({ type: "result", ...((v as object) ?? {}) })),
            ),
          ),
          (lines) => {
            const p = make();
            for (const l of lines) {
              const events = p.line(l);
              expect(Array.isArray(events)).toBe(true);
              if (l.trim() !== "" && !l.trim().startsWith("{")) expect(events.some((e) => e.type === "log")).toBe(true);
            }
            p.end();
          },
        ),
        { numRuns: 300 },
      );
    },
  );
});

describe("outcome and argv", () => {
  const ok = { type: "result" as const, ok: true, outputs: {} };
  const bad = { type: "result" as const, ok: false, reason: "claude_code ended with error_max_turns", outputs: {} };
  test.each([
    ["exit 0 with a good result", { kind: "exit", code: 0 }, ok, { ok: true }],
    [
      "exit 0 without a result",
      { kind: "exit", code: 0 },
      null,
      { ok: false, reason: "claude_code exited without printing a result" },
    ],
    [
      "exit 1 after an error result",
      { kind: "exit", code: 1 },
      bad,
      { ok: false, reason: "claude_code ended with error_max_turns" },
    ],
    [
      "exit 0 with an error result",
      { kind: "exit", code: 0 },
      bad,
      { ok: false, reason: "claude_code ended with error_max_turns" },
    ],
    ["a crash", { kind: "exit", code: 1 }, null, { ok: false, reason: "claude_code process exited with code 1" }],
    [
      "a good result, then a signal",
      { kind: "signal", signal: "SIGKILL" },
      ok,
      { ok: false, reason: "claude_code process killed by SIGKILL" },
    ],
    [
      "not found",
      { kind: "spawn_error", message: "spawn claude ENOENT" },
      null,
      { ok: false, reason: "claude_code process could not start: spawn claude ENOENT" },
    ],
  ] as const)("%s", (_n, exit, result, expected) => {
    expect(cliOutcome("claude_code", exit as never, result)).toEqual(expected);
  });

  test("a result too long to read after exit 0 is a success; a fatal condition wins over everything", () => {
    expect(cliOutcome("claude_code", { kind: "exit", code: 0 }, null, { truncated: true })).toEqual({ ok: true });
    expect(cliOutcome("claude_code", { kind: "exit", code: 1 }, null, { truncated: true })).toEqual({
      ok: false,
      reason: "claude_code process exited with code 1",
    });
    expect(cliOutcome("claude_code", { kind: "stopped" }, null, { fatal: "key refused" })).toEqual({
      ok: false,
      reason: "key refused",
    });
  });

  test("a refused key is fatal (Claude Code's api_retry with 401, Codex's 401 error); other retries are only logged", () => {
    const claude = claudeCodeParser();
    expect(
      claude.line(
        JSON.stringify({
          type: "system",
          subtype: "api_retry",
          attempt: 1,
          max_retries: 10,
          error_status: 529,
          error: "overloaded",
        }),
      ),
    ).toEqual([{ type: "log", level: "warn", message: "model API call failed (529 overloaded), retry 1 of 10" }]);
    expect(claude.fatal).toBeNull();
    claude.line(
      JSON.stringify({
        type: "system",
        subtype: "api_retry",
        attempt: 2,
        max_retries: 10,
        error_status: 401,
        error: "authentication_failed",
      }),
    );
    expect(claude.fatal).toBe(
      "claude_code: the model API refused the credentials (401 authentication_failed); not waiting for its retries",
    );
    const codex = codexParser();
    codex.line(
      JSON.stringify({ type: "error", message: "Reconnecting... 1/5 (stream disconnected before completion)" }),
    );
    expect(codex.fatal).toBeNull();
    codex.line(
      JSON.stringify({
        type: "error",
        message: "Reconnecting... 1/5 (unexpected status 401 Unauthorized: Incorrect API key provided)",
      }),
    );
    expect(codex.fatal).toMatch(
      /^codex: the model API refused the credentials \(Reconnecting\.\.\. 1\/5 \(unexpected status 401 Unauthorized/,
    );
  });

  test("Claude Code's permission_denials: in outputs (tool and a one-line input) and one warn log each", () => {
    const p = claudeCodeParser();
    const events = p.line(
      JSON.stringify({
        type: "result",
        subtype: "success",
        is_error: false,
        result: "ok",
        permission_denials: [
          { tool_name: "Bash", tool_use_id: "t1", tool_input: { command: "git add -A", description: "Stage" } },
          { tool_name: "Write", tool_use_id: "t2", tool_input: { file_path: "/etc/passwd", content: "x" } },
          "not an object",
        ],
      }),
    );
    expect(events.slice(0, 2)).toEqual([
      { type: "log", level: "warn", message: "permission denied: Bash git add -A" },
      { type: "log", level: "warn", message: "permission denied: Write /etc/passwd" },
    ]);
    expect(p.result?.outputs.permission_denials).toEqual([
      { tool_name: "Bash", input: "git add -A" },
      { tool_name: "Write", input: "/etc/passwd" },
    ]);
  });

  test("codex outside a git work tree gets --skip-git-repo-check (it refuses such a directory otherwise), once, before resume", () => {
    const outside = { gitWorkTree: false };
    expect(codexSpec.argv("P", [], null, outside)).toEqual(["exec", "--json", "--skip-git-repo-check", "P"]);
    expect(codexSpec.argv("P", ["-s", "workspace-write"], "t-1", outside)).toEqual([
      "exec",
      "--json",
      "--skip-git-repo-check",
      "-s",
      "workspace-write",
      "resume",
      "t-1",
      "P",
    ]);
    expect(codexSpec.argv("P", ["--skip-git-repo-check"], null, outside)).toEqual([
      "exec",
      "--json",
      "--skip-git-repo-check",
      "P",
    ]);
    expect(codexSpec.argv("P", [], null, { gitWorkTree: true })).toEqual(["exec", "--json", "P"]);
    // The other CLIs do not care.
    expect(geminiCliSpec.argv("P", [], null, outside)).toEqual(geminiCliSpec.argv("P", [], null));
    expect(claudeCodeSpec.argv("P", [], null, outside)).toEqual(claudeCodeSpec.argv("P", [], null));

    const root = fs.mkdtempSync(path.join(os.tmpdir(), "mc-gitcheck-"));
    try {
      fs.mkdirSync(path.join(root, "plain"));
      fs.mkdirSync(path.join(root, "repo", ".git"), { recursive: true });
      fs.mkdirSync(path.join(root, "repo", "src", "deep"), { recursive: true });
      // A linked worktree has a .git file.
      fs.mkdirSync(path.join(root, "wt"));
      fs.writeFileSync(path.join(root, "wt", ".git"), "gitdir: /elsewhere\n");
      expect(inGitWorkTree(path.join(root, "plain"))).toBe(false);
      expect(inGitWorkTree(path.join(root, "repo", "src", "deep"))).toBe(true);
      expect(inGitWorkTree(path.join(root, "wt"))).toBe(true);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test("each CLI's headless command line, and the one that resumes a session", () => {
    expect(claudeCodeSpec.argv("P", ["--model", "opus"], null)).toEqual([
      "-p",
      "P",
      "--output-format",
      "stream-json",
      "--verbose",
      "--model",
      "opus",
    ]);
    expect(codexSpec.argv("P", ["-s", "workspace-write"], null)).toEqual([
      "exec",
      "--json",
      "-s",
      "workspace-write",
      "P",
    ]);
    expect(geminiCliSpec.argv("P", ["--yolo"], null)).toEqual(["-p", "P", "--output-format", "stream-json", "--yolo"]);
    expect(claudeCodeSpec.argv("P", ["--model", "opus"], "s-1")).toEqual([
      "-p",
      "P",
      "--output-format",
      "stream-json",
      "--verbose",
      "--resume",
      "s-1",
      "--model",
      "opus",
    ]);
    // exec's own flags go before the `resume` subcommand (it has no -s of its own).
    expect(codexSpec.argv("P", ["-s", "workspace-write"], "t-1")).toEqual([
      "exec",
      "--json",
      "-s",
      "workspace-write",
      "resume",
      "t-1",
      "P",
    ]);
    expect(geminiCliSpec.argv("P", ["--yolo"], "g-1")).toEqual([
      "-p",
      "P",
      "--output-format",
      "stream-json",
      "--resume",
      "g-1",
      "--yolo",
    ]);
  });

  test("the session to resume: only this agent's, this adapter's, and an id that cannot pass for an option", () => {
    const ctx = (session: unknown) => ({
      task: { outputs: { session } } as never,
      agent: { agent_id: "a-1" } as never,
    });
    const mine = { session_id: "0f2c-11", agent_id: "a-1", adapter_module: "claude_code" };
    expect(previousSession(ctx(mine), "claude_code")).toBe("0f2c-11");
    const cases: Array<[string, unknown]> = [
      ["none", undefined],
      ["another agent's", { ...mine, agent_id: "a-2" }],
      ["another adapter's", { ...mine, adapter_module: "codex" }],
      ["an option look-alike", { ...mine, session_id: "--dangerously-skip-permissions" }],
      ["spaces", { ...mine, session_id: "a b" }],
      ["not a string", { ...mine, session_id: 5 }],
      ["too long", { ...mine, session_id: "a".repeat(201) }],
      ["not an object", "0f2c-11"],
    ];
    for (const [name, s] of cases) expect(previousSession(ctx(s), "claude_code"), name).toBeNull();
  });

  test("a rerun's prompt carries the reviewer's comment; a resumed session gets the short prompt", () => {
    const base = {
      task: { task_id: "task-1", objective: "Implement login endpoint" } as never,
      mission: { id: 1, mission_id: "m-1", goal: "Build authentication module" },
      requirements: [],
      attempt: 2,
    };
    const review = { comment: "Add a test for the wrong password", by: "member:alice", at: "2026-12-06T00:00:00.000Z" };
    const fresh = buildPrompt({ ...base, review });
    expect(fresh).toMatch(/^You are working on task task-1/);
    expect(fresh).toContain(
      "Your previous work on this task was reviewed and rejected by member:alice.\nThe reviewer's comment:\nAdd a test for the wrong password\nAddress the review.",
    );
    expect(buildPrompt({ ...base, review: null })).not.toContain("rejected");
    const resumed = resumePrompt({ ...base, review });
    expect(resumed).toMatch(/^Mission Control: you are back on task task-1 of mission m-1\.\n/);
    expect(resumed).toContain("The reviewer's comment:\nAdd a test for the wrong password");
    expect(resumed).toContain("Task objective (unchanged):\nImplement login endpoint");
    expect(resumePrompt({ ...base, review: { ...review, comment: null } })).toContain("The reviewer left no comment.");
    expect(resumePrompt({ ...base, review: null })).toContain("whose previous run ended before it was reviewed");
  });

  test("the prompt: objective, mission goal, requirements; bounded; never an option", () => {
    const ctx = {
      task: { task_id: "task-1", objective: "Implement login endpoint" } as never,
      mission: { id: 1, mission_id: "m-1", goal: "Build authentication module" },
      requirements: [
        { requirement_id: "AC-1", title: "Users log in", description: "With a password.\nAnd a second line." },
        { requirement_id: "AC-2", title: "Rate limits", description: null },
      ],
    };
    const prompt = buildPrompt(ctx);
    expect(prompt).toMatch(/^You are working on task task-1 of mission m-1/);
    expect(prompt).toContain("Mission goal:\nBuild authentication module");
    expect(prompt).toContain("Task objective:\nImplement login endpoint");
    expect(prompt).toContain("- AC-1: Users log in\n  With a password.\n  And a second line.\n- AC-2: Rate limits\n");
    const huge = buildPrompt({ ...ctx, task: { task_id: "t", objective: "é\0".repeat(200_000) } as never });
    expect(Buffer.byteLength(huge)).toBeLessThanOrEqual(MAX_PROMPT_BYTES);
    expect(huge).not.toContain("\0");
    const many = buildPrompt({
      ...ctx,
      requirements: Array.from({ length: 100 }, (_, i) => ({
        requirement_id: `R${i}`,
        title: "t",
        description: "d".repeat(4_000),
      })),
    });
    expect(Buffer.byteLength(many)).toBeLessThanOrEqual(MAX_PROMPT_BYTES);
    expect(many.startsWith("You are")).toBe(true);
  });
});

// Transcripts recorded from the real CLIs against the fake model API (test/fixtures/fake-cli/record-real.ts).
describe("recorded from the real CLIs (claude 2.1.197, codex 0.171.0, gemini 0.61.0)", () => {
  const vars = { SESSION_ID: "0e7c2d4a-real", CWD: "/work/wt", PROMPT: "Create hello.txt and say what you did" };

  test("claude: tool use, a refused git add -A in permission_denials, the result", () => {
    const p = claudeCodeParser();
    const events = run(p, stdoutLines("claude", "real-success", vars));
    expect(events[0]).toEqual({ type: "session", sessionId: "0e7c2d4a-real", model: "claude-opus-4-8[1m]" });
    const logs = events
      .filter((e) => e.type === "log" || e.type === "tool")
      .map((e) => (e as { message: string }).message);
    expect(logs).toEqual([
      "tool: Bash echo hello > hello.txt",
      "tool: Bash git add -A",
      "tool error: This command requires approval",
      "Created hello.txt.",
      "permission denied: Bash git add -A",
      expect.stringMatching(/^result: success after 3 turns, \$[\d.]+$/),
    ]);
    expect(p.result).toMatchObject({
      ok: true,
      outputs: {
        result: "Created hello.txt.",
        subtype: "success",
        num_turns: 3,
        permission_denials: [{ tool_name: "Bash", input: "git add -A" }],
      },
    });
    expect(p.fatal).toBeNull();
  });

  test("claude: a refused key (api_retry 401) is fatal at the first retry", () => {
    const p = claudeCodeParser();
    const lines = stdoutLines("claude", "real-unauthorized", vars);
    p.line(lines[0]!);
    expect(p.fatal).toBeNull();
    expect(p.line(lines[1]!)).toEqual([
      { type: "log", level: "warn", message: "model API call failed (401 authentication_failed), retry 1 of 10" },
    ]);
    expect(p.fatal).toMatch(/refused the credentials \(401 authentication_failed\)/);
  });

  test("codex: the command, the message, usage; a refused key is fatal at the first reconnect", () => {
    const p = codexParser();
    const events = run(p, stdoutLines("codex", "real-success", vars));
    expect(events[0]).toEqual({ type: "session", sessionId: "0e7c2d4a-real" });
    const logs = events
      .filter((e) => e.type === "log" || e.type === "tool")
      .map((e) => (e as { message: string }).message);
    expect(logs).toEqual([
      "codex: Model metadata for `fake-model` not found. Defaulting to fallback metadata; this can degrade performance and cause issues.",
      "tool: command $ /bin/bash -lc 'echo hello > hello.txt'",
      "$ /bin/bash -lc 'echo hello > hello.txt' → exit 0",
      "Created hello.txt.",
    ]);
    expect(p.result).toEqual({
      type: "result",
      ok: true,
      outputs: {
        result: "Created hello.txt.",
        usage: { input_tokens: 300, cached_input_tokens: 0, output_tokens: 40 },
        num_turns: 1,
      },
    });
    const bad = codexParser();
    const lines = stdoutLines("codex", "real-unauthorized", vars);
    run(bad, lines.slice(0, 3));
    expect(bad.fatal).toBeNull();
    run(bad, lines.slice(3, 4));
    expect(bad.fatal).toMatch(
      /^codex: the model API refused the credentials \(Reconnecting\.\.\. 1\/5 \(unexpected status 401 Unauthorized/,
    );
  });

  test("gemini: the tool, the joined message, the stats; a refused key is an error result", () => {
    const p = geminiCliParser();
    const events = run(p, stdoutLines("gemini", "real-success", vars));
    expect(events[0]).toEqual({ type: "session", sessionId: "0e7c2d4a-real", model: "gemini-2.5-pro" });
    expect(events.filter((e) => e.type === "tool").map((e) => (e as { message: string }).message)).toEqual([
      "tool: run_shell_command echo hello > hello.txt",
    ]);
    expect(p.result).toMatchObject({
      ok: true,
      outputs: {
        result: "Created hello.txt.",
        status: "success",
        tool_calls: 1,
        usage: { input_tokens: 280, output_tokens: 44, total_tokens: 324 },
      },
    });
    const bad = geminiCliParser();
    run(bad, stdoutLines("gemini", "real-unauthorized", vars));
    expect(bad.result?.ok).toBe(false);
    expect(bad.result?.reason).toMatch(/^gemini_cli ended with an error: .*API key not valid/);
  });
});
