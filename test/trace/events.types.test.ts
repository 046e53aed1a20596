// The trace's event union refuses what it does not know: each `@ts-expect-error` line below must be a type
// error (npx tsc fails on an unused one), so an unknown event or the wrong data cannot be appended.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { expect, test } from "vitest";
import type { Executor } from "../../src/db/client.js";
import { appendTrace, traceAppendValues } from "../../src/trace/trace.append.js";
import {
  EPHEMERAL_EVENT_NAMES,
  TRACE_EVENT_NAMES,
  isTraceEventName,
  type TraceInput,
} from "../../src/trace/trace.events.js";

// Never called: only compiled.
async function refusals(tx: Executor) {
  // An event named here with its data is fine.
  await appendTrace(tx, { event: "mission.updated", actor: "x", missionId: "m", data: { changes: { goal: "g" } } });
  await appendTrace(tx, {
    event: "task.status_changed",
    actor: "x",
    taskId: "t",
    data: { from: "pending", to: "in_progress", via: "report" },
  });

  // @ts-expect-error an unknown event
  await appendTrace(tx, { event: "note.added", actor: "x", data: {} });
  // @ts-expect-error a known event with the wrong data (task.status_changed needs from and to)
  await appendTrace(tx, { event: "task.status_changed", actor: "x", data: { to: "completed" } });
  // @ts-expect-error a known event with a member of the wrong type
  await appendTrace(tx, { event: "task.reported", actor: "x", data: { outputs: {}, logs_added: "2" } });
  await appendTrace(tx, {
    event: "token.revoked",
    actor: "x",
    // @ts-expect-error a known event with a member it does not have
    data: { token_id: 1, role: "r", name: null, secret: "s" },
  });
  // @ts-expect-error data is required
  await appendTrace(tx, { event: "mission.updated", actor: "x" });
  // @ts-expect-error no actor
  await appendTrace(tx, { event: "mission.updated", data: { changes: {} } });
  // @ts-expect-error an ephemeral event is never stored
  await appendTrace(tx, { event: "agent.heartbeat", actor: "x", data: {} });

  // The single-statement values take the same union.
  // @ts-expect-error an unknown event
  traceAppendValues({ event: "task.reportd", actor: "x", data: { outputs: {}, logs_added: 0 } });
  // @ts-expect-error wrong data
  const wrong: TraceInput = { event: "task.reported", actor: "x", data: { n: 1 } };
  return wrong;
}
void refusals;

test("every stored event name once, none of them ephemeral", () => {
  expect(new Set(TRACE_EVENT_NAMES).size).toBe(TRACE_EVENT_NAMES.length);
  for (const n of TRACE_EVENT_NAMES) expect(n).toMatch(/^[a-z_]+\.[a-z_]+$/);
  for (const n of EPHEMERAL_EVENT_NAMES) expect(isTraceEventName(n)).toBe(false);
  expect(isTraceEventName("task.reported")).toBe(true);
  expect(isTraceEventName("note.added")).toBe(false);
  expect(isTraceEventName("toString")).toBe(false);
});

// Belt and braces for names the compiler cannot see (SQL text, strings built at run time): every event-like
// literal in the source must be a declared name (or a live-only one).
test("every event name written in src is declared", () => {
  const known = new Set<string>([...TRACE_EVENT_NAMES, ...EPHEMERAL_EVENT_NAMES]);
  const pattern =
    /"((?:mission|task|agent|dispatch|runtime|policy|sprint|objective|key_result|requirement|knowledge|token|github)\.[a-z_]+)"/g;
  const unknown: string[] = [];
  let seen = 0;
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (p !== path.join("src", "client")) walk(p);
      } else if (e.name.endsWith(".ts")) {
        for (const m of readFileSync(p, "utf8").matchAll(pattern)) {
          seen++;
          if (!known.has(m[1]!)) unknown.push(`${p}: ${m[1]}`);
        }
      }
    }
  };
  walk("src");
  expect(seen).toBeGreaterThan(TRACE_EVENT_NAMES.length);
  expect(unknown).toEqual([]);
});
