// Task log lines on the live stream: every statement that writes a task's log lines also queues a NOTIFY
// on the ephemeral channel of the event bus (trace/events.bus.ts), in the same transaction, so the lines
// reach `GET /api/events` as `task.log` events exactly when, and only if, they commit, in every process
// that serves the stream. Invariants:
// - Live only: the lines are stored once, in task_logs; the event has no id and is never replayed (a client
//   that resumes re-reads the task's logs).
// - A line reads as the task's logs show it (`{message, timestamp, level?}`).
// - Each NOTIFY payload stays under PostgreSQL's 8000-byte limit: lines are packed into chunks of at most
//   CHUNK_BYTES, and a line too long for one chunk is cut with a marker that says where the whole line is.
import { sql, type SQL } from "drizzle-orm";
import { EPHEMERAL_CHANNEL } from "../trace/events.bus.js";

export const TASK_LOG_EVENT = "task.log";

/** Room for the lines of one payload; the rest (event name, three keys of ≤128 bytes, JSON) fits in < 800. */
const CHUNK_BYTES = 7_000;
/** The longest line as JSON, so that a cut line still fits a chunk alone. */
export const LIVE_LINE_BYTES = 6_000;

export interface LiveLogLine {
  message: string;
  level?: string;
  timestamp: string;
}

const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v), "utf8");

/** The line as the live stream carries it: cut, with a marker, when its JSON is over LIVE_LINE_BYTES. */
export function liveLine(message: string, level: string | null | undefined, timestamp: Date): LiveLogLine {
  const line = (m: string): LiveLogLine => ({
    message: m,
    ...(level ? { level } : {}),
    timestamp: timestamp.toISOString(),
  });
  const whole = line(message);
  if (bytes(whole) <= LIVE_LINE_BYTES) return whole;
  const total = Buffer.byteLength(message, "utf8");
  const marker = ` … [cut on the live stream at this point: the line has ${total} bytes; read it whole in the task's logs]`;
  let n = Math.min(message.length, LIVE_LINE_BYTES);
  for (;;) {
    let head = message.slice(0, n);
    // Never split a surrogate pair.
    if (/[\uD800-\uDBFF]$/.test(head)) head = head.slice(0, -1);
    const cut = line(head + marker);
    if (bytes(cut) <= LIVE_LINE_BYTES || n === 0) return cut;
    n = Math.floor(n * 0.8);
  }
}

/** The lines packed into payload-sized chunks, as the JSON text of an array of line arrays. */
export function liveLogChunks(
  lines: Array<{ message: string; level: string | null | undefined; timestamp: Date }>,
): string {
  const chunks: LiveLogLine[][] = [];
  let cur: LiveLogLine[] = [];
  let size = 2;
  for (const l of lines) {
    const ll = liveLine(l.message, l.level, l.timestamp);
    const b = bytes(ll) + 1;
    if (cur.length > 0 && size + b > CHUNK_BYTES) {
      chunks.push(cur);
      cur = [];
      size = 2;
    }
    cur.push(ll);
    size += b;
  }
  if (cur.length > 0) chunks.push(cur);
  return JSON.stringify(chunks);
}

/**
 * A scalar SQL expression that queues one NOTIFY per chunk for the task whose id is `taskId` (its count):
 * the event carries the task's, its mission's and its agent's keys, so the stream's filters apply.
 */
export function notifyTaskLogsSql(taskId: SQL | number, chunksJson: string | ReturnType<typeof sql.placeholder>): SQL {
  return sql`(SELECT count(pg_notify(${EPHEMERAL_CHANNEL}, json_build_object(
      'event', ${TASK_LOG_EVENT}::text, 'task_id', lt.task_id, 'mission_id', lm.mission_id, 'agent_id', la.agent_id,
      'lines', lc.lines)::text))
    FROM tasks lt JOIN missions lm ON lm.id = lt.mission_id LEFT JOIN agents la ON la.id = lt.agent_id,
      json_array_elements(${chunksJson}::json) AS lc(lines)
    WHERE lt.id = ${taskId})`;
}
