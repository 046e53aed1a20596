// The server's own command line as a process: help, the offline token command (argument checks like the
// API's, exit 2 for usage errors without touching the data directory, exit 1 for refusals) and start-up
// failures said in one line (a port in use, a missing database, PostgreSQL not running, a bad MC_PUBLIC_URL).
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, test, vi } from "vitest";
import { migratedDataDir } from "../fixtures/data-dir-template.js";
import { call, freePort, runCli, scratchDirs, startServer } from "../fixtures/server-process.js";

vi.setConfig({ testTimeout: 600_000 });
/** A server start on a machine busy with other test files can take a minute. */
const START_TIMEOUT_MS = 240_000;

const scratch = scratchDirs("mc-cli-");
const tmpDir = scratch.make;
afterAll(scratch.cleanup);

const ADMIN = "cli-test-admin-token-0123456789";

describe("help", () => {
  test.each([["--help"], ["-h"], ["help"]])("%s prints the usage, exit 0", async (arg) => {
    const r = await runCli([arg], { MC_DATA_DIR: path.join(tmpDir(), "never") });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^usage: mission-control \[serve \| migrate \| token … \| help\]\n/);
    for (const word of ["serve", "migrate", "token create --role admin|member|agent", "token list", "token revoke ID"])
      expect(r.stdout).toContain(word);
  });

  test("token --help prints the token usage", async () => {
    const r = await runCli(["token", "--help"], {});
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout).toMatch(/^usage: mission-control token create/);
  });

  test("an unknown command is a usage error in one line, exit 2", async () => {
    const r = await runCli(["frobnicate"], {});
    expect(r).toEqual({
      code: 2,
      stdout: "",
      stderr: 'unknown command "frobnicate"; use serve, migrate, token or help\n',
    });
  });
});

describe("offline token command: usage errors (exit 2, one line, nothing opened)", () => {
  const cases: Array<[string[], string]> = [
    [["token"], "token needs a command: create, list or revoke"],
    [["token", "mint"], 'unknown token command "mint"; use create, list or revoke'],
    [["token", "create"], "token create needs --role admin|member|agent"],
    [["token", "create", "--name", "x"], "token create needs --role admin|member|agent"],
    [["token", "create", "--role", "superuser"], '--role must be one of admin, member, agent (got "superuser")'],
    [["token", "create", "--role", "ADMIN"], '--role must be one of admin, member, agent (got "ADMIN")'],
    [["token", "create", "--role", "agent"], "--role agent needs --agent <agent id or key>"],
    [["token", "create", "--role", "member", "--agent", "claude-1"], "--agent is only allowed with --role agent"],
    [
      ["token", "create", "--role", "agent", "--agent", "bad key!"],
      '--agent must be an agent\'s id or key (got "bad key!")',
    ],
    [["token", "create", "--role", "agent", "--agent", "0"], '--agent must be an agent\'s id or key (got "0")'],
    [["token", "create", "--role", "member", "--name", ""], '--name must be 1 to 200 characters (got "")'],
    [
      ["token", "create", "--role", "member", "--name", "n".repeat(201)],
      `--name must be 1 to 200 characters (got "${"n".repeat(201)}")`,
    ],
    [["token", "create", "--role", "member", "extra"], 'token create takes no argument "extra"'],
    [["token", "create", "--rol", "member"], "token create: Unknown option '--rol'"],
    [["token", "create", "--role"], "token create: Option '--role <value>' argument missing"],
    [["token", "list", "--role", "admin"], "token list takes no --role"],
    [["token", "list", "x"], 'token list takes no argument "x"'],
    [["token", "revoke"], "token revoke needs exactly one token id"],
    [["token", "revoke", "1", "2"], "token revoke needs exactly one token id"],
    [["token", "revoke", "abc"], 'token revoke: "abc" is not a token id'],
    [["token", "revoke", "0"], 'token revoke: "0" is not a token id'],
    [["serve", "--port", "1"], 'serve takes no arguments (got "--port"); it is configured by environment variables'],
    [["migrate", "now"], 'migrate takes no arguments (got "now")'],
  ];
  test.each(cases)("%j", async (args, message) => {
    const dataDir = path.join(tmpDir(), "data");
    const r = await runCli(args, { MC_DATA_DIR: dataDir });
    expect(r).toEqual({ code: 2, stdout: "", stderr: `${message}\n` });
    expect(fs.existsSync(dataDir)).toBe(false);
  });
});

describe("offline token command on a stopped server's directory", () => {
  test("agent tokens for an existing agent; an unknown agent or token is refused with exit 1; the results hold on the next start", async () => {
    const dataDir = await migratedDataDir(tmpDir());
    const env = { MC_DATA_DIR: dataDir, MC_ADMIN_TOKEN: ADMIN };
    const s = await startServer(env, START_TIMEOUT_MS);
    try {
      expect(
        (await call(`${s.url}/api/agents`, ADMIN, "POST", { agent: { agent_id: "claude-1", name: "Claude" } })).status,
      ).toBe(201);
    } finally {
      expect(await s.stop()).toBe(0);
    }

    const agent = await runCli(["token", "create", "--role", "agent", "--agent", "claude-1", "--name", "ci"], env);
    expect(agent.code).toBe(0);
    const secret = agent.stdout.trim();
    expect(agent.stdout).toMatch(/^mc_[A-Za-z0-9_-]{43}\n$/);
    expect(agent.stderr).toMatch(/^token (\d+) \(agent, agent claude-1\) created; it is shown only now\n$/);
    const id = Number(/^token (\d+)/.exec(agent.stderr)![1]);

    const member = await runCli(["token", "create", "--role", "member"], env);
    expect(member.code).toBe(0);
    const memberId = Number(/^token (\d+)/.exec(member.stderr)![1]);

    expect(await runCli(["token", "create", "--role", "agent", "--agent", "nobody"], env)).toEqual({
      code: 1,
      stdout: "",
      stderr: "--agent nobody: does not exist\n",
    });
    expect(await runCli(["token", "revoke", "999999"], env)).toEqual({
      code: 1,
      stdout: "",
      stderr: "token 999999 does not exist or is already revoked\n",
    });

    const list = await runCli(["token", "list"], env);
    expect(list.code).toBe(0);
    expect(list.stdout.split("\n")).toEqual(
      expect.arrayContaining([`${id}\tagent\tclaude-1\tci`, `${memberId}\tmember\t-\t-`]),
    );

    expect(await runCli(["token", "revoke", String(memberId)], env)).toEqual({
      code: 0,
      stdout: "",
      stderr: `token ${memberId} revoked\n`,
    });
    expect(await runCli(["token", "revoke", String(memberId)], env)).toMatchObject({ code: 1 });

    const again = await startServer(env, START_TIMEOUT_MS);
    try {
      expect((await call(`${again.url}/api/agents/claude-1`, secret)).status).toBe(200);
      expect((await call(`${again.url}/api/missions`, member.stdout.trim())).status).toBe(401);
      const trace = (await call(`${again.url}/api/trace?event=token.created&limit=500`, ADMIN)).body.data;
      expect(trace.filter((e: any) => e.actor === "admin:cli").map((e: any) => e.data.token_id)).toEqual(
        expect.arrayContaining([id, memberId]),
      );
    } finally {
      await again.stop();
    }
  });
});

describe("start-up failures in one line, exit 1", () => {
  test("a port in use: one line, and the first admin token is not used up", async () => {
    // An empty database (migrated, never started), as on a first start.
    const dataDir = await migratedDataDir(tmpDir());
    const blocker = net.createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, "127.0.0.1", resolve));
    try {
      const r = await runCli(["serve"], { MC_DATA_DIR: dataDir, HOST: "127.0.0.1", PORT: String(port) });
      expect(r).toEqual({
        code: 1,
        stdout: "",
        stderr: `port ${port} on 127.0.0.1 is already in use; stop what listens there or set PORT\n`,
      });
      expect(fs.existsSync(path.join(dataDir, "admin-token"))).toBe(false);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
    // The directory is free again and the next start still makes (and prints) the first token.
    const s = await startServer({ MC_DATA_DIR: dataDir }, START_TIMEOUT_MS);
    try {
      const token = fs.readFileSync(path.join(dataDir, "admin-token"), "utf8").trim();
      expect(s.output()).toContain(token);
      expect((await call(`${s.url}/api/tokens`, token)).status).toBe(200);
    } finally {
      await s.stop();
    }
  });

  test("PostgreSQL not running", async () => {
    const r = await runCli(["serve"], {
      DATABASE_URL: "postgres://postgres@127.0.0.1:1/mc",
      MC_DATA_DIR: tmpDir(),
      PORT: "0",
    });
    expect(r).toEqual({
      code: 1,
      stdout: "",
      stderr: "cannot connect to PostgreSQL at 127.0.0.1:1 (connection refused); is it running?\n",
    });
  });

  test("MC_PUBLIC_URL without a scheme", async () => {
    const r = await runCli(["serve"], { MC_PUBLIC_URL: "localhost:4000", MC_DATA_DIR: tmpDir(), PORT: "0" });
    expect(r).toEqual({
      code: 1,
      stdout: "",
      stderr:
        'Invalid configuration: MC_PUBLIC_URL must be an absolute http:// or https:// URL (got "localhost:4000")\n',
    });
  });

  test.runIf(!!process.env.TEST_DATABASE_URL)("DATABASE_URL naming a database that does not exist", async () => {
    const name = `nu_mc_${randomBytes(4).toString("hex")}`;
    const u = new URL(process.env.TEST_DATABASE_URL!);
    u.pathname = `/${name}`;
    for (const args of [["serve"], ["migrate"], ["token", "list"]]) {
      const r = await runCli(args, { DATABASE_URL: u.toString(), MC_DATA_DIR: tmpDir(), PORT: "0" });
      expect(r, args.join(" ")).toEqual({
        code: 1,
        stdout: "",
        stderr: `database ${name} does not exist; create it with createdb ${name}\n`,
      });
    }
  });
});
