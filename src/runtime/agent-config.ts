// What an agent's `config` may hold, per adapter: one TypeBox schema per `adapter_module`, checked when the
// config is written (POST/PATCH /api/agents) and parsed again, typed, when a run starts (the worker), so a
// mistake is a 422 at write instead of a task that fails or waits forever.
//
// The schemas are built from groups of keys, by what reads them:
// - DispatchKeys: the agent's worker (concurrency, retries, escalation), for every adapter.
// - ProcessKeys: agents that run here as a child process (timeouts, working directory, environment, the
//   git worktree of `repo`).
// - CliKeys: the coding-agent CLIs (`binary`, `args`).
// To add a setting, add it to the group (or the one adapter) that reads it: every schema is
// `Type.Object({...groups, ...own keys}, {additionalProperties: false})`, so an unknown key stays a 422.
//
// Beyond the schema, a write checks what only the server can know: `repo` must be a git repository with a
// working tree here (422). A CLI binary that is not on the server's PATH is only a warning (`binaryProblem`):
// the agent may be a CLI started by hand that reports through hooks; a dispatch to it fails at once with
// the same sentence.
import fs from "node:fs";
import path from "node:path";
import { Type, type Static, type TObject, type TProperties } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { Invalid, type FieldErrors } from "../core/errors.js";
import { validateValue } from "../http/validation.js";
import { git } from "./adapters/worktree.js";

const ENV_NAME = "^[A-Za-z_][A-Za-z0-9_]*$";
/** A git ref name, and not an option (same rule as adapters/worktree.ts). */
const REF_NAME = "^[^-\\s~^:?*[\\\\][^\\s~^:?*[\\\\]{0,254}$";

/** How the agent's worker takes work: read by the worker for every adapter. */
export const DispatchKeys = {
  max_concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: "runs at a time (default 1)" })),
  max_retries: Type.Optional(
    Type.Integer({ minimum: 0, maximum: 100, description: "automatic retries of a failed run (default 0)" }),
  ),
  max_restarts: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: 1000,
      description: "failed runs within restart_window_s before the worker escalates (default 5)",
    }),
  ),
  restart_window_s: Type.Optional(Type.Number({ minimum: 1, maximum: 86_400, description: "default 60" })),
  retry_backoff_s: Type.Optional(
    Type.Number({ minimum: 0, maximum: 3_600, description: "base of the exponential retry backoff (default 1)" }),
  ),
} satisfies TProperties;

/** Agents that run here as a child process. */
export const ProcessKeys = {
  cwd: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 4096,
      description: "working directory (the task's worktree when `repo` is set)",
    }),
  ),
  env: Type.Optional(
    Type.Unsafe<Record<string, string>>({
      type: "object",
      patternProperties: { [ENV_NAME]: { type: "string" } },
      additionalProperties: false,
      description: "extra environment variables (values under secret-looking names are never returned)",
    }),
  ),
  timeout_s: Type.Optional(
    Type.Number({ exclusiveMinimum: 0, maximum: 604_800, description: "a run is stopped after this long" }),
  ),
  stop_grace_s: Type.Optional(
    Type.Number({ minimum: 0, maximum: 3_600, description: "SIGTERM to SIGKILL (default 5)" }),
  ),
  repo: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 4096,
      description: "a local git repository: each task runs in its own worktree and branch",
    }),
  ),
  base_branch: Type.Optional(
    Type.String({
      pattern: REF_NAME,
      description: "branch new task branches start from (default: the repository's current one)",
    }),
  ),
  push: Type.Optional(Type.Boolean({ description: "push the task's branch when a run ends (default false)" })),
  remote: Type.Optional(
    Type.String({ pattern: "^[^-\\s][^\\s]{0,1023}$", description: "remote to push to (default origin)" }),
  ),
} satisfies TProperties;

/** The coding-agent CLIs (claude_code, codex, gemini_cli). */
export const CliKeys = {
  binary: Type.Optional(
    Type.String({ minLength: 1, maxLength: 4096, description: "the CLI's executable (default: its name on PATH)" }),
  ),
  args: Type.Optional(Type.Array(Type.String(), { maxItems: 200, description: "extra arguments" })),
  resume: Type.Optional(
    Type.Boolean({ description: "a rerun of a task resumes this agent's previous CLI session on it (default true)" }),
  ),
  mcp: Type.Optional(
    Type.Boolean({
      description: "register this server's MCP tools with the CLI for each run (default true; src/mcp/run-config.ts)",
    }),
  ),
} satisfies TProperties;

const strict = <P extends TProperties>(props: P, description: string) =>
  Type.Object(props, { additionalProperties: false, description });

export const ManualConfig = strict(
  { ...DispatchKeys },
  "manual: nothing runs here; the agent pulls its work and reports through the API",
);
export const CommandConfig = strict(
  {
    command: Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      maxItems: 1000,
      description: "argv of the process to run (no shell); it gets the task as JSON on stdin and MC_* variables",
    }),
    ...DispatchKeys,
    ...ProcessKeys,
  },
  "command: runs `command` for each task",
);
export const WebhookConfig = strict(
  {
    url: Type.String({ pattern: "^https?://[^\\s]+$", maxLength: 4096, description: "where the task is POSTed" }),
    secret: Type.Optional(
      Type.String({ maxLength: 4096, description: "HMAC-SHA256 key of the X-MC-Signature-256 header" }),
    ),
    delivery_attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 20, description: "default 3" })),
    delivery_backoff_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 600_000, description: "default 1000" })),
    ...DispatchKeys,
  },
  "webhook: POSTs the task to a remote agent",
);
export const ClaudeCodeConfig = strict(
  { ...CliKeys, ...DispatchKeys, ...ProcessKeys },
  "claude_code: Claude Code headless",
);
export const CodexConfig = strict({ ...CliKeys, ...DispatchKeys, ...ProcessKeys }, "codex: OpenAI Codex CLI headless");
export const GeminiCliConfig = strict(
  { ...CliKeys, ...DispatchKeys, ...ProcessKeys },
  "gemini_cli: Gemini CLI headless",
);

/** Every adapter_module the server knows, with its config schema. */
export const AGENT_CONFIG_SCHEMAS = {
  manual: ManualConfig,
  command: CommandConfig,
  webhook: WebhookConfig,
  claude_code: ClaudeCodeConfig,
  codex: CodexConfig,
  gemini_cli: GeminiCliConfig,
} as const satisfies Record<string, TObject>;

export type AdapterModule = keyof typeof AGENT_CONFIG_SCHEMAS;
export const ADAPTER_MODULES = Object.keys(AGENT_CONFIG_SCHEMAS) as AdapterModule[];

/** The CLI adapters and the binary each runs when `config.binary` is not given. */
export const CLI_DEFAULT_BINARY = { claude_code: "claude", codex: "codex", gemini_cli: "gemini" } as const;
type CliModule = keyof typeof CLI_DEFAULT_BINARY;

export type ManualConfig = Static<typeof ManualConfig>;
export type CommandConfig = Static<typeof CommandConfig>;
export type WebhookConfig = Static<typeof WebhookConfig>;
export type CliConfig = Static<typeof ClaudeCodeConfig>;
export type AgentConfig =
  | { kind: "manual"; config: ManualConfig }
  | { kind: "command"; config: CommandConfig }
  | { kind: "webhook"; config: WebhookConfig }
  | { kind: CliModule; config: CliConfig };

export function isAdapterModule(kind: string): kind is AdapterModule {
  return Object.prototype.hasOwnProperty.call(AGENT_CONFIG_SCHEMAS, kind);
}

const unknownModule = (kind: string) =>
  `is not a known adapter (${JSON.stringify(kind)}); known adapters: ${ADAPTER_MODULES.join(", ")}`;

/**
 * The agent's config, checked against its adapter's schema: the typed config, or the errors as the API
 * reports them (`adapter_module`, `config`, `config.<key>`). Pure: no file system, no processes.
 */
export function parseAgentConfig(
  kind: string,
  config: unknown,
): { ok: true; value: AgentConfig } | { ok: false; errors: FieldErrors } {
  if (!isAdapterModule(kind)) return { ok: false, errors: { adapter_module: [unknownModule(kind)] } };
  const schema = AGENT_CONFIG_SCHEMAS[kind];
  const errors = validateValue(schema, config, "config");
  if (errors) {
    // An unknown key is the common mistake: say which keys this adapter takes.
    const known = Object.keys(schema.properties).join(", ");
    for (const [field, messages] of Object.entries(errors)) {
      if (field.split(".").length !== 2) continue;
      errors[field] = messages.map((m) =>
        m === "is not a known field" ? `is not a setting of the ${kind} adapter (settings: ${known})` : m,
      );
    }
    return { ok: false, errors };
  }
  return { ok: true, value: { kind, config } as AgentConfig };
}

/** One line saying what is wrong with a stored config (for a run that cannot start). */
export function describeConfigErrors(errors: FieldErrors): string {
  return Object.entries(errors)
    .map(([field, messages]) => `${field} ${messages.join("; ")}`)
    .join("; ");
}

/** `parseAgentConfig`, plus what only this server can check: a `repo` must be a git working tree here. */
export async function checkAgentConfig(kind: string, config: unknown): Promise<AgentConfig> {
  const parsed = parseAgentConfig(kind, config);
  if (!parsed.ok) throw new Invalid(parsed.errors);
  const repo = "repo" in parsed.value.config ? parsed.value.config.repo : undefined;
  if (repo !== undefined) {
    const problem = await repoProblem(repo);
    if (problem) throw Invalid.field("config.repo", problem);
  }
  return parsed.value;
}

async function repoProblem(repo: string): Promise<string | null> {
  const abs = path.resolve(repo);
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch {
    return `${repo} does not exist on the server`;
  }
  if (!st.isDirectory()) return `${repo} is not a directory`;
  const top = await git(["rev-parse", "--show-toplevel"], abs, 10_000).catch(() => null);
  if (!top || top.code !== 0 || top.stdout.trim() === "") return `${repo} is not a git repository with a working tree`;
  return null;
}

/** The binary a CLI agent runs: `config.binary`, or the CLI's default name. Null for other adapters. */
export function cliBinary(kind: string, config: Record<string, unknown>): string | null {
  if (!Object.prototype.hasOwnProperty.call(CLI_DEFAULT_BINARY, kind)) return null;
  const b = config.binary;
  return typeof b === "string" && b !== "" ? b : CLI_DEFAULT_BINARY[kind as CliModule];
}

const PATH_CACHE_MS = 5_000;
const pathCache = new Map<string, { at: number; found: boolean }>();

function executable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Whether `binary` can be run: a path to an executable file, or a name found on `searchPath`. */
export function findsBinary(binary: string, searchPath: string): boolean {
  const key = `${binary}\0${searchPath}`;
  const hit = pathCache.get(key);
  if (hit && Date.now() - hit.at < PATH_CACHE_MS) return hit.found;
  const found = binary.includes("/")
    ? executable(path.resolve(binary))
    : searchPath.split(path.delimiter).some((dir) => dir !== "" && executable(path.join(dir, binary)));
  if (pathCache.size > 1_000) pathCache.clear();
  pathCache.set(key, { at: Date.now(), found });
  return found;
}

/**
 * For a CLI agent whose binary this server cannot find (on the agent's `env.PATH` if it sets one, else
 * the server's PATH): the sentence its representation shows and a dispatch to it fails with. Null otherwise.
 */
export function binaryProblem(kind: string, config: Record<string, unknown>): string | null {
  const binary = cliBinary(kind, config);
  if (binary === null) return null;
  const env = config.env;
  const envPath =
    env && typeof env === "object" && typeof (env as Record<string, unknown>).PATH === "string"
      ? (env as { PATH: string }).PATH
      : null;
  if (findsBinary(binary, envPath ?? process.env.PATH ?? "")) return null;
  return binary.includes("/")
    ? `${kind} binary ${binary} is not an executable file on this server`
    : `${kind} binary ${binary} is not on this server's PATH`;
}

/** The settings the agent's worker reads, whatever its adapter (its DispatchKeys and the run's timeouts). */
const SETTING_KEYS = {
  ...DispatchKeys,
  timeout_s: ProcessKeys.timeout_s,
  stop_grace_s: ProcessKeys.stop_grace_s,
} satisfies TProperties;
type SettingKey = keyof typeof SETTING_KEYS;

export interface AgentSettings {
  maxConcurrency: number;
  maxRetries: number;
  maxRestarts: number;
  restartWindowS: number;
  retryBackoffS: number;
  stopGraceMs: number;
  timeoutS: number | null;
}

/**
 * The worker's settings from an agent's config, each checked by its schema above and defaulted when absent
 * (or, in a row written before configs were checked, invalid): parsed once per claim and passed along.
 */
export function agentSettings(config: Record<string, unknown>): AgentSettings {
  const get = <K extends SettingKey>(k: K): number | undefined => {
    const v = config[k];
    return v !== undefined && Value.Check(SETTING_KEYS[k], v) ? (v as number) : undefined;
  };
  return {
    maxConcurrency: get("max_concurrency") ?? 1,
    maxRetries: get("max_retries") ?? 0,
    maxRestarts: get("max_restarts") ?? 5,
    restartWindowS: get("restart_window_s") ?? 60,
    retryBackoffS: get("retry_backoff_s") ?? 1,
    stopGraceMs: (get("stop_grace_s") ?? 5) * 1000,
    timeoutS: get("timeout_s") ?? null,
  };
}

/** Backoff before retry n (1-based): 1 s, 2 s, 4 s … capped at 60 s, or retry_backoff_s as the base. */
export function retryDelayMs(settings: AgentSettings, retry: number): number {
  return Math.min(settings.retryBackoffS * 1000 * 2 ** (retry - 1), 60_000);
}

/** What the agent's representation warns about: today, a CLI binary this server cannot run. */
export function agentConfigWarnings(kind: string, config: Record<string, unknown>): string[] {
  const p = binaryProblem(kind, config);
  return p
    ? [`${p}: a dispatch to this agent fails at once (an agent started by hand can still report through hooks)`]
    : [];
}
