// The README's walkthrough works as written (issue 23, item 8): every ```sh block marked `<!-- walkthrough -->`
// is run, in order, by bash against a real server process on a scratch data directory, with the MC_URL and
// MC_TOKEN the README tells the reader to export (the token the server saved on its first start).
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { migratedDataDir } from "./fixtures/data-dir-template.js";
import { startServer, type ServerProcess } from "./fixtures/server-process.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** The marked blocks of the README, in order. */
export function walkthroughBlocks(readme: string): string[] {
  const blocks: string[] = [];
  const re = /<!-- walkthrough -->\n```sh\n([\s\S]*?)\n```/g;
  for (let m = re.exec(readme); m; m = re.exec(readme)) blocks.push(m[1]!);
  return blocks;
}

function has(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

// curl and jq are what the README asks a reader to have; without them there is nothing to run.
const tools = has("curl") && has("jq") && has("bash");

describe.skipIf(!tools)("README walkthrough", () => {
  let server: ServerProcess;
  let dataDir: string;
  beforeAll(async () => {
    // An empty database (migrated, never started): the first start makes the admin token the README exports.
    dataDir = await migratedDataDir(fs.mkdtempSync(path.join(os.tmpdir(), "mc-walkthrough-")));
    server = await startServer({ MC_DATA_DIR: dataDir });
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test("the marked blocks are there: the walkthrough and a section per feature", () => {
    const blocks = walkthroughBlocks(fs.readFileSync(path.join(root, "README.md"), "utf8"));
    expect(blocks.length).toBeGreaterThanOrEqual(5);
    expect(blocks[0]).toContain("/api/tasks/hello-1/approve");
  });

  test("pasted top to bottom, every command works and the task goes from execute to approved, traced", async () => {
    const blocks = walkthroughBlocks(fs.readFileSync(path.join(root, "README.md"), "utf8"));
    const script = ["set -euo pipefail", ...blocks].join("\n");
    const token = fs.readFileSync(path.join(dataDir, "admin-token"), "utf8").trim();
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
      (resolve) => {
        const p = spawn("bash", ["-c", script], {
          cwd: os.tmpdir(),
          env: { PATH: process.env.PATH ?? "", HOME: os.tmpdir(), MC_URL: server.url, MC_TOKEN: token },
          stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "";
        let err = "";
        p.stdout.on("data", (d: Buffer) => (out += d.toString()));
        p.stderr.on("data", (d: Buffer) => (err += d.toString()));
        // "close": after the last of the output is read (exit can come first on a busy machine).
        p.on("close", (c) => resolve({ code: c, stdout: out, stderr: err }));
      },
    );
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    const lines = stdout.trim().split("\n");
    // No command answered with an error.
    expect(lines.filter((l) => l.includes('"errors"'))).toEqual([]);
    for (const expected of [
      '{"agent_id":"hello-agent","adapter_module":"command","warnings":[]}',
      '{"mission_id":"demo","status":"active"}',
      '{"id":1,"status":"queued"}',
      '{"status":"pending_review","logs":["working on hello-1: Greet the team","done"]}',
      '{"task_id":"hello-1","status":"completed"}',
      '{"document_id":"adr-001","title":"ADR 1: PostgreSQL for storage","score":',
      '{"kr_id":"KR2","progress":50}',
      '{"progress":37.5,"key_results":[{"kr_id":"KR1","progress":25},{"kr_id":"KR2","progress":50}]}',
      '{"total_tasks":2,"linked_tasks":1,"task_coverage_pct":50}',
      '{"status":"active","task_counts":{"pending":1,',
      '{"decision":"require_approval","messages":["Production deploys need a person"]}',
      '{"decision":"block","messages":["Never force-push"]}',
    ]) {
      expect(
        lines.some((l) => l.startsWith(expected)),
        `a line starting ${expected} in:\n${stdout}`,
      ).toBe(true);
    }
    const verify = lines.find((l) => l.startsWith('{"valid":'));
    expect(JSON.parse(verify!)).toMatchObject({ valid: true, first_bad_id: null });
    // The trace lists the whole story in order.
    const events = lines.filter((l) => /^\d+ [a-z_]+\.[a-z_]+ /.test(l)).map((l) => l.split(" ")[1]);
    expect(events[0]).toBe("mission.created");
    expect(events).toEqual(expect.arrayContaining(["task.dispatched", "task.status_changed", "task.logged"]));
    expect(events.at(-1)).toBe("task.status_changed");
  }, 180_000);
});
