// Every `mc` command against a real listening server, as a real child process: exit codes, --json output
// parsed and checked, profiles (0600, precedence), usage errors.
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { createTestContext, waitFor, type TestContext } from "../harness.js";
import { freePort } from "../fixtures/server-process.js";
import { migratedDataDir } from "../fixtures/data-dir-template.js";
import { createMission, createTask, putAgentOnMission, uniq } from "../tasks/helpers.js";
import { baseEnv, follow, mc, scratchHome, spawnMc } from "./helpers.js";
import type { Command } from "commander";
import { buildProgram } from "../../src/cli/program.js";

// Each test spawns several real processes; a loaded machine can take a while.
vi.setConfig({ testTimeout: 180_000 });

let t: TestContext;
let home: string;
let env: Record<string, string>;
let agentKey: string;
let agentToken: string;

beforeAll(async () => {
  t = await createTestContext({}, { listen: true });
  home = scratchHome();
  env = baseEnv(home, { MC_URL: t.url!, MC_TOKEN: t.admin });
  agentKey = uniq("cli-agent");
  agentToken = await t.agentToken(agentKey);
});

afterAll(async () => {
  await t?.close();
  fs.rmSync(home, { recursive: true, force: true });
});

const json = (r: { stdout: string }) => JSON.parse(r.stdout);

describe("usage, connection and exit codes", () => {
  test.each([
    [["nope"], /unknown command 'nope'/],
    [["tasks", "reject", "x"], /required option '--comment <text>' not specified/],
    [["missions", "get"], /missing required argument 'mission'/],
    [["missions", "create"], /required option '--goal <text>' not specified/],
    [["tasks", "list", "--limit", "0"], /--limit must be a positive integer/],
    [["policy", "eval", "--action", "nope"], /--action must be JSON/],
    [["policy", "eval", "--action", "[1]"], /--action must be a JSON object/],
    [["tokens", "create", "--role", "root"], /--role must be admin, member or agent/],
    [["completion", "fish"], /unknown shell "fish"/],
    [["tasks", "list", "--bogus"], /unknown option '--bogus'/],
    [["tasks"], /Usage: mc tasks/],
    [
      ["missions", "bogus"],
      /^mc: unknown command 'bogus' for mc missions \(its commands: list, get, create, start, pause\)\n$/,
    ],
    [["--url", "not a url", "missions", "list"], /not a URL/],
    [["--profile", "nope", "missions", "list"], /no profile named "nope"/],
  ])("mc %j is a usage error: exit 2", async (args, message) => {
    const r = await mc(args, env);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe("");
  });

  test("an unreachable server is exit 3; a bad token is exit 1 with the API's message", async () => {
    const port = await freePort();
    const [down, bad] = await Promise.all([
      mc(["missions", "list"], { ...env, MC_URL: `http://127.0.0.1:${port}` }),
      mc(["missions", "list"], { ...env, MC_TOKEN: "mc_not_a_token" }),
    ]);
    expect(down.code).toBe(3);
    expect(down.stderr).toMatch(/cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/401: Unauthorized/);
  });

  test("a reader that goes away (mc … | head) ends mc quietly: exit 0, nothing on stderr", async () => {
    const child = spawnMc(["--help"], env);
    child.stdout!.destroy();
    let stderr = "";
    child.stderr!.on("data", (b: Buffer) => (stderr += b.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });

  test("--help everywhere, with an example", async () => {
    const commands = [
      [],
      ["status"],
      ["missions"],
      ["missions", "list"],
      ["missions", "create"],
      ["tasks", "create"],
      ["tasks", "logs"],
      ["tasks", "report"],
      ["agents", "reset"],
      ["events"],
      ["trace", "verify"],
      ["kb", "search"],
      ["policy", "eval"],
      ["tokens", "create"],
      ["hooks", "install", "claude-code"],
      ["mcp"],
      ["serve"],
      ["login"],
      ["completion"],
    ];
    const results = await Promise.all(commands.map((c) => mc([...c, "--help"], env)));
    results.forEach((r, i) => {
      expect(r.code, commands[i]!.join(" ")).toBe(0);
      expect(r.stdout, commands[i]!.join(" ")).toMatch(/Example:\n {2}([A-Z_]+=\S+ )*mc /);
    });
  }, 240_000);

  test("every command's help, walked from the program itself, ends with an example", () => {
    const walk = (c: Command, path: string[]): string[][] => [
      path,
      ...c.commands.flatMap((sub) => walk(sub, [...path, sub.name()])),
    ];
    const program = buildProgram();
    const paths = walk(program, []);
    // The walk reaches the nested commands too (a broken walk would pass vacuously).
    expect(paths.map((p) => p.join(" "))).toEqual(
      expect.arrayContaining(["", "tasks logs", "hooks install claude-code", "tokens list", "kb", "policy"]),
    );
    const missing = paths.filter((p) => {
      let cmd = program;
      for (const name of p) cmd = cmd.commands.find((c) => c.name() === name)!;
      let help = "";
      cmd.configureOutput({ writeOut: (s) => (help += s), writeErr: (s) => (help += s) });
      cmd.outputHelp();
      return !/Example:\n {2}([A-Z_]+=\S+ )*mc /.test(help);
    });
    expect(missing.map((p) => `mc ${p.join(" ")}`.trim())).toEqual([]);
  });

  test("login saves a 0600 profile; precedence is flag > environment > profile", async () => {
    const h = scratchHome();
    const bare = baseEnv(h);
    const login = await mc(["login", "--url", t.url!, "--token", t.member, "--json"], bare);
    expect(login.code, login.stderr).toBe(0);
    const file = path.join(h, ".config", "mission-control", "config.json");
    expect(json(login)).toEqual({ profile: "default", url: t.url, file, current: true });
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(fs.readFileSync(file, "utf8"))).toEqual({
      current: "default",
      profiles: { default: { url: t.url, token: t.member } },
    });

    // A named profile; XDG_CONFIG_HOME is respected.
    const xdg = path.join(h, "xdg");
    const named = await mc(["login", "--profile", "ops", "--url", t.url!, "--token", t.admin], {
      ...bare,
      XDG_CONFIG_HOME: xdg,
    });
    expect(named.code, named.stderr).toBe(0);
    expect(fs.statSync(path.join(xdg, "mission-control", "config.json")).mode & 0o777).toBe(0o600);

    // The profile alone works; the environment beats it; a flag beats the environment.
    const [fromProfile, envWins, flagWins] = await Promise.all([
      mc(["missions", "list", "--json"], bare),
      mc(["missions", "list", "--json"], { ...bare, MC_TOKEN: "mc_bad" }),
      mc(["--token", t.member, "missions", "list", "--json"], { ...bare, MC_TOKEN: "mc_bad" }),
    ]);
    expect(fromProfile.code, fromProfile.stderr).toBe(0);
    expect(Array.isArray(json(fromProfile))).toBe(true);
    expect(envWins.code).toBe(1);
    expect(flagWins.code, flagWins.stderr).toBe(0);

    // A saved token goes only to its own server: --url or MC_URL naming another one does not take it there,
    // nor a run's agent token to a server that is not its run's; a token given by flag goes where it is told.
    const seen: Array<string | null> = [];
    const other = http.createServer((req, res) => {
      seen.push(req.headers.authorization ?? null);
      res.writeHead(401, { "content-type": "application/json" });
      res.end(JSON.stringify({ errors: { detail: "Unauthorized" } }));
    });
    await new Promise<void>((r) => other.listen(0, "127.0.0.1", r));
    const otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    try {
      const runEnv = { MC_API_URL: t.url!, MC_AGENT_TOKEN: "mc_agent_secret" };
      const tries = [
        await mc(["--url", otherUrl, "missions", "list"], bare),
        await mc(["missions", "list"], { ...bare, MC_URL: otherUrl }),
        await mc(["missions", "list"], { ...bare, ...runEnv, MC_URL: otherUrl }),
        await mc(["--url", otherUrl, "--token", "mc_given", "missions", "list"], bare),
      ];
      expect(tries.map((r) => r.code)).toEqual([1, 1, 1, 1]);
      expect(tries[0]!.stderr).toContain("check the token");
      expect(seen).toEqual([null, null, null, "Bearer mc_given"]);
      // Inside a run whose token is held back, the operator's profile (saved for the server MC_URL names) is
      // not used in its place, unless named.
      const inRun = { ...bare, MC_API_URL: otherUrl, MC_AGENT_TOKEN: "mc_agent_secret", MC_URL: t.url! };
      const asAgent = await mc(["missions", "list"], inRun);
      expect(asAgent.code).toBe(1);
      expect(asAgent.stderr).toContain("check the token");
      const named = await mc(["--profile", "default", "missions", "list", "--json"], inRun);
      expect(named.code, named.stderr).toBe(0);
    } finally {
      other.close();
    }
    // The same server written differently (a trailing slash) is the same server.
    const sameServer = await mc(["--url", `${t.url}/`, "missions", "list", "--json"], bare);
    expect(sameServer.code, sameServer.stderr).toBe(0);

    // A token the server refuses is not saved.
    const refused = await mc(["login", "--url", t.url!, "--token", "mc_bad"], baseEnv(scratchHome()));
    expect(refused.code).toBe(1);
    // Without a terminal, login needs its flags.
    const noTty = await mc(["login"], baseEnv(scratchHome()));
    expect(noTty.code).toBe(2);
    expect(noTty.stderr).toMatch(/needs --url and --token/);
  });
});

describe("login at a terminal", () => {
  // util-linux `script` gives mc a pseudo-terminal: the prompts are asked and answered there.
  const hasScript = fs.existsSync("/usr/bin/script");
  test.skipIf(!hasScript)("with no flags, mc login asks for the URL and the token", async () => {
    const h = scratchHome();
    const { spawn } = await import("node:child_process");
    const { NODE, MC_BIN } = await import("../mcp/helpers.js");
    // Asynchronously: the server answering the login check runs in this process.
    const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn("script", ["-q", "-e", "-c", `"${NODE}" "${MC_BIN}" login --profile tty`, "/dev/null"], {
        env: baseEnv(h),
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
      child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
      child.on("close", (status) => resolve({ status, stdout, stderr }));
      child.stdin.end(`${t.url}\n${t.member}\n`);
    });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain("Server URL [http://127.0.0.1:4000]: ");
    expect(r.stdout).toContain("Token: ");
    expect(r.stdout).toContain('saved as profile "tty"');
    expect(r.stdout).toContain("now the current one");
    const file = path.join(h, ".config", "mission-control", "config.json");
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const cfg = JSON.parse(fs.readFileSync(file, "utf8"));
    expect(cfg.profiles.tty).toEqual({ url: t.url, token: t.member });
    expect(cfg.current).toBe("tty");
  });
});

describe("missions and tasks", () => {
  test("missions create, list, get, start, pause", async () => {
    const key = uniq("cli-m");
    const created = await mc(["missions", "create", "--id", key, "--goal", "Ship it", "--json"], env);
    expect(created.code, created.stderr).toBe(0);
    expect(json(created)).toMatchObject({ mission_id: key, goal: "Ship it", status: "planning" });

    const dup = await mc(["missions", "create", "--id", key, "--goal", "again"], env);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/422: mission_id: /);

    const [list, get, table] = await Promise.all([
      mc(["missions", "list", "--status", "planning", "--json"], env),
      mc(["missions", "get", key, "--json"], env),
      mc(["missions", "list"], env),
    ]);
    expect(json(list).map((m: any) => m.mission_id)).toContain(key);
    expect(json(get)).toMatchObject({ mission_id: key, status: "planning" });
    expect(table.stdout).toMatch(/^MISSION_ID\s+STATUS\s+GOAL/);
    expect(table.stdout).toContain(key);
    expect(table.stdout).not.toContain("\u001b[");

    const started = await mc(["missions", "start", key, "--json"], env);
    expect(json(started).status).toBe("active");
    const again = await mc(["missions", "start", key], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^mc: 422: /);
    const paused = await mc(["missions", "pause", key], env);
    expect(paused.code).toBe(0);
    expect(paused.stdout).toBe(`paused mission ${key} (paused)\n`);
    // A 404 names what was not found.
    const [missing, noMission] = await Promise.all([
      mc(["missions", "get", "nope-404"], env),
      mc(["tasks", "create", "--mission", "nope-404", "--objective", "x"], env),
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe("mc: 404: Not Found (/api/missions/nope-404)\n");
    expect(noMission.code).toBe(1);
    expect(noMission.stderr).toBe("mc: 404: Not Found (/api/missions/nope-404/tasks)\n");
  });

  test("tasks create, list, get, report, submit, approve, reject, execute, logs", async () => {
    const mission = (await createMission(t)).mission_id;
    await putAgentOnMission(t, mission, agentKey);
    const created = await mc(
      ["tasks", "create", "--mission", mission, "--objective", "Write docs", "--agent", agentKey, "--json"],
      env,
    );
    expect(created.code, created.stderr).toBe(0);
    const task = json(created);
    expect(task).toMatchObject({ mission_id: mission, objective: "Write docs", agent_id: agentKey, status: "pending" });

    const [list, byMission, get] = await Promise.all([
      mc(["tasks", "list", "--agent", agentKey, "--status", "pending", "--json"], env),
      mc(["tasks", "list", "--mission", mission, "--json"], env),
      mc(["tasks", "get", task.task_id, "--json"], env),
    ]);
    expect(json(list).map((x: any) => x.task_id)).toContain(task.task_id);
    expect(json(byMission).map((x: any) => x.task_id)).toEqual([task.task_id]);
    expect(json(get)).toMatchObject({ task_id: task.task_id, logs: [] });

    // The agent reports with its own token (as a run would: MC_API_URL / MC_AGENT_TOKEN).
    const agentEnv = baseEnv(home, { MC_API_URL: t.url!, MC_AGENT_TOKEN: agentToken });
    const reported = await mc(
      [
        "tasks",
        "report",
        task.task_id,
        "--status",
        "in_progress",
        "--message",
        "started",
        "--outputs",
        '{"n":1}',
        "--json",
      ],
      agentEnv,
    );
    expect(reported.code, reported.stderr).toBe(0);
    expect(json(reported)).toMatchObject({ status: "in_progress", outputs: { n: 1 } });
    const submitted = await mc(
      ["tasks", "submit", task.task_id, "--summary", "Docs written", "--pr-url", "https://example.com/pr/2", "--json"],
      agentEnv,
    );
    expect(json(submitted)).toMatchObject({
      status: "pending_review",
      outputs: { n: 1, summary: "Docs written", pr_url: "https://example.com/pr/2" },
    });
    // An agent token may not approve: the API's 403.
    const forbidden = await mc(["tasks", "approve", task.task_id], agentEnv);
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr).toBe("mc: 403: Forbidden\n");

    const rejected = await mc(["tasks", "reject", task.task_id, "--comment", "more examples", "--json"], env);
    expect(json(rejected).status).toBe("rejected");
    await mc(["tasks", "submit", task.task_id, "--summary", "with examples"], agentEnv).then((r) =>
      expect(r.code).toBe(1),
    ); // rejected → pending_review is illegal
    await mc(["tasks", "report", task.task_id, "--status", "in_progress"], agentEnv);
    await mc(["tasks", "submit", task.task_id, "--summary", "with examples"], agentEnv);
    const approved = await mc(["tasks", "approve", task.task_id, "--comment", "thanks", "--json"], env);
    expect(json(approved).status).toBe("completed");
    const twice = await mc(["tasks", "approve", task.task_id], env);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toBe("mc: 422: status: cannot approve a task that is completed\n");

    const logs = await mc(["tasks", "logs", task.task_id, "--json"], env);
    expect(json(logs).map((l: any) => l.message)).toEqual([
      "started",
      "Submitted for review: Docs written",
      "Submitted for review: with examples",
    ]);
    const text = await mc(["tasks", "logs", task.task_id], env);
    expect(text.stdout).toMatch(/Z started\n/);

    // execute: the mission must be active (the API's 422), then 202 with the dispatch.
    const next = await createTask(t, mission, { agent_id: agentKey });
    const notActive = await mc(["tasks", "execute", next.task_id], env);
    expect(notActive.code).toBe(1);
    expect(notActive.stderr).toMatch(/mission_id: mission is planning, not active/);
    await t.json("POST", `/api/missions/${mission}/start`);
    const executed = await mc(["tasks", "execute", next.task_id, "--json"], env);
    expect(executed.code, executed.stderr).toBe(0);
    expect(json(executed)).toMatchObject({ task_id: next.task_id, agent_id: agentKey });
    await t.json("POST", `/api/missions/${mission}/pause`);
  }, 240_000);

  test("tasks logs --follow prints stored lines, then new ones, and ends when the task completes", async () => {
    const mission = (await createMission(t)).mission_id;
    const task = await createTask(t, mission, { agent_id: agentKey });
    const report = (body: unknown) => t.json("POST", `/api/tasks/${task.task_id}/report`, { token: agentToken, body });
    expect((await report({ status: "in_progress", logs: [{ message: "one" }] })).status).toBe(200);
    const f = follow(["tasks", "logs", task.task_id, "--follow", "--json"], env);
    await waitFor(() => f.lines.length >= 1, 30_000, "the stored line");
    // The stream is open once the stored lines are printed; give it a moment to be subscribed for sure.
    await waitFor(
      async () => {
        await report({ logs: [{ message: `two-${f.lines.length}` }] });
        return f.lines.some((l) => JSON.parse(l).message.startsWith("two-"));
      },
      30_000,
      "a live line",
    );
    await report({ status: "pending_review" });
    await t.json("POST", `/api/tasks/${task.task_id}/approve`, { body: {} });
    expect(await f.exited).toBe(0);
    const messages = f.lines.map((l) => JSON.parse(l).message);
    expect(messages[0]).toBe("one");
    expect(new Set(messages).size).toBe(messages.length);
  });

  test("a list longer than --limit says how to get the next page on stderr, with --json too; the cursor gets it", async () => {
    const mission = (await createMission(t)).mission_id;
    const made: string[] = [];
    for (const n of [1, 2, 3]) made.push((await createTask(t, mission, { objective: `paged ${n}` })).task_id);
    const first = await mc(["tasks", "list", "--mission", mission, "--limit", "2", "--json"], env);
    expect(first.code, first.stderr).toBe(0);
    const cursor = /^more: --cursor (\S+)$/m.exec(first.stderr)?.[1];
    expect(cursor, first.stderr).toBeDefined();
    const [rest, table] = await Promise.all([
      mc(["tasks", "list", "--mission", mission, "--limit", "2", "--cursor", cursor!, "--json"], env),
      mc(["tasks", "list", "--mission", mission, "--limit", "2"], env),
    ]);
    expect(rest.stderr).toBe("");
    expect([...json(first), ...json(rest)].map((x: { task_id: string }) => x.task_id)).toEqual(made);
    expect(table.stderr.trim()).toBe(`more: --cursor ${cursor}`);
  });

  test("tasks logs --follow with an agent's token: the stored lines, then the stream's refusal in one line, exit 1", async () => {
    const mission = (await createMission(t)).mission_id;
    const task = await createTask(t, mission, { agent_id: agentKey });
    const report = (body: unknown) => t.json("POST", `/api/tasks/${task.task_id}/report`, { token: agentToken, body });
    expect((await report({ status: "in_progress", logs: [{ message: "stored line" }] })).status).toBe(200);
    const r = await mc(["tasks", "logs", task.task_id, "--follow"], { ...env, MC_TOKEN: agentToken });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toContain("stored line");
    expect(r.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^mc: 403\b/)]);
  });
});

/** Resolves with the exit code, or with "still running" when the process outlives `ms`. */
const exitWithin = (exited: Promise<number | null>, ms: number) =>
  Promise.race([exited, new Promise<string>((r) => setTimeout(() => r("still running"), ms).unref())]);

describe("agents, events, trace, knowledge, policies, tokens", () => {
  test("agents list, get, reset", async () => {
    const [list, get, missing] = await Promise.all([
      mc(["agents", "list", "--json"], env),
      mc(["agents", "get", agentKey, "--json"], env),
      mc(["agents", "get", "nope-404"], env),
    ]);
    expect(list.code, list.stderr).toBe(0);
    expect(json(list).map((a: any) => a.agent_id)).toContain(agentKey);
    expect(json(get)).toMatchObject({ agent_id: agentKey });
    expect(missing.code).toBe(1);
    await t.json("POST", `/api/agents/${agentKey}/activity`, {
      token: agentToken,
      body: { event: "error", context: { message: "boom" } },
    });
    const reset = await mc(["agents", "reset", agentKey, "--json"], env);
    expect(reset.code, reset.stderr).toBe(0);
    expect(json(reset).status).not.toBe("error");
  });

  test("events --mission streams one JSON object per line", async () => {
    const mission = (await createMission(t)).mission_id;
    const f = follow(["events", "--mission", mission, "--json"], env);
    const seen = await waitFor(
      async () => {
        await createTask(t, mission, { objective: "watched" });
        return f.lines.map((l) => JSON.parse(l)).find((e) => e.event === "task.created");
      },
      30_000,
      "a task.created event",
    );
    expect(seen).toMatchObject({ event: "task.created", mission_id: mission });
    expect(f.lines.every((l) => JSON.parse(l).mission_id === mission)).toBe(true);
    f.child.kill("SIGINT");
    expect(await f.exited).toBe(0);
  });

  // Node's fetch stops passing an abort on to a response's body once its request object is garbage-collected;
  // `mc` collecting every 100 ms (a preloaded fixture) makes that happen at once instead of after a while.
  test("events ends on one SIGINT or SIGTERM however long it has been streaming", async () => {
    const mission = (await createMission(t)).mission_id;
    const gcEnv = {
      ...env,
      NODE_OPTIONS: `--expose-gc --require ${path.resolve("test/fixtures/frequent-gc.cjs")}`,
    };
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      const f = follow(["events", "--mission", mission, "--json"], gcEnv);
      await waitFor(
        async () => {
          await createTask(t, mission, { objective: "watched" });
          return f.lines.some((l) => JSON.parse(l).event === "task.created");
        },
        30_000,
        "a task.created event",
      );
      await new Promise((r) => setTimeout(r, 1_000));
      f.child.kill(signal);
      const code = await exitWithin(f.exited, 10_000);
      if (code === "still running") f.child.kill("SIGKILL");
      expect(code, `${signal}: ${f.stderr()}`).toBe(0);
    }
  });

  test("trace verify, export, replay", async () => {
    const mission = (await createMission(t)).mission_id;
    await createTask(t, mission);
    const [verify, exported, replay, all] = await Promise.all([
      mc(["trace", "verify", "--mission", mission, "--json"], env),
      mc(["trace", "export", "--mission", mission], env),
      mc(["trace", "replay", mission, "--json"], env),
      mc(["trace", "verify"], env),
    ]);
    expect(verify.code, verify.stderr).toBe(0);
    expect(json(verify)).toMatchObject({ valid: true });
    const lines = exported.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.event).slice(0, 2)).toEqual(["mission.created", "task.created"]);
    expect(lines.at(-1)).toMatchObject({ entries: 2 });
    expect(json(replay)).toMatchObject({
      mission: { mission_id: mission, status: "planning" },
      chain_valid: true,
      consistent: true,
    });
    expect(all.code).toBe(0);
    const missing = await mc(["trace", "replay", "nope-404"], env);
    expect(missing.code).toBe(1);
  });

  test("kb search, policy eval", async () => {
    await t.json("POST", "/api/knowledge/documents", {
      body: { title: "Release checklist", content: "Tag, build, publish the release" },
    });
    const [found, table] = await Promise.all([
      mc(["kb", "search", "release checklist", "--limit", "2", "--json"], env),
      mc(["kb", "search", "release checklist", "--limit", "2"], env),
    ]);
    expect(found.code, found.stderr).toBe(0);
    expect(json(found)[0]).toMatchObject({ title: "Release checklist" });
    expect(json(found)[0].snippet).toContain("<mark>");
    // The table shows the snippet as text and the score rounded.
    expect(table.code, table.stderr).toBe(0);
    const row = table.stdout.split("\n").find((l) => l.includes("Release checklist"))!;
    expect(row).toMatch(/\b0\.\d{3}\s+Release checklist\s+Tag, build, publish the release/);
    expect(table.stdout).not.toMatch(/<\/?mark>/);

    await t.json("POST", "/api/policies", {
      body: {
        policy_id: uniq("cli-no-force"),
        scope: "global",
        conditions: { action_type: "git_push", force: true },
        actions: [{ block: "no force push" }],
      },
    });
    const [blocked, allowed] = await Promise.all([
      mc(["policy", "eval", "--action", '{"action_type":"git_push","force":true}', "--json"], env),
      mc(["policy", "eval", "--action", '{"action_type":"git_push","force":false}', "--json"], env),
    ]);
    expect(blocked.code).toBe(1);
    expect(json(blocked)).toMatchObject({ decision: "block", messages: ["no force push"] });
    expect(allowed.code).toBe(0);
    expect(json(allowed).decision).toBe("allow");
  });

  test("tokens create, list, revoke (admin only)", async () => {
    const created = await mc(["tokens", "create", "--role", "member", "--name", "cli-made", "--json"], env);
    expect(created.code, created.stderr).toBe(0);
    const tok = json(created);
    expect(tok).toMatchObject({ role: "member", name: "cli-made", token: expect.stringMatching(/^mc_/) });
    const plain = await mc(["tokens", "create", "--role", "agent", "--agent", agentKey], env);
    expect(plain.stdout).toMatch(/^mc_\S+\n$/);
    const list = await mc(["tokens", "list", "--json", "--limit", "500"], env);
    const row = json(list).find((x: any) => x.id === tok.id);
    expect(row).toMatchObject({ role: "member", name: "cli-made" });
    expect(JSON.stringify(json(list))).not.toContain(tok.token);
    const asMember = await mc(["tokens", "list"], { ...env, MC_TOKEN: tok.token });
    expect(asMember.code).toBe(1);
    expect(asMember.stderr).toBe("mc: 403: Forbidden\n");
    const revoked = await mc(["tokens", "revoke", String(tok.id)], env);
    expect(revoked.code, revoked.stderr).toBe(0);
    const after = await mc(["missions", "list"], { ...env, MC_TOKEN: tok.token });
    expect(after.code).toBe(1);
  });

  test("status", async () => {
    const [admin, agent, none] = await Promise.all([
      mc(["status", "--json"], env),
      mc(["status", "--json"], { ...env, MC_TOKEN: agentToken }),
      mc(["status"], baseEnv(scratchHome(), { MC_URL: t.url! })),
    ]);
    expect(admin.code, admin.stderr).toBe(0);
    expect(json(admin)).toMatchObject({
      url: t.url,
      server: expect.any(String),
      tasks: expect.any(Object),
      missions: expect.any(Object),
      agents: expect.any(Object),
    });
    expect(agent.code, agent.stderr).toBe(0);
    expect(json(agent).missions).toBeUndefined();
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no token/);
  });
});

describe("hooks, completion, serve", () => {
  test("hooks install claude-code merges into an existing settings file, idempotently", async () => {
    const dir = scratchHome();
    const file = path.join(dir, "settings.json");
    fs.writeFileSync(
      file,
      JSON.stringify({ model: "opus", hooks: { Stop: [{ hooks: [{ type: "command", command: "echo mine" }] }] } }),
    );
    const first = await mc(["hooks", "install", "claude-code", "--agent", agentKey, "--file", file], env);
    expect(first.code, first.stderr).toBe(0);
    const once = JSON.parse(fs.readFileSync(file, "utf8"));
    expect(once.model).toBe("opus");
    expect(once.hooks.Stop[0]).toEqual({ hooks: [{ type: "command", command: "echo mine" }] });
    expect(once.hooks.Stop).toHaveLength(2);
    expect(JSON.stringify(once.hooks.PreToolUse)).toContain(`${t.url}/api/hooks/claude-code`);
    await mc(["hooks", "install", "claude-code", "--agent", agentKey, "--file", file], env);
    expect(JSON.parse(fs.readFileSync(file, "utf8"))).toEqual(once);
    // Default file: .claude/settings.json in the working directory.
    const cwdRun = await mc(["hooks", "install", "claude-code", "--agent", agentKey], env, { cwd: dir });
    expect(cwdRun.code, cwdRun.stderr).toBe(0);
    expect(fs.existsSync(path.join(dir, ".claude", "settings.json"))).toBe(true);
    fs.writeFileSync(file, "not json");
    const broken = await mc(["hooks", "install", "claude-code", "--agent", agentKey, "--file", file], env);
    expect(broken.code).toBe(1);
    expect(fs.readFileSync(file, "utf8")).toBe("not json");
    const unknown = await mc(["hooks", "install", "claude-code", "--agent", "nope-404", "--file", file], env);
    expect(unknown.code).toBe(1);
  });

  test("completion bash and zsh name every command and are valid shell", async () => {
    const [bash, zsh] = await Promise.all([mc(["completion", "bash"], env), mc(["completion", "zsh"], env)]);
    expect(bash.code).toBe(0);
    for (const word of [
      "missions",
      "tasks",
      "agents",
      "events",
      "trace",
      "kb",
      "policy",
      "tokens",
      "hooks",
      "mcp",
      "serve",
      "login",
      "approve",
      "--follow",
    ]) {
      expect(bash.stdout).toContain(word);
    }
    const script = path.join(scratchHome(), "mc.bash");
    fs.writeFileSync(script, bash.stdout);
    execFileSync("bash", ["-n", script]);
    // The completion itself: `mc tasks ap<TAB>` offers approve.
    const out = execFileSync("bash", [
      "-c",
      `source ${script}; COMP_WORDS=(mc tasks ap); COMP_CWORD=2; _mc_complete; echo "\${COMPREPLY[@]}"`,
    ]).toString();
    expect(out.trim()).toBe("approve");
    expect(zsh.stdout.startsWith("#compdef mc\n")).toBe(true);
  });

  test("serve runs the server", async () => {
    const port = await freePort();
    // A migrated data directory (shared with the other tests that start servers): this is about `mc serve`
    // running the server, not a first start on a new directory (PGlite's initdb and migrations: ~8.5 s of CPU).
    const dataDir = await migratedDataDir(scratchHome());
    const f = follow(
      ["serve"],
      baseEnv(dataDir, { PORT: String(port), HOST: "127.0.0.1", MC_DATA_DIR: dataDir, LOG_LEVEL: "warn" }),
    );
    try {
      const health = await waitFor(
        async () => {
          try {
            const r = await fetch(`http://127.0.0.1:${port}/healthz`);
            return r.ok ? await r.json() : null;
          } catch {
            return null;
          }
        },
        60_000,
        "mc serve to answer",
      );
      expect(health).toEqual({ status: "ok" });
    } finally {
      f.child.kill("SIGTERM");
      await f.exited;
    }
  }, 120_000);
});
