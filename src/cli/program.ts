// The program `mc` runs: every command, its options, help and examples (main.ts runs it; tests walk it).
import { Command, Option } from "commander";
import { UsageError } from "./context.js";
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
  // A group called without a subcommand shows its help as a usage error; with a word that is none of its
  // subcommands, it says so and names them (commander alone would say "too many arguments").
  for (const c of program.commands) {
    if (c.commands.length === 0) continue;
    c.allowExcessArguments().action((_opts: unknown, cmd: Command) => {
      const [word] = cmd.args;
      if (word === undefined) c.help({ error: true });
      const names = c.commands.map((s) => s.name()).join(", ");
      throw new UsageError(`unknown command '${word}' for mc ${c.name()} (its commands: ${names})`);
    });
  }
  return program;
}
