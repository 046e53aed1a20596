#!/usr/bin/env node
/* global process, console */
// Re-verifies an export of GET /api/trace/export offline: node scripts/verify-trace.mjs trace.jsonl (or stdin).
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";

const canon = (v) =>
  v === null || typeof v !== "object" ? JSON.stringify(v)
  : Array.isArray(v) ? `[${v.map(canon).join(",")}]`
  : `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canon(v[k])}`).join(",")}}`;
const last = new Map(); // chain (mission_id, or "" for the global chain) → hash of its latest entry
let n = 0;
for await (const line of createInterface({ input: process.argv[2] ? createReadStream(process.argv[2]) : process.stdin })) {
  if (!line.trim()) continue;
  const { id, prev_hash, hash, ...content } = JSON.parse(line);
  const chain = content.mission_id ?? "";
  const ok = prev_hash === (last.get(chain) ?? "0".repeat(64)) &&
    hash === createHash("sha256").update(prev_hash + canon(content)).digest("hex");
  if (!ok) { console.error(`entry ${id}: chain broken`); process.exit(1); }
  last.set(chain, hash); n++;
}
console.log(`ok: ${n} entries in ${last.size} chains`);
