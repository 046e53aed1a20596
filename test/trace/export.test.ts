// GET /api/trace/export and the offline check (scripts/verify-trace.mjs): what is exported re-verifies
// without the server, and any change to the file or to the database shows up offline.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { backend, createTestContext, waitFor, type TestContext } from "../harness.js";
import { append, createMission, httpGet, sql, uniq } from "./helpers.js";

const SCRIPT = path.resolve("scripts/verify-trace.mjs");
let t: TestContext;
let dir: string;
beforeAll(async () => {
  t = await createTestContext({}, { listen: true });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "mc-trace-export-"));
});
afterAll(async () => {
  await t.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function offline(lines: string, viaStdin = false): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const file = path.join(dir, `${uniq("export")}.jsonl`);
    fs.writeFileSync(file, lines);
    const child = execFile("node", viaStdin ? [SCRIPT] : [SCRIPT, file], (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
    if (viaStdin) child.stdin!.end(lines);
    else child.stdin!.end();
  });
}

async function exportText(query: Record<string, string> = {}) {
  const r = await t.req("GET", "/api/trace/export", { query });
  expect(r.statusCode, r.body).toBe(200);
  return r.body;
}

async function busyMission() {
  const m = await createMission(t);
  await t.json("POST", `/api/missions/${m.mission_id}/start`);
  const task = await t.json("POST", `/api/missions/${m.mission_id}/tasks`, {
    body: { objective: 'é 😀 "quoted"\nnew line' },
  });
  await t.json("POST", `/api/tasks/${task.body.data.task_id}/report`, {
    body: {
      progress: {
        status: "in_progress",
        outputs: { n: 1.5, big: 12345678901234567000, neg: -0.001, nested: { z: [1, null, "x"] } },
      },
    },
  });
  await t.json("PATCH", `/api/missions/${m.mission_id}`, { body: { metadata: { b: 2, a: { d: 1, c: [] } } } });
  return m;
}

describe("export", () => {
  test("one mission's chain as JSON Lines, with hashes, re-verified offline", async () => {
    const m = await busyMission();
    const r = await t.req("GET", "/api/trace/export", { query: { mission_id: m.mission_id } });
    expect(r.statusCode).toBe(200);
    expect(r.headers["content-type"]).toBe("application/x-ndjson; charset=utf-8");
    expect(r.headers["content-disposition"]).toBe(`attachment; filename="trace-${m.mission_id}.jsonl"`);
    expect(r.body.endsWith("\n")).toBe(true);
    const lines = r.body
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    const summary = lines.pop();
    expect(summary).toEqual({ chain_heads: { [m.mission_id]: lines.at(-1)!.hash }, entries: lines.length });
    const stored = await sql<{ id: number; hash: string }>(
      t,
      "SELECT id, hash FROM trace_entries WHERE mission_id = $1 ORDER BY id",
      [m.mission_id],
    );
    expect(lines.map((l) => l.id)).toEqual(stored.map((s) => Number(s.id)));
    expect(lines.map((l) => l.hash)).toEqual(stored.map((s) => s.hash));
    expect(Object.keys(lines[0]!)).toEqual([
      "id",
      "at",
      "event",
      "actor",
      "mission_id",
      "task_id",
      "agent_id",
      "data",
      "prev_hash",
      "hash",
    ]);
    expect(lines[0]).toMatchObject({ event: "mission.created", mission_id: m.mission_id, prev_hash: "0".repeat(64) });
    expect(lines[0]!.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const ok = await offline(r.body);
    expect(ok).toEqual({ code: 0, stdout: `ok: ${lines.length} entries in 1 chains\n`, stderr: "" });
    expect((await offline(r.body, true)).code).toBe(0);
  });

  test("the whole trace, several chains and more entries than one batch, round-trips", async () => {
    await busyMission();
    await busyMission();
    const m = await createMission(t);
    await append(
      t,
      ...Array.from({ length: 620 }, (_, i) => ({
        ...(i % 2
          ? { event: "mission.updated" as const, data: { changes: { i } } }
          : { event: "agent.activity" as const, data: { event: "session_start", context: { i } } }),
        actor: "admin:test",
        missionId: i % 2 ? m.mission_id : null,
        agentId: i % 2 ? null : "agent-x",
      })),
    );
    const body = await exportText();
    const lines = body.trimEnd().split("\n");
    const summary = JSON.parse(lines.pop()!);
    const total = (await sql<{ n: number }>(t, "SELECT count(*)::int AS n FROM trace_entries"))[0]!.n;
    expect(lines).toHaveLength(total);
    const ids = lines.map((l) => JSON.parse(l).id as number);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    const chains = new Set(lines.map((l) => JSON.parse(l).mission_id ?? ""));
    expect(summary.entries).toBe(total);
    expect(Object.keys(summary.chain_heads).sort()).toEqual([...chains].sort());
    const res = await offline(body);
    expect(res).toEqual({ code: 0, stdout: `ok: ${total} entries in ${chains.size} chains\n`, stderr: "" });
  });

  describe("the offline check catches a changed file", () => {
    let lines: string[];
    beforeAll(async () => {
      const m = await busyMission();
      lines = (await exportText({ mission_id: m.mission_id })).trimEnd().split("\n");
    });
    const mutate = (i: number, f: (e: any) => void) => {
      const copy = [...lines];
      const e = JSON.parse(copy[i]!);
      f(e);
      copy[i] = JSON.stringify(e);
      return copy;
    };
    const cases: Array<[string, () => string[], number]> = [
      ["data edited", () => mutate(2, (e) => (e.data.to = "failed")), 2],
      ["actor edited", () => mutate(1, (e) => (e.actor = "admin:mallory")), 1],
      ["at edited", () => mutate(3, (e) => (e.at = e.at.replace(/\.\d{3}Z$/, ".999Z"))), 3],
      ["a line deleted", () => lines.filter((_, i) => i !== 2), 2],
      ["two lines swapped", () => [lines[0]!, lines[2]!, lines[1]!, ...lines.slice(3)], 1],
      [
        "key order changed (harmless)",
        () => mutate(1, (e) => Object.assign(e, { data: Object.fromEntries(Object.entries(e.data).reverse()) })),
        -1,
      ],
    ];
    test.each(cases)("%s", async (_name, make, badIndex) => {
      const changed = make();
      const res = await offline(`${changed.join("\n")}\n`);
      if (badIndex < 0) {
        expect(res.code).toBe(0);
        return;
      }
      expect(res.code).toBe(1);
      expect(res.stderr).toBe(`entry ${JSON.parse(changed[badIndex]!).id}: chain broken\n`);
    });
  });

  describe("the offline check refuses an export whose tail was cut off", () => {
    let lines: string[];
    let entries: number;
    let chainKey: string;
    beforeAll(async () => {
      const m = await busyMission();
      chainKey = m.mission_id;
      lines = (await exportText({ mission_id: m.mission_id })).trimEnd().split("\n");
      entries = lines.length - 1;
    });
    const summaryOf = () => JSON.parse(lines.at(-1)!);
    const cases: Array<[string, () => string, () => string]> = [
      [
        "the summary line missing",
        () => lines.slice(0, -1).join("\n") + "\n",
        () => `no summary line after ${entries} entries: export cut off`,
      ],
      [
        "the last entry and the summary missing",
        () => lines.slice(0, -2).join("\n") + "\n",
        () => `no summary line after ${entries - 1} entries: export cut off`,
      ],
      [
        "cut inside the summary line",
        () => lines.join("\n").slice(0, -10),
        () => `line ${entries + 1}: not JSON (export cut off?)`,
      ],
      [
        "cut inside an entry",
        () => lines.slice(0, 3).join("\n").slice(0, -5),
        () => "line 3: not JSON (export cut off?)",
      ],
      [
        "the last entry cut and the summary rewritten to match the count",
        () => [...lines.slice(0, -2), JSON.stringify({ ...summaryOf(), entries: entries - 1 })].join("\n"),
        () => `chain ${JSON.stringify(chainKey)} does not end where the summary says: export cut off`,
      ],
      [
        "a summary with another count",
        () => [...lines.slice(0, -1), JSON.stringify({ ...summaryOf(), entries: entries + 1 })].join("\n"),
        () => `summary says ${entries + 1} entries, file has ${entries}: export cut off`,
      ],
      [
        "a summary naming another chain",
        () =>
          [
            ...lines.slice(0, -1),
            JSON.stringify({ ...summaryOf(), chain_heads: { ...summaryOf().chain_heads, x: "0".repeat(64) } }),
          ].join("\n"),
        () => 'chain "x" does not end where the summary says: export cut off',
      ],
      [
        "entries after the summary (two exports pasted together)",
        () => [...lines, lines[0]!].join("\n"),
        () => "entries after the summary line: not one export",
      ],
      ["an empty file", () => "", () => "no summary line after 0 entries: export cut off"],
    ];
    test.each(cases)("%s", async (_name, make, message) => {
      const res = await offline(make());
      expect(res).toEqual({ code: 1, stdout: "", stderr: `${message()}\n` });
    });
    test.each(cases)("%s (stdin)", async (_name, make, message) => {
      const res = await offline(make(), true);
      expect(res).toMatchObject({ code: 1, stderr: `${message()}\n` });
    });
  });

  test("an entry changed in the database fails offline too", async () => {
    const m = await busyMission();
    const id = (
      await sql<{ id: number }>(t, "SELECT id FROM trace_entries WHERE mission_id = $1 ORDER BY id OFFSET 1 LIMIT 1", [
        m.mission_id,
      ])
    )[0]!.id;
    await sql(t, "UPDATE trace_entries SET at = at + interval '1 microsecond' WHERE id = $1", [id]);
    const body = await exportText({ mission_id: m.mission_id });
    const line = body.split("\n").find((l) => l.startsWith(`{"id":${id},`))!;
    expect(JSON.parse(line).at).toMatch(/\.\d{6}Z$/); // the exact stored value, not rounded to what was hashed
    const res = await offline(body);
    expect(res).toMatchObject({ code: 1, stderr: `entry ${id}: chain broken\n` });
  });

  test("streams over a real socket in chunks", async () => {
    const m = await busyMission();
    const r = await httpGet(t.url!, `/api/trace/export?mission_id=${m.mission_id}`, t.admin);
    expect(r.status).toBe(200);
    expect(r.headers["transfer-encoding"]).toBe("chunked");
    expect(r.headers["x-request-id"]).toBeTruthy();
    expect((await offline(r.body)).code).toBe(0);
  });

  test.runIf(backend === "postgres")(
    "a client that goes away mid-export releases its snapshot connection",
    async () => {
      const pool = t.database.pool!;
      const m = await createMission(t);
      // More than the socket buffers hold, so the export is still running when the client leaves.
      await append(
        t,
        ...Array.from({ length: 2000 }, (_, i) => ({
          event: "mission.updated" as const,
          actor: "x",
          missionId: m.mission_id,
          data: { changes: { i, pad: "x".repeat(500) } },
        })),
      );
      const http = await import("node:http");
      await new Promise<void>((resolve) => {
        const req = http.get(
          new URL("/api/trace/export", t.url!),
          { headers: { authorization: `Bearer ${t.admin}` } },
          (res) => {
            res.once("data", () => {
              req.destroy();
              resolve();
            });
          },
        );
      });
      // The export's snapshot transaction ends and its connection goes back to the pool.
      const open = () =>
        t.database.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
        );
      await waitFor(async () => (await open())[0]!.n === 0 && pool.waitingCount === 0, 10_000, "snapshot released");
      expect((await t.json("GET", "/api/trace/verify", { query: { mission_id: m.mission_id } })).body.data.valid).toBe(
        true,
      );
    },
  );

  test.each(["no-such-mission", "424242", "bad key!"])(
    "unknown mission %s → 404 (before any streaming)",
    async (id) => {
      const r = await t.json("GET", "/api/trace/export", { query: { mission_id: id } });
      expect(r.status).toBe(404);
      expect(r.body).toEqual({ errors: { detail: "Not Found" } });
    },
  );

  test("no token → 401; agent token → 403", async () => {
    const r = await t.json("GET", "/api/trace/export", { token: null });
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ errors: { detail: "Unauthorized" } });
    const a = await t.json("GET", "/api/trace/export", { token: await t.agentToken(uniq("agent")) });
    expect(a.status).toBe(403);
    expect(a.body).toEqual({ errors: { detail: "Forbidden" } });
  });
});
