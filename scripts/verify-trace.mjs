#!/usr/bin/env node
/* global process, console */
// Re-verifies an export of GET /api/trace/export offline: node scripts/verify-trace.mjs trace.jsonl (or stdin).
// Every entry's hash and link is recomputed; the export's last line, {"chain_heads": {...}, "entries": n},
// must match what came before it, so a file whose tail was cut off is refused, not half-verified.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";

const canon = (v) =>
  v === null || typeof v !== "object"
    ? JSON.stringify(v)
    : Array.isArray(v)
      ? `[${v.map(canon).join(",")}]`
      : `{${Object.keys(v)
          .sort()
          .map((k) => `${JSON.stringify(k)}:${canon(v[k])}`)
          .join(",")}}`;
const fail = (msg) => {
  console.error(msg);
  process.exit(1);
};
const last = new Map(); // chain (mission_id, or "" for the global chain) → hash of its latest entry
let n = 0;
let summary = null;
for await (const line of createInterface({
  input: process.argv[2] ? createReadStream(process.argv[2]) : process.stdin,
})) {
  if (!line.trim()) continue;
  if (summary) fail("entries after the summary line: not one export");
  let entry;
  try {
    entry = JSON.parse(line);
  } catch {
    fail(`line ${n + 1}: not JSON (export cut off?)`);
  }
  if ("chain_heads" in entry) {
    summary = entry;
    continue;
  }
  const { id, prev_hash, hash, ...content } = entry;
  const chain = content.mission_id ?? "";
  const ok =
    prev_hash === (last.get(chain) ?? "0".repeat(64)) &&
    hash ===
      createHash("sha256")
        .update(prev_hash + canon(content))
        .digest("hex");
  if (!ok) fail(`entry ${id}: chain broken`);
  last.set(chain, hash);
  n++;
}
if (!summary) fail(`no summary line after ${n} entries: export cut off`);
if (summary.entries !== n) fail(`summary says ${summary.entries} entries, file has ${n}: export cut off`);
const heads = new Map(Object.entries(summary.chain_heads ?? {}));
for (const chain of new Set([...heads.keys(), ...last.keys()])) {
  if (heads.get(chain) !== last.get(chain))
    fail(`chain ${JSON.stringify(chain)} does not end where the summary says: export cut off`);
}
console.log(`ok: ${n} entries in ${last.size} chains`);
