// Shared set-up for the trace tests: direct appends (for entries of modules that have no route here), raw
// SQL on the test database (tampering), and a streaming server-sent-events client over a real socket.
import http from "node:http";
import { expect } from "vitest";
import type { Executor } from "../../src/db/client.js";
import { appendTrace, type TraceInput } from "../../src/trace/trace.append.js";
import type { TestContext } from "../harness.js";

let seq = 0;
export const uniq = (prefix: string) => `${prefix}-${process.pid}-${++seq}`;

export async function createMission(t: TestContext, key = uniq("m")) {
  const r = await t.json("POST", "/api/missions", { body: { mission_id: key, goal: "g" } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.data as { id: number; mission_id: string; status: string };
}

/** Appends entries directly, in one transaction, as a module's service would. */
export async function append(t: TestContext, ...entries: TraceInput[]) {
  return t.database.db.transaction(async (tx) => {
    const out = [];
    for (const e of entries) out.push(await appendTrace(tx as Executor, e));
    return out;
  });
}

export async function sql<T = Record<string, unknown>>(t: TestContext, text: string, params: unknown[] = []) {
  return t.database.query<T>(text, params);
}

export async function verify(t: TestContext, missionId?: string | number) {
  const r = await t.json("GET", "/api/trace/verify", {
    query: missionId === undefined ? {} : { mission_id: String(missionId) },
  });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.data as { valid: boolean; entries: number; first_bad_id: number | null; reason: string | null };
}

export async function idsOf(t: TestContext, missionKey: string) {
  const rows = await sql<{ id: number }>(t, "SELECT id FROM trace_entries WHERE mission_id = $1 ORDER BY id", [
    missionKey,
  ]);
  return rows.map((r) => Number(r.id));
}

export interface SseFrame {
  id?: string;
  data?: string;
  comment?: string;
  retry?: string;
  /** data parsed as JSON */
  json?: any;
}

export interface SseClient {
  status: number;
  headers: http.IncomingHttpHeaders;
  frames: SseFrame[];
  /** Data frames only (no comments, no retry). */
  events(): SseFrame[];
  /** Waits until `pred` holds for the received data frames. */
  until(pred: (events: SseFrame[]) => boolean, timeoutMs?: number, what?: string): Promise<SseFrame[]>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

/** Opens an SSE stream and parses frames as they arrive (a real socket, so streaming is what is tested). */
export function openSse(
  baseUrl: string,
  path: string,
  opts: { token?: string | null; lastEventId?: string; query?: Record<string, string> } = {},
): Promise<SseClient> {
  const url = new URL(path, baseUrl);
  for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
  const headers: Record<string, string> = { accept: "text/event-stream" };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.lastEventId !== undefined) headers["last-event-id"] = opts.lastEventId;
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      const frames: SseFrame[] = [];
      let buf = "";
      let waiters: Array<() => void> = [];
      let endResolve!: () => void;
      const ended = new Promise<void>((r) => (endResolve = r));
      const poke = () => {
        const w = waiters;
        waiters = [];
        for (const f of w) f();
      };
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const f: SseFrame = {};
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) f.comment = line.slice(1).trim();
            else if (line.startsWith("id: ")) f.id = line.slice(4);
            else if (line.startsWith("data: ")) f.data = (f.data === undefined ? "" : `${f.data}\n`) + line.slice(6);
            else if (line.startsWith("retry: ")) f.retry = line.slice(7);
          }
          if (f.data !== undefined) f.json = JSON.parse(f.data);
          frames.push(f);
        }
        poke();
      });
      res.on("end", () => {
        endResolve();
        poke();
      });
      res.on("close", () => {
        endResolve();
        poke();
      });
      const events = () => frames.filter((f) => f.data !== undefined);
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        frames,
        events,
        ended,
        async until(pred, timeoutMs = 10_000, what = "events") {
          const deadline = Date.now() + timeoutMs;
          while (!pred(events())) {
            const left = deadline - Date.now();
            if (left <= 0)
              throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(events().map((e) => e.json))}`);
            await new Promise<void>((r) => {
              const timer = setTimeout(r, Math.min(left, 200));
              waiters.push(() => {
                clearTimeout(timer);
                r();
              });
            });
          }
          return events();
        },
        close() {
          req.destroy();
          res.destroy();
        },
      });
    });
    req.on("error", reject);
  });
}

/** Reads a whole non-SSE response body over the real socket (status, headers, text). */
export function httpGet(baseUrl: string, path: string, token: string | null) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    http
      .get(new URL(path, baseUrl), { headers }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      })
      .on("error", reject);
  });
}
