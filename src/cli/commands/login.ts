// mc login: checks a URL and token against the server and saves them as a profile (mode 0600).
import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import { createClient } from "../../client/index.js";
import { api, configPath, DEFAULT_URL, globals, output, saveProfile, UsageError, type Connection } from "../context.js";

async function ask(url: string | undefined, token: string | undefined): Promise<{ url: string; token: string }> {
  if (url !== undefined && token !== undefined) return { url, token };
  if (!process.stdin.isTTY) throw new UsageError("mc login needs --url and --token when not at a terminal");
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  // Lines are read through one iterator, so answers typed (or pasted) ahead of their question are kept.
  const lines = rl[Symbol.asyncIterator]();
  const question = async (prompt: string) => {
    process.stderr.write(prompt);
    const r = await lines.next();
    if (r.done) throw new UsageError("login cancelled");
    return String(r.value).trim();
  };
  try {
    const u = url ?? ((await question(`Server URL [${DEFAULT_URL}]: `)) || DEFAULT_URL);
    const t = token ?? (await question("Token: "));
    if (t === "") throw new UsageError("a token is required");
    return { url: u, token: t };
  } finally {
    rl.close();
  }
}

export function loginCommand(program: Command) {
  program
    .command("login")
    .description(
      "check a server URL and token, and save them as a profile (~/.config/mission-control/config.json, mode 0600)",
    )
    .addHelpText(
      "after",
      "\nExample:\n  mc login --url http://127.0.0.1:4000 --token mc_...\n  mc login --profile prod   (asks for the URL and token)",
    )
    .action(async (_o: unknown, cmd: Command) => {
      // Here --url/--token are what to save: they are read as given, not from the environment or a profile.
      const g = globals(cmd);
      const out = output(g);
      const { url, token } = await ask(g.url, g.token);
      try {
        new URL(url);
      } catch {
        throw new UsageError(`not a URL: ${url}`);
      }
      const conn: Connection = { url, token, client: createClient({ baseUrl: url, token }) };
      // Every role may list tasks: a 2xx proves the server answers and accepts the token.
      await api(conn.client.GET("/api/tasks", { params: { query: { limit: 1 } } }), conn);
      const name = g.profile ?? "default";
      const file = configPath();
      await saveProfile(name, { url, token }, file);
      // Saving makes it the current profile: said, since every later plain `mc …` now runs with this token.
      if (out.json) out.data({ profile: name, url, file, current: true });
      else {
        out.text(
          `logged in to ${url}; saved as profile "${name}" in ${file}, now the current one ` +
            `(another: mc --profile <name> …, or mc login --profile <name> again)`,
        );
      }
    });
}
