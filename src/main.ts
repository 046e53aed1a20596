#!/usr/bin/env node
// Command-line entry: `serve` (default), `migrate`, `token create|list|revoke`, `help`. Every expected
// failure ends with one line on stderr, no stack: exit 2 for a usage error, 1 for anything refused
// (configuration, a data directory in use, a port taken, a missing database, an unknown agent or token).
import net from "node:net";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig, type Config } from "./config.js";
import type { Database } from "./db/client.js";
import { DataDirInUseError } from "./db/data-dir-lock.js";
import { TokenCreate } from "./tokens/tokens.schemas.js";
import type { Principal } from "./core/principal.js";
import { AppError, Invalid, NotFound } from "./core/errors.js";

const TOKEN_USAGE =
  "usage: mission-control token create --role admin|member|agent [--agent ID_OR_KEY] [--name NAME]\n" +
  "       mission-control token list\n" +
  "       mission-control token revoke ID\n";

const USAGE =
  "usage: mission-control [serve | migrate | token … | help]\n\n" +
  "  serve      run the server (the default); configured by environment variables (README: Configuration)\n" +
  "  migrate    apply the database migrations and exit\n" +
  "  token      manage API tokens without a server (a running server's data directory is refused:\n" +
  "             use its API, POST /api/tokens, or mc tokens …)\n" +
  "  help       this text (also --help, -h)\n\n" +
  TOKEN_USAGE;

/** A wrong command line: one line and exit 2. */
class UsageError extends Error {}
/** Something that stops the start (or a command) for a reason the operator can fix: one line and exit 1. */
class Refused extends Error {}

function isHelp(arg: string | undefined): boolean {
  return arg === "help" || arg === "--help" || arg === "-h";
}

/** The database's own refusals, said in one line. Anything else is a bug and keeps its stack. */
function openFailure(err: unknown, config: Config): unknown {
  if (err instanceof DataDirInUseError) return new Refused(err.message);
  const code = (err as { code?: unknown } | null)?.code;
  if (config.databaseUrl === null) return err;
  const u = new URL(config.databaseUrl);
  const where = `${u.hostname || "localhost"}:${u.port || "5432"}`;
  switch (code) {
    case "3D000": {
      const name = decodeURIComponent(u.pathname.replace(/^\//, "")) || decodeURIComponent(u.username) || "postgres";
      const arg = /^[A-Za-z0-9_.-]+$/.test(name) ? name : JSON.stringify(name);
      return new Refused(`database ${name} does not exist; create it with createdb ${arg}`);
    }
    case "ECONNREFUSED":
      return new Refused(`cannot connect to PostgreSQL at ${where} (connection refused); is it running?`);
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new Refused(`cannot connect to PostgreSQL at ${where} (host not found)`);
    case "28P01":
    case "28000":
      return new Refused(`PostgreSQL at ${where} refused the login: ${(err as Error).message}`);
    default:
      return err;
  }
}

// The database, migrations, logger, tokens and ajv are loaded by the commands that use them, not at the top:
// `help` and a usage error need none of them (a process that only prints a line cost ~0.45 s of CPU).
async function open(config: Config): Promise<Database> {
  const [{ openDatabase }, { runMigrations }] = await Promise.all([
    import("./db/client.js"),
    import("./db/migrate.js"),
  ]);
  let database: Database;
  try {
    database = await openDatabase({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      pgliteThread: config.pgliteWorker,
      pgliteSharedBuffersMb: config.pgliteSharedBuffersMb,
    });
  } catch (err) {
    throw openFailure(err, config);
  }
  try {
    // On PostgreSQL the first connection (and so a missing database) shows here.
    await runMigrations(database);
  } catch (err) {
    await database.close().catch(() => {});
    throw openFailure(err, config);
  }
  return database;
}

function listenFailure(err: unknown, config: Config): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  const at = `${config.host}:${config.port}`;
  if (code === "EADDRINUSE")
    return new Refused(`port ${config.port} on ${config.host} is already in use; stop what listens there or set PORT`);
  if (code === "EACCES") return new Refused(`not allowed to listen on ${at}; use a port above 1023 or set PORT`);
  if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND")
    return new Refused(`cannot listen on ${config.host}: not an address of this machine; set HOST`);
  return err;
}

/** Binds the address once and lets it go (port 0 is always free). */
async function portIsFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once("error", reject);
    probe.listen({ host, port, exclusive: true }, resolve);
  });
  await new Promise((resolve) => probe.close(resolve));
}

async function serve(config: Config) {
  const { createLogger } = await import("./logger.js");
  const logger = createLogger(config.logLevel);
  const database = await open(config);
  try {
    // A start that cannot listen must stop before it makes the one-time first admin token. The first token
    // is still made before listening, so a server that answers /readyz has it saved.
    await portIsFree(config.host, config.port);
  } catch (err) {
    await database.close().catch(() => {});
    throw listenFailure(err, config);
  }
  const { createTokensService } = await import("./tokens/tokens.service.js");
  const tokens = createTokensService({ database, adminToken: config.adminToken });
  const secret = await tokens.ensureBootstrapAdmin(config.dataDir);
  if (secret) {
    // Printed once, straight to the terminal, never through the logger.
    process.stdout.write(
      `\nCreated the first admin token (also saved to ${config.dataDir}/admin-token, mode 0600):\n\n  ${secret}\n\n`,
    );
  }
  // Loaded here, not at the top: `help` and the token command need none of the server.
  const { buildApp } = await import("./app.js");
  const app = await buildApp({ config, database, logger });
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    // Taken in the moment since the check.
    await app.close().catch(() => {});
    await database.close().catch(() => {});
    throw listenFailure(err, config);
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    try {
      await app.close(); // stops accepting, waits for in-flight requests, runs onClose hooks
      await database.close();
      process.exit(0);
    } catch (err) {
      logger.error({ err }, "unclean shutdown");
      process.exit(1);
    }
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

type TokenCommand = { sub: "create"; body: TokenCreate } | { sub: "list" } | { sub: "revoke"; id: string };

const TOKEN_OPTIONS = { role: { type: "string" }, name: { type: "string" }, agent: { type: "string" } } as const;

/** Reads a token command line as strictly as POST /api/tokens reads its body; nothing is opened yet. */
async function parseTokenArgs(args: string[]): Promise<TokenCommand> {
  const [sub, ...rest] = args;
  const config = { args: rest, options: TOKEN_OPTIONS, allowPositionals: true, strict: true } as const;
  let parsed: ReturnType<typeof parseArgs<typeof config>>;
  try {
    parsed = parseArgs(config);
  } catch (err) {
    // Node's message goes on with advice about `--` that does not apply here.
    throw new UsageError(`token ${sub ?? ""}: ${(err as Error).message.split(/\.\s|\n/)[0]}`.replace(/\s+:/, ":"));
  }
  const { values, positionals } = parsed;
  const noOptions = (what: string) => {
    const given = Object.keys(values);
    if (given.length > 0) throw new UsageError(`token ${what} takes no --${given[0]}`);
  };
  switch (sub) {
    case "create": {
      if (positionals.length > 0) throw new UsageError(`token create takes no argument "${positionals[0]}"`);
      const roles = (TokenCreate.properties.role as unknown as { enum: string[] }).enum;
      if (values.role === undefined) throw new UsageError(`token create needs --role ${roles.join("|")}`);
      if (!roles.includes(values.role))
        throw new UsageError(`--role must be one of ${roles.join(", ")} (got "${values.role}")`);
      if (values.role === "agent" && values.agent === undefined)
        throw new UsageError("--role agent needs --agent <agent id or key>");
      if (values.role !== "agent" && values.agent !== undefined)
        throw new UsageError("--agent is only allowed with --role agent");
      const body: Record<string, unknown> = { role: values.role };
      if (values.agent !== undefined) body.agent_id = /^\d+$/.test(values.agent) ? Number(values.agent) : values.agent;
      if (values.name !== undefined) body.name = values.name;
      // The API's own schema has the last word (lengths, key syntax).
      const { Ajv } = await import("ajv");
      const validate = new Ajv({ strict: false, allErrors: false }).compile(TokenCreate);
      if (!validate(body)) {
        const where = validate.errors?.[0]?.instancePath ?? "";
        const flag = where.startsWith("/agent_id") ? "agent" : where.startsWith("/name") ? "name" : "role";
        const why =
          flag === "name"
            ? "must be 1 to 200 characters"
            : flag === "agent"
              ? "must be an agent's id or key"
              : validate.errors?.[0]?.message;
        throw new UsageError(`--${flag} ${why} (got ${JSON.stringify(values[flag] ?? "")})`);
      }
      return { sub, body: body as TokenCreate };
    }
    case "list":
      noOptions("list");
      if (positionals.length > 0) throw new UsageError(`token list takes no argument "${positionals[0]}"`);
      return { sub };
    case "revoke": {
      noOptions("revoke");
      if (positionals.length !== 1) throw new UsageError("token revoke needs exactly one token id");
      if (!/^[1-9]\d*$/.test(positionals[0]!))
        throw new UsageError(`token revoke: "${positionals[0]}" is not a token id`);
      return { sub, id: positionals[0]! };
    }
    default:
      throw new UsageError(
        sub === undefined
          ? "token needs a command: create, list or revoke"
          : `unknown token command "${sub}"; use create, list or revoke`,
      );
  }
}

async function token(config: Config, cmd: TokenCommand) {
  const { createTokensService } = await import("./tokens/tokens.service.js");
  const database = await open(config);
  const tokens = createTokensService({ database, adminToken: config.adminToken });
  const cli: Principal = {
    role: "admin",
    tokenId: null,
    name: "cli",
    agentId: null,
    agentKey: null,
    actor: "admin:cli",
  };
  try {
    switch (cmd.sub) {
      case "create": {
        let t: Awaited<ReturnType<typeof tokens.create>>;
        try {
          t = await tokens.create(cmd.body, cli);
        } catch (err) {
          if (err instanceof Invalid && err.fields.agent_id)
            throw new Refused(`--agent ${cmd.body.agent_id}: ${err.fields.agent_id.join(", ")}`);
          throw err;
        }
        process.stdout.write(`${t.token}\n`);
        process.stderr.write(
          `token ${t.id} (${t.role}${t.agent_id ? `, agent ${t.agent_id}` : ""}) created; it is shown only now\n`,
        );
        break;
      }
      case "list": {
        for (let cursor: string | undefined; ;) {
          const page = await tokens.list({ limit: 500, cursor });
          for (const t of page.data)
            process.stdout.write(`${t.id}\t${t.role}\t${t.agent_id ?? "-"}\t${t.name ?? "-"}\n`);
          cursor = page.meta.next_cursor ?? undefined;
          if (!cursor) break;
        }
        break;
      }
      case "revoke": {
        try {
          await tokens.revoke(cmd.id, cli);
        } catch (err) {
          if (err instanceof NotFound) throw new Refused(`token ${cmd.id} does not exist or is already revoked`);
          throw err;
        }
        process.stderr.write(`token ${cmd.id} revoked\n`);
        break;
      }
    }
  } finally {
    await database.close();
  }
}

async function main() {
  const [command = "serve", ...args] = process.argv.slice(2);
  if (isHelp(command)) {
    process.stdout.write(USAGE);
    return;
  }
  switch (command) {
    case "serve":
      if (args.length > 0)
        throw new UsageError(`serve takes no arguments (got "${args[0]}"); it is configured by environment variables`);
      return serve(loadConfig());
    case "migrate": {
      if (args.length > 0) throw new UsageError(`migrate takes no arguments (got "${args[0]}")`);
      const database = await open(loadConfig());
      await database.close();
      process.stderr.write("migrations applied\n");
      return;
    }
    case "token": {
      if (isHelp(args[0])) {
        process.stdout.write(TOKEN_USAGE);
        return;
      }
      const cmd = await parseTokenArgs(args);
      return token(loadConfig(), cmd);
    }
    default:
      throw new UsageError(`unknown command "${command}"; use serve, migrate, token or help`);
  }
}

main().catch((err: unknown) => {
  if (err instanceof UsageError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  if (err instanceof ConfigError || err instanceof Refused || err instanceof AppError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
