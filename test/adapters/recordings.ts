// The recorded streams of test/fixtures/fake-cli as the lines the CLI prints on stdout, for the parser tests
// (the end-to-end tests run the fake executables themselves).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const fakeCliDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/fake-cli");

export function stdoutLines(
  cli: "claude" | "codex" | "gemini",
  scenario: string,
  vars: Record<string, string> = {},
): string[] {
  const all = {
    SESSION_ID: "sess-123",
    CWD: "/work/repo",
    PROMPT: "Do the thing",
    PROMPT_HEAD: "Do the thing",
    ...vars,
  };
  const fill = (v: unknown): unknown =>
    typeof v === "string"
      ? v.replace(/\{\{(\w+)\}\}/g, (m, k: string) => all[k as keyof typeof all] ?? m)
      : Array.isArray(v)
        ? v.map(fill)
        : v && typeof v === "object"
          ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x)]))
          : v;
  const out: string[] = [];
  for (const line of fs
    .readFileSync(path.join(fakeCliDir, "recordings", cli, `${scenario}.jsonl`), "utf8")
    .split("\n")) {
    if (line.trim() === "") continue;
    const e = fill(JSON.parse(line)) as Record<string, unknown>;
    if (e.$fake === undefined) out.push(JSON.stringify(e));
    else if (e.$fake === "raw")
      out.push(typeof e.repeat === "number" ? String(e.text).repeat(e.repeat) : String(e.text));
  }
  return out;
}
