// mc serve: runs the server in this process, exactly as `mission-control serve` (same configuration from the
// environment: PORT, DATABASE_URL, MC_DATA_DIR, …).
import type { Command } from "commander";

export function serveCommand(program: Command) {
  program
    .command("serve")
    .description("run the Mission Control server (configured by environment variables, see the README)")
    .addHelpText("after", "\nExample:\n  PORT=4000 mc serve")
    .action(async () => {
      process.argv = [process.argv[0]!, process.argv[1]!, "serve"];
      await import("../../main.js");
    });
}
