#!/usr/bin/env node
// `mc`: the command-line client of Mission Control. Exit codes: 0 ok, 1 refused by the API (4xx), 2 usage
// error, 3 server unreachable or 5xx. Errors go to stderr; stdout carries only the answer.
import { Command, CommanderError, Option } from "commander";
import { CliError, EXIT } from "./context.js";
import { agentsCommand } from "./commands/agents.js";
import { completionCommand } from "./commands/completion.js";
import { hooksCommand } from "./commands/hooks.js";
import { loginCommand } from "./commands/login.js";
import { mcpCommand } from "./commands/mcp.js";
import { missionsCommand } from "./commands/missions.js";
import { eventsCommand, kbCommand, policyCommand, statusCommand, traceCommand, tokensCommand } from "./commands/ops.js";
import { serveCommand } from "./commands/serve.js";
import { tasksCommand } from "./commands/tasks.js";

export function buildProgram(): Command {
  const program = new Command("mc")
    .description("Mission Control from the command line")
    .version("0.1.0")
    .addOption(new Option("--url <url>", "server URL (env MC_URL; default http://127.0.0.1:4000)"))
    .addOption(new Option("--token <token>", "API token (env MC_TOKEN)"))
    .addOption(new Option("--profile <name>", "a profile saved by mc login (env MC_PROFILE)"))
    .option("--json", "print the API's data as JSON (lists as an array, streams one object per line)")
    .option("--no-color", "no colours even on a terminal")
    .showSuggestionAfterError()
    .addHelpText(
      "after",
      "\nConnection: flag > environment (MC_URL, MC_TOKEN) > profile (mc login).\n" +
        "Exit codes: 0 ok, 1 refused by the API, 2 usage error, 3 server unreachable or failing.\n" +
        "\nExample:\n  mc login --url http://127.0.0.1:4000 --token mc_...\n  mc tasks list --status pending_review\n  mc events --mission checkout",
    );
  statusCommand(program);
  missionsCommand(program);
  tasksCommand(program);
  agentsCommand(program);
  eventsCommand(program);
  traceCommand(program);
  kbCommand(program);
  policyCommand(program);
  tokensCommand(program);
  hooksCommand(program);
  mcpCommand(program);
  serveCommand(program);
  loginCommand(program);
  completionCommand(program);
  // Every command: usage errors end the program with exit 2 rather than commander's 1.
  const override = (c: Command) => {
    c.exitOverride();
    c.configureOutput({ writeErr: (s) => process.stderr.write(s) });
    c.commands.forEach(override);
  };
  override(program);
  // A group called without a subcommand shows its help as a usage error.
  for (const c of program.commands) {
    if (c.commands.length > 0) c.action(() => c.help({ error: true }));
  }
  return program;
}

export async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end with 0; a group without its subcommand shows its help as a usage error.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (err instanceof CliError) {
      process.stderr.write(`mc: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`mc: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT.unreachable;
  }
}

// A reader that went away (`mc events | head`) ends the output, not with a crash: mc stops quietly.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code !== "EPIPE") throw err;
  process.exit(typeof process.exitCode === "number" ? process.exitCode : EXIT.ok);
});

// Long-running commands (events, mcp, serve) keep the process alive on their own; the rest end with their code.
const code = await run(process.argv);
if (code !== EXIT.ok || process.exitCode === undefined) process.exitCode = code;
