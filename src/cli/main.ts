#!/usr/bin/env node
// `mc`: the command-line client of Mission Control. Exit codes: 0 ok, 1 refused by the API (4xx), 2 usage
// error, 3 server unreachable or 5xx. Errors go to stderr; stdout carries only the answer.
import { CommanderError } from "commander";
import { CliError, EXIT } from "./context.js";
import { buildProgram } from "./program.js";

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
