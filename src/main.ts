#!/usr/bin/env node
// Command-line entry: `serve` (default), `migrate`, `token create|list|revoke`.
import { parseArgs } from "node:util";
import { buildApp } from "./app.js";
import { ConfigError, loadConfig, type Config } from "./config.js";
import { openDatabase, type Database } from "./db/client.js";
import { runMigrations } from "./db/migrate.js";
import { createLogger } from "./logger.js";
import { createTokensService } from "./tokens/tokens.service.js";
import type { Role } from "./http/auth.js";
import { AppError } from "./http/errors.js";

async function open(config: Config): Promise<Database> {
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    pgliteThread: config.pgliteWorker,
  });
  await runMigrations(database);
  return database;
}

async function serve(config: Config) {
  const logger = createLogger(config.logLevel);
  const database = await open(config);
  const tokens = createTokensService({ database, adminToken: config.adminToken });
  const secret = await tokens.ensureBootstrapAdmin(config.dataDir);
  if (secret) {
    // Printed once, straight to the terminal, never through the logger.
    process.stdout.write(
      `\nCreated the first admin token (also saved to ${config.dataDir}/admin-token, mode 0600):\n\n  ${secret}\n\n`,
    );
  }
  const app = await buildApp({ config, database, logger });
  await app.listen({ host: config.host, port: config.port });

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

async function token(config: Config, args: string[]) {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    options: { role: { type: "string" }, name: { type: "string" }, agent: { type: "string" } },
    allowPositionals: true,
  });
  const database = await open(config);
  const tokens = createTokensService({ database, adminToken: config.adminToken });
  const cli = { role: "admin" as Role, tokenId: null, name: "cli", agentId: null, agentKey: null, actor: "admin:cli" };
  try {
    switch (sub) {
      case "create": {
        const role = (values.role ?? "admin") as Role;
        const agent = values.agent === undefined ? undefined : /^\d+$/.test(values.agent) ? Number(values.agent) : values.agent;
        const t = await tokens.create({ role, name: values.name, agent_id: agent }, cli);
        process.stdout.write(`${t.token}\n`);
        process.stderr.write(`token ${t.id} (${t.role}${t.agent_id ? `, agent ${t.agent_id}` : ""}) created; it is shown only now\n`);
        break;
      }
      case "list": {
        const page = await tokens.list({ limit: 500 });
        for (const t of page.data) process.stdout.write(`${t.id}\t${t.role}\t${t.agent_id ?? "-"}\t${t.name ?? "-"}\n`);
        break;
      }
      case "revoke": {
        await tokens.revoke(positionals[0] ?? "", cli);
        process.stderr.write(`token ${positionals[0]} revoked\n`);
        break;
      }
      default:
        process.stderr.write("usage: mission-control token create --role admin|member|agent [--name N] [--agent ID]\n" +
          "       mission-control token list\n       mission-control token revoke ID\n");
        process.exitCode = 2;
    }
  } finally {
    await database.close();
  }
}

async function main() {
  const [command = "serve", ...args] = process.argv.slice(2);
  const config = loadConfig();
  switch (command) {
    case "serve":
      return serve(config);
    case "migrate": {
      const database = await open(config);
      await database.close();
      process.stderr.write("migrations applied\n");
      return;
    }
    case "token":
      return token(config, args);
    default:
      process.stderr.write(`unknown command "${command}"; use serve, migrate or token\n`);
      process.exit(2);
  }
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  if (err instanceof AppError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
