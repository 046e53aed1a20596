// mc hooks install claude-code --agent ID [--file PATH]: writes the Claude Code hooks settings the server gives
// for the agent, merged into an existing settings file (other settings and other hooks are kept; an earlier
// install for this server is replaced, so installing twice changes nothing).
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import { action, api, CliError, EXIT } from "../context.js";

type Json = Record<string, unknown>;
interface Group {
  matcher?: string;
  hooks?: Array<{ type?: string; url?: string; command?: string }>;
}

/** A group is ours when one of its hooks calls this server's hooks URL. */
function ours(group: Group, url: string): boolean {
  return (group.hooks ?? []).some((h) => h.url === url || (typeof h.command === "string" && h.command.includes(url)));
}

export function mergeHooks(existing: Json, snippet: Json, url: string): Json {
  const merged: Json = { ...existing };
  const hooks: Record<string, Group[]> = { ...((existing.hooks as Record<string, Group[]> | undefined) ?? {}) };
  for (const [event, groups] of Object.entries((snippet.hooks as Record<string, Group[]> | undefined) ?? {})) {
    const kept = (Array.isArray(hooks[event]) ? hooks[event] : []).filter((g) => !ours(g, url));
    hooks[event] = [...kept, ...groups];
  }
  merged.hooks = hooks;
  for (const [k, v] of Object.entries(snippet)) if (k !== "hooks" && !(k in merged)) merged[k] = v;
  return merged;
}

export function hooksCommand(program: Command) {
  const example = "\nExample:\n  mc hooks install claude-code --agent claude-1";
  const hooks = program.command("hooks").description("wire coding agents to Mission Control");
  hooks.addHelpText("after", example);
  const install = hooks.command("install").description("install hooks settings for a coding agent");
  install.addHelpText("after", example);
  install
    .command("claude-code")
    .description("write Claude Code hooks that report this agent's activity (merged into the settings file)")
    .requiredOption("--agent <agent>", "the agent (id or key) the hooks report as")
    .option("--file <path>", "settings file to merge into", path.join(".claude", "settings.json"))
    .addHelpText(
      "after",
      "\nExample:\n  mc hooks install claude-code --agent claude-1\n  mc hooks install claude-code --agent claude-1 --file ~/.claude/settings.json\n" +
        "\nClaude Code then needs MC_AGENT_TOKEN (an agent token for this agent) in its environment.",
    )
    .action(
      action(async ({ conn, out }, o: { agent: string; file: string }) => {
        const r = await api<{ data: { url: string; settings: Json; instructions: string; token_env: string } }>(
          conn.client.GET("/api/agents/{agent_id}/hooks/claude-code", { params: { path: { agent_id: o.agent } } }),
          conn,
        );
        let existing: Json = {};
        try {
          const text = await readFile(o.file, "utf8");
          const parsed: unknown = text.trim() === "" ? {} : JSON.parse(text);
          if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
          existing = parsed as Json;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
            throw new CliError(
              `${o.file} is not a JSON object (${(err as Error).message}); not touching it`,
              EXIT.refused,
            );
          }
        }
        const merged = mergeHooks(existing, r.data.settings, r.data.url);
        await mkdir(path.dirname(path.resolve(o.file)), { recursive: true });
        const tmp = `${o.file}.${process.pid}.tmp`;
        await writeFile(tmp, `${JSON.stringify(merged, null, 2)}\n`);
        await rename(tmp, o.file);
        if (out.json) return out.data({ file: path.resolve(o.file), settings: merged });
        out.text(`wrote Claude Code hooks for ${o.agent} to ${o.file}`);
        out.note(
          `Claude Code reads the agent token from ${r.data.token_env}: export ${r.data.token_env}=<an agent token for ${o.agent}>`,
        );
      }),
    );
}
