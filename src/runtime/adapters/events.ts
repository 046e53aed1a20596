// The one event model for everything an agent run says, whatever the agent. Each adapter is a small parser
// from its agent's output to these events (claude-code.ts, codex.ts, gemini-cli.ts; the command adapter's
// lines are `log` events through RunContext.log), and the worker applies them the same way for every
// adapter, so supporting a new CLI is one parser file and never a change to the runtime:
//
// | event     | what the worker does with it                                                              |
// | --------- | ----------------------------------------------------------------------------------------- |
// | `log`     | a task log line at `level`                                                                |
// | `session` | the agent's activity `session_start`, then `task_start` for this task (traced); outputs     |
// |           | `session_id` (and `model`) merged into the task at once, so they show while it runs         |
// | `tool`    | a task log line naming the tool, and a heartbeat for the agent (not traced); the files it   |
// |           | writes (`files`) go to the conflict radar (src/tasks/conflicts.ts) at once                 |
// | `outputs` | merged into the task's outputs when the run ends (token usage, partial results)           |
// | `result`  | the agent's final word: its outputs merged when the run ends; whether the run succeeded   |
// |           | is decided by the adapter from it and the exit status (RunOutcome)                        |
//
// Outputs are shallow-merged in the order the events came, later values winning. `cost_usd` is special:
// the worker adds a run's cost to what the task had already spent (retries, a rerun after a rejection), so
// `outputs.cost_usd` is always the task's total spend and a mission's spend is the sum over its tasks.
//
// Parsers never throw and never drop a line silently: a line they cannot read is a `log` of the raw text.
export type LogLevel = "info" | "warn" | "error";

export type RunEvent =
  | { type: "log"; level: LogLevel; message: string }
  | { type: "session"; sessionId: string | null; model?: string | null }
  /** `files`: the paths a tool call writes (Write, Edit, a file_change), for the conflict radar. */
  | { type: "tool"; name: string; message: string; level?: LogLevel; files?: string[] }
  | { type: "outputs"; outputs: Record<string, unknown> }
  | { type: "result"; ok: boolean; reason?: string; outputs: Record<string, unknown> };

/** A parser of one CLI's stdout, line by line. Stateful (it may join streamed message chunks); never throws. */
export interface LineParser {
  line(text: string): RunEvent[];
  /** The output ended: whatever the parser still holds. */
  end(): RunEvent[];
  /** The final `result` event seen, if any. */
  readonly result: Extract<RunEvent, { type: "result" }> | null;
  /**
   * Set once the output shows the run cannot succeed although the CLI goes on (it retries a refused API key
   * for minutes): the run is stopped at once and fails with this reason.
   */
  readonly fatal?: string | null;
}

/** Longest `outputs.result` kept (the trace stores it too). */
export const MAX_RESULT = 8_000;

/** Longest text kept from one message or tool detail in a log line; the rest is cut with a marker. */
export const MAX_TEXT = 4_000;

export function clip(s: string, max = MAX_TEXT): string {
  return s.length > max ? `${s.slice(0, max)}… [${s.length - max} more characters]` : s;
}

export type Json = Record<string, unknown>;

export const isObj = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
export const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
/** A finite, non-negative number, or null. */
export const count = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : null);

/** Parses a JSON object line; null for anything else (not JSON, an array, a number…). */
export function jsonLine(text: string): Json | null {
  const t = text.trim();
  if (!t.startsWith("{")) return null;
  try {
    const v: unknown = JSON.parse(t);
    return isObj(v) ? v : null;
  } catch {
    return null;
  }
}

/**
 * The common shape of a JSON Lines parser: each object line through `parse` (null: an object it does not
 * know), anything else kept as a raw log line; nothing held back at the end.
 */
export function jsonLinesParser(
  parse: (o: Json) => RunEvent[] | null,
  result: () => Extract<RunEvent, { type: "result" }> | null,
  fatal: () => string | null = () => null,
): LineParser {
  return {
    line(text) {
      const o = jsonLine(text);
      return (o && parse(o)) ?? raw(text);
    },
    end: () => [],
    get result() {
      return result();
    },
    get fatal() {
      return fatal();
    },
  };
}

/** The raw line as a log, for lines a parser does not understand. */
export function raw(text: string): RunEvent[] {
  const t = text.trimEnd();
  return t.trim() === "" ? [] : [{ type: "log", level: "info", message: clip(t) }];
}

/** Only the entries that are set: outputs never carry `undefined` or `null` placeholders. */
export function defined(o: Record<string, unknown>): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== null) out[k] = v;
  return out;
}

/** A one-line summary of a tool's input, for the log line that names the tool. */
export function toolDetail(input: unknown): string {
  if (!isObj(input)) return "";
  for (const k of ["command", "file_path", "path", "pattern", "url", "query", "description", "prompt"]) {
    const v = input[k];
    if (typeof v === "string" && v.trim() !== "") return clip(v.replace(/\s+/g, " ").trim(), 200);
  }
  return "";
}
