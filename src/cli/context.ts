// What every `mc` command shares: where the server is and which token to use (flag > environment > saved
// profile), the typed client, how answers are printed (tables on a terminal, `--json` for scripts) and how
// failures become exit codes: 1 refused by the API (4xx), 2 usage, 3 unreachable or a 5xx.
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Command } from "commander";
import { createClient, type McClient } from "../client/index.js";
import { AGENT } from "../agents/agents.state.js";
import { RUN } from "../github/github.state.js";
import { MISSION } from "../missions/missions.state.js";
import { DECISION } from "../policies/decide.js";
import { TASK } from "../tasks/tasks.state.js";

export const DEFAULT_URL = "http://127.0.0.1:4000";

export const EXIT = { ok: 0, refused: 1, usage: 2, unreachable: 3 } as const;

/** A failure with its exit code and the message printed on stderr. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT.usage);
  }
}

// --- profiles -------------------------------------------------------------------------------------------

export interface Profile {
  url: string;
  token: string;
}
interface ConfigFile {
  current?: string;
  profiles: Record<string, Profile>;
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const base =
    env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME !== ""
      ? env.XDG_CONFIG_HOME
      : path.join(env.HOME ?? os.homedir(), ".config");
  return path.join(base, "mission-control", "config.json");
}

export async function readConfigFile(file = configPath()): Promise<ConfigFile> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { profiles: {} };
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as Partial<ConfigFile>;
    return {
      current: parsed.current,
      profiles: parsed.profiles && typeof parsed.profiles === "object" ? parsed.profiles : {},
    };
  } catch {
    throw new CliError(`${file} is not valid JSON; fix or remove it`, EXIT.usage);
  }
}

/** Saves a profile; the file holds tokens, so it is written 0600 (and its folder 0700) whatever the umask. */
export async function saveProfile(name: string, profile: Profile, file = configPath()): Promise<void> {
  const cfg = await readConfigFile(file);
  cfg.profiles[name] = profile;
  cfg.current = name;
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(cfg, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
}

// --- connection -----------------------------------------------------------------------------------------

export interface GlobalOptions {
  url?: string;
  token?: string;
  profile?: string;
  json?: boolean;
  color?: boolean;
}

export interface Connection {
  url: string;
  token: string | null;
  client: McClient;
}

/**
 * flag > environment (MC_URL/MC_TOKEN, then a run's MC_API_URL/MC_AGENT_TOKEN) > profile (the named one, else
 * the current one) > default URL. A saved token goes only to the server it was saved for, and a run's agent
 * token only to its run's server: `--url` or MC_URL naming another server does not take them there (a token
 * given by flag or MC_TOKEN goes where it is told).
 */
export async function connect(opts: GlobalOptions, env: NodeJS.ProcessEnv = process.env): Promise<Connection> {
  const cfg = await readConfigFile(configPath(env));
  const name = opts.profile ?? env.MC_PROFILE ?? cfg.current;
  const profile = name !== undefined ? cfg.profiles[name] : undefined;
  if (opts.profile !== undefined && !profile)
    throw new UsageError(`no profile named "${opts.profile}"; create it with mc login --profile ${opts.profile}`);
  // Inside an agent's run the runtime sets MC_API_URL and MC_AGENT_TOKEN: `mc` works there with no set-up.
  const url = opts.url ?? nonEmpty(env.MC_URL) ?? nonEmpty(env.MC_API_URL) ?? profile?.url ?? DEFAULT_URL;
  // Inside a run (MC_AGENT_TOKEN set) a profile is used only when named: an agent never falls back to the
  // operator's saved token because its run's token was held back.
  const inRun = nonEmpty(env.MC_AGENT_TOKEN) !== undefined;
  const profileNamed = opts.profile !== undefined || nonEmpty(env.MC_PROFILE) !== undefined;
  const token =
    opts.token ??
    nonEmpty(env.MC_TOKEN) ??
    (inRun && sameOrigin(url, env.MC_API_URL) ? nonEmpty(env.MC_AGENT_TOKEN) : undefined) ??
    ((!inRun || profileNamed) && sameOrigin(url, profile?.url) ? profile?.token : undefined) ??
    null;
  try {
    new URL(url);
  } catch {
    throw new UsageError(`not a URL: ${url}`);
  }
  return { url, token, client: createClient({ baseUrl: url, token }) };
}

/** Same scheme, host and port. */
function sameOrigin(a: string, b: string | undefined): boolean {
  if (!b) return false;
  try {
    const origin = new URL(a).origin;
    // Anything but http(s) has the opaque origin "null", equal for every such URL.
    return origin !== "null" && origin === new URL(b).origin;
  } catch {
    return false;
  }
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === "" ? undefined : s;
}

/** The options of the program, from any (sub)command. */
export function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

// --- answers --------------------------------------------------------------------------------------------

interface FetchResult {
  data?: unknown;
  error?: unknown;
  response: Response;
}

/** The message of an error body `{"errors": {...}}`: `detail` as is, fields as `field: message`. */
export function errorMessage(body: unknown): string {
  const errors = (body as { errors?: Record<string, unknown> } | null)?.errors;
  if (!errors || typeof errors !== "object") return typeof body === "string" && body !== "" ? body : "request failed";
  return Object.entries(errors)
    .map(([k, v]) => (k === "detail" ? String(v) : `${k}: ${Array.isArray(v) ? v.join(", ") : String(v)}`))
    .join("; ");
}

/** Awaits a client call: its body on 2xx, else the API's error as a CliError with the contract's exit code. */
export async function api<T = unknown>(call: Promise<FetchResult>, conn: Connection): Promise<T> {
  let r: FetchResult;
  try {
    r = await call;
  } catch (err) {
    throw unreachable(conn, err);
  }
  const status = r.response.status;
  if (status >= 200 && status < 300) return r.data as T;
  // A 404 names what was not found: the path says which record (a mission in `tasks create --mission nope`).
  const where = status === 404 && r.response.url ? ` (${decodeURIComponent(new URL(r.response.url).pathname)})` : "";
  const msg = `${status}: ${errorMessage(r.error)}${where}`;
  if (status === 401) throw new CliError(`${msg} (check the token: --token, MC_TOKEN or mc login)`, EXIT.refused);
  throw new CliError(msg, status >= 500 ? EXIT.unreachable : EXIT.refused);
}

export function unreachable(conn: Connection, err: unknown): CliError {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  const why = cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
  return new CliError(`cannot reach ${conn.url} (${why})`, EXIT.unreachable);
}

// --- output ---------------------------------------------------------------------------------------------

export interface Out {
  json: boolean;
  color: boolean;
  /** `data` as JSON (a list as an array). */
  data(value: unknown): void;
  /** One JSON object per line (streams). */
  line(value: unknown): void;
  table(rows: Array<Record<string, unknown>>, columns: string[]): void;
  /** key: value lines of one record. */
  record(value: Record<string, unknown>, fields?: string[]): void;
  text(s: string): void;
  /** A note for people (stderr), never in the way of a pipe. */
  note(s: string): void;
  paint(s: string, how: "green" | "red" | "yellow" | "dim" | "bold"): string;
}

const COLORS = { green: 32, red: 31, yellow: 33, dim: 2, bold: 1 } as const;

export function output(opts: GlobalOptions): Out {
  const json = opts.json === true;
  // Colours only for a person at a terminal: never in a pipe, never with NO_COLOR, never with --no-color.
  const color = !json && process.stdout.isTTY === true && opts.color !== false && !process.env.NO_COLOR;
  const paint = (s: string, how: keyof typeof COLORS) => (color ? `\u001b[${COLORS[how]}m${s}\u001b[0m` : s);
  const write = (s: string) => process.stdout.write(s);
  return {
    json,
    color,
    paint,
    data: (v) => write(`${JSON.stringify(v, null, 2)}\n`),
    line: (v) => write(`${JSON.stringify(v)}\n`),
    text: (s) => write(`${s}\n`),
    note: (s) => process.stderr.write(`${s}\n`),
    table(rows, columns) {
      if (rows.length === 0) {
        write(`${paint("(none)", "dim")}\n`);
        return;
      }
      const cells = rows.map((r) => columns.map((c) => cell(r[c])));
      const widths = columns.map((c, i) => Math.min(60, Math.max(c.length, ...cells.map((row) => row[i]!.length))));
      const pad = (s: string, i: number) =>
        s.length > widths[i]! ? `${s.slice(0, widths[i]! - 1)}…` : s.padEnd(widths[i]!);
      write(
        `${paint(
          columns
            .map((c, i) => pad(c.toUpperCase(), i))
            .join("  ")
            .trimEnd(),
          "bold",
        )}\n`,
      );
      for (const row of cells) {
        write(
          `${row
            .map((s, i) => (columns[i] === "status" ? paint(pad(s, i), statusColor(s)) : pad(s, i)))
            .join("  ")
            .trimEnd()}\n`,
        );
      }
    },
    record(v, fields) {
      const keys = fields ?? Object.keys(v);
      const w = Math.max(...keys.map((k) => k.length));
      for (const k of keys) {
        const s = cell(v[k], true);
        write(`${paint(k.padEnd(w), "bold")}  ${k === "status" ? paint(s, statusColor(s)) : s}\n`);
      }
    },
  };
}

// The colour of a status as a person reads it: done or running well, failed, waiting on someone. Built from
// the state files, so a status added there is "dim" here until it is placed, never misspelled.
const STATUS_COLORS = new Map<string, "green" | "red" | "yellow">([
  ...[TASK.completed, TASK.in_progress, MISSION.active, AGENT.idle, AGENT.working, RUN.succeeded, DECISION.allow].map(
    (s) => [s, "green"] as const,
  ),
  ...[TASK.failed, TASK.rejected, MISSION.cancelled, AGENT.error, DECISION.block].map((s) => [s, "red"] as const),
  ...[
    TASK.blocked,
    TASK.pending_review,
    MISSION.paused,
    AGENT.waitingForInput,
    DECISION.warn,
    DECISION.require_approval,
  ].map((s) => [s, "yellow"] as const),
]);

function statusColor(s: string): "green" | "red" | "yellow" | "dim" {
  return STATUS_COLORS.get(s) ?? "dim";
}

/** A value as one table cell (control characters from agents shown escaped, never interpreted). */
function cell(v: unknown, full = false): string {
  if (v === null || v === undefined) return "-";
  const s = typeof v === "string" ? v : typeof v === "object" ? JSON.stringify(v) : String(v);
  // eslint-disable-next-line no-control-regex
  const safe = s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) =>
    c === "\n" && full ? "\n" : JSON.stringify(c).slice(1, -1),
  );
  return safe;
}

/** A command's action with its connection and output; CliErrors propagate to main. */
export function action<A extends unknown[]>(
  fn: (ctx: { conn: Connection; out: Out; opts: GlobalOptions }, ...args: A) => Promise<void>,
) {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const opts = globals(cmd);
    const conn = await connect(opts);
    await fn({ conn, out: output(opts), opts }, ...(args.slice(0, -1) as A));
  };
}

/** A page of a list: `{data, meta}`; `--json` prints the array, a person gets a table and a hint for more. */
export function printPage(
  out: Out,
  page: { data: Array<Record<string, unknown>>; meta?: { next_cursor: string | null } },
  columns: string[],
) {
  if (out.json) out.data(page.data);
  else out.table(page.data, columns);
  // With --json too (on stderr, out of the pipe's way): a script would otherwise take one page for all there is.
  if (page.meta?.next_cursor) out.note(out.paint(`more: --cursor ${page.meta.next_cursor}`, "dim"));
}

export function parseLimit(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`--limit must be a positive integer, got "${v}"`);
  return Number(v);
}

export function parseJsonObject(v: string, flag: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch {
    throw new UsageError(`${flag} must be JSON, e.g. '{"action_type":"git_push"}'`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
    throw new UsageError(`${flag} must be a JSON object`);
  return parsed as Record<string, unknown>;
}
