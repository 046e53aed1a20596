// Lints the server's OpenAPI document with Redocly's recommended rules and fails on any error or warning:
// the document is the contract generated clients are built from. `npm test` runs it through
// scripts/check-openapi.ts, with the typed-client check, on one build of the document.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Lints `doc`; prints the outcome and returns whether it is clean. */
export function lintOpenApi(doc: Record<string, unknown>): boolean {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mc-openapi-"));
  const file = path.join(dir, "openapi.json");
  try {
    fs.writeFileSync(file, JSON.stringify(doc, null, 2));
    const run = spawnSync(
      path.join(root, "node_modules/.bin/redocly"),
      ["lint", file, "--extends", "recommended", "--format", "stylish", "--max-problems", "1000"],
      { encoding: "utf8", env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" } },
    );
    const out = `${run.stdout}\n${run.stderr}`;
    const problems = out.split("\n").filter((l) => /^\s*\d+:\d+\s+(error|warning)\s/.test(l));
    if (run.status !== 0 || problems.length > 0) {
      console.error(out.replaceAll(file, "openapi.json"));
      console.error(`OpenAPI lint: ${problems.length} problem(s) (errors and warnings both fail)`);
      return false;
    }
    console.log("OpenAPI lint: 0 errors, 0 warnings (Redocly recommended rules)");
    return true;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
