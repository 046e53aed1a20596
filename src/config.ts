// The whole environment is read here, once, at start-up. Anything wrong fails fast with one line that names
// the variable, so a typo in a deployment never becomes a half-working server.
import path from "node:path";
import { fileURLToPath } from "node:url";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
const LOG_LEVELS: readonly LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

export interface Config {
  host: string;
  port: number;
  databaseUrl: string | null;
  dataDir: string;
  /** The console's built files served at / (MC_CONSOLE_DIR; default web/dist of this package, made by npm run build:web). */
  consoleDir: string;
  /** Embedded database only: run PGlite in a worker thread (MC_PGLITE_WORKER, default true). */
  pgliteWorker: boolean;
  /** Embedded database only: PostgreSQL's shared_buffers in MiB (MC_PGLITE_SHARED_BUFFERS_MB, default 32). */
  pgliteSharedBuffersMb: number;
  adminToken: string | null;
  logLevel: LogLevel;
  bodyLimit: number;
  agentStaleAfterS: number;
  /** Base URL agents use to call back (defaults to http://HOST:PORT). */
  publicUrl: string | null;
  /** A mission's process tree is taken over by another server this long after its owner stops renewing. */
  leaseTtlS: number;
  /** OpenAI-compatible embeddings endpoint for knowledge search; null when not configured (lexical only). */
  embeddings: EmbeddingsConfig | null;
  /** GitHub integration (sync, webhooks, approve-to-merge); `repos` empty means not configured. */
  github: GithubConfig;
  /** Overload protection and per-token rate limits (src/http/limits.ts); 0 turns a limit off. */
  limits: LimitsConfig;
}

export interface LimitsConfig {
  /** Requests served at once; more are answered 503 with Retry-After (MC_MAX_IN_FLIGHT). */
  maxInFlight: number;
  /** Mean event-loop delay (ms) above which requests are answered 503 (MC_MAX_EVENT_LOOP_DELAY_MS). */
  maxEventLoopDelayMs: number;
  /** Heap in use (MiB) above which requests are answered 503 (MC_MAX_HEAP_MB). */
  maxHeapMb: number;
  /** Requests one token may make per window; more are answered 429 with Retry-After (MC_RATE_LIMIT). */
  rateLimit: number;
  /** The rate-limit window in seconds (MC_RATE_LIMIT_WINDOW_S). */
  rateLimitWindowS: number;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`Invalid configuration: ${variable} ${message}`);
    this.name = "ConfigError";
  }
}

export interface EmbeddingsConfig {
  /** The full `.../embeddings` endpoint URL. */
  url: string;
  model: string;
  apiKey: string | null;
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v === "" ? undefined : v;
}

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return def;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `must be an integer from ${min} to ${max} (got "${raw}")`);
  const n = Number(raw.trim());
  if (n < min || n > max) throw new ConfigError(name, `must be an integer from ${min} to ${max} (got "${raw}")`);
  return n;
}

export function loadConfig(env: Env = process.env): Config {
  const host = str(env, "HOST") ?? "127.0.0.1";
  if (/\s/.test(host)) throw new ConfigError("HOST", `must be a host name or address (got "${host}")`);
  const port = int(env, "PORT", 4000, 0, 65535);

  const databaseUrl = str(env, "DATABASE_URL") ?? null;
  if (databaseUrl !== null) {
    let ok = false;
    try {
      const u = new URL(databaseUrl);
      ok = u.protocol === "postgres:" || u.protocol === "postgresql:";
    } catch {
      ok = false;
    }
    if (!ok) throw new ConfigError("DATABASE_URL", "must be a postgres:// or postgresql:// URL");
  }

  const dataDir = path.resolve(str(env, "MC_DATA_DIR") ?? "./data");
  const pgliteWorker = bool(env, "MC_PGLITE_WORKER", true);
  const pgliteSharedBuffersMb = int(env, "MC_PGLITE_SHARED_BUFFERS_MB", 32, 1, 1024);
  // src/config.ts and dist/config.js sit at the same depth, so ../web/dist is the package's build either way.
  const consoleDir = path.resolve(str(env, "MC_CONSOLE_DIR") ?? fileURLToPath(new URL("../web/dist", import.meta.url)));

  const adminToken = str(env, "MC_ADMIN_TOKEN") ?? null;
  if (adminToken !== null && adminToken.length < 16) {
    throw new ConfigError("MC_ADMIN_TOKEN", "must be at least 16 characters long");
  }

  const logLevelRaw = (str(env, "LOG_LEVEL") ?? "info").toLowerCase();
  if (!LOG_LEVELS.includes(logLevelRaw as LogLevel)) {
    throw new ConfigError("LOG_LEVEL", `must be one of ${LOG_LEVELS.join(", ")} (got "${logLevelRaw}")`);
  }

  const bodyLimit = int(env, "MC_BODY_LIMIT", 1024 * 1024, 1024, 1024 * 1024 * 1024);
  const agentStaleAfterS = int(env, "MC_AGENT_STALE_AFTER_S", 300, 1, 365 * 24 * 3600);

  const leaseTtlS = int(env, "MC_LEASE_TTL_S", 15, 1, 3600);
  const publicUrl = str(env, "MC_PUBLIC_URL") ?? null;
  if (publicUrl !== null) {
    // `localhost:4000` parses as a URL with the scheme "localhost:"; agents could not call it back.
    let scheme: string | null = null;
    try {
      scheme = new URL(publicUrl).protocol;
    } catch {
      scheme = null;
    }
    if (scheme !== "http:" && scheme !== "https:") {
      throw new ConfigError("MC_PUBLIC_URL", `must be an absolute http:// or https:// URL (got "${publicUrl}")`);
    }
  }

  const embeddings = embeddingsConfig(env);
  const github = githubConfig(env);
  const limits: LimitsConfig = {
    maxInFlight: int(env, "MC_MAX_IN_FLIGHT", 256, 0, 1_000_000),
    maxEventLoopDelayMs: int(env, "MC_MAX_EVENT_LOOP_DELAY_MS", 2000, 0, 3_600_000),
    maxHeapMb: int(env, "MC_MAX_HEAP_MB", 0, 0, 1024 * 1024),
    rateLimit: int(env, "MC_RATE_LIMIT", 6000, 0, 1_000_000_000),
    rateLimitWindowS: int(env, "MC_RATE_LIMIT_WINDOW_S", 60, 1, 24 * 3600),
  };

  return {
    host,
    port,
    databaseUrl,
    dataDir,
    consoleDir,
    pgliteWorker,
    pgliteSharedBuffersMb,
    adminToken,
    logLevel: logLevelRaw as LogLevel,
    bodyLimit,
    agentStaleAfterS,
    publicUrl,
    leaseTtlS,
    embeddings,
    github,
    limits,
  };
}

/**
 * MC_EMBEDDINGS_URL and MC_EMBEDDINGS_MODEL come together or not at all. The URL may be the endpoint itself
 * (`…/v1/embeddings`) or the base URL people copy from their provider's docs (`https://api.openai.com/v1`,
 * `http://localhost:11434`); `/embeddings` or `/v1/embeddings` is appended to the latter.
 */
function embeddingsConfig(env: Env): EmbeddingsConfig | null {
  const raw = str(env, "MC_EMBEDDINGS_URL");
  const model = str(env, "MC_EMBEDDINGS_MODEL")?.trim();
  const apiKey = str(env, "MC_EMBEDDINGS_API_KEY") ?? null;
  if (raw === undefined) {
    if (model !== undefined) throw new ConfigError("MC_EMBEDDINGS_URL", "must be set when MC_EMBEDDINGS_MODEL is set");
    if (apiKey !== null) throw new ConfigError("MC_EMBEDDINGS_URL", "must be set when MC_EMBEDDINGS_API_KEY is set");
    return null;
  }
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ConfigError("MC_EMBEDDINGS_URL", "must be an absolute http:// or https:// URL");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new ConfigError("MC_EMBEDDINGS_URL", "must be an absolute http:// or https:// URL");
  }
  if (u.username || u.password) {
    throw new ConfigError("MC_EMBEDDINGS_URL", "must not carry credentials; use MC_EMBEDDINGS_API_KEY");
  }
  if (!model || model.length > 200 || /\s/.test(model)) {
    throw new ConfigError(
      "MC_EMBEDDINGS_MODEL",
      "must be set to a model name (no spaces, at most 200 characters) when MC_EMBEDDINGS_URL is set",
    );
  }
  const p = u.pathname.replace(/\/+$/, "");
  if (!p.endsWith("/embeddings")) u.pathname = p.endsWith("/v1") ? `${p}/embeddings` : `${p}/v1/embeddings`;
  return { url: u.toString(), model, apiKey };
}

export const GITHUB_MERGE_METHODS = ["merge", "squash", "rebase"] as const;
export type GithubMergeMethod = (typeof GITHUB_MERGE_METHODS)[number];

export interface GithubConfig {
  /** Never logged or returned; messages about it never echo it. */
  token: string | null;
  /** `owner/name`, lower-cased and deduplicated. */
  repos: string[];
  /** API base URL without a trailing slash (GitHub Enterprise: `https://host/api/v3`). */
  apiUrl: string;
  webhookSecret: string | null;
  /** Seconds between scheduled sync runs; 0 = no scheduled runs. */
  syncIntervalS: number;
  mergeMethod: GithubMergeMethod;
  /** Comment on a linked issue when its task completes. */
  commentOnComplete: boolean;
}

const GITHUB_REPO_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/;

function bool(env: Env, name: string, def: boolean): boolean {
  const raw = str(env, name)?.trim().toLowerCase();
  if (raw === undefined) return def;
  if (["1", "true", "yes", "on"].includes(raw)) return true;
  if (["0", "false", "no", "off"].includes(raw)) return false;
  throw new ConfigError(name, `must be true or false (got "${raw}")`);
}

function githubConfig(env: Env): GithubConfig {
  const token = str(env, "GITHUB_TOKEN")?.trim() || null;
  // The token's value is never part of a message.
  if (token !== null && /\s/.test(token)) throw new ConfigError("GITHUB_TOKEN", "must not contain whitespace");

  const repos: string[] = [];
  for (const part of (str(env, "GITHUB_REPOS") ?? "").split(",")) {
    const r = part.trim();
    if (r === "") continue;
    const name = r.split("/")[1];
    if (!GITHUB_REPO_RE.test(r) || name === "." || name === "..") {
      throw new ConfigError("GITHUB_REPOS", `must be a comma-separated list of owner/name (got "${r}")`);
    }
    if (!repos.includes(r.toLowerCase())) repos.push(r.toLowerCase());
  }
  if (repos.length > 0 && token === null) throw new ConfigError("GITHUB_TOKEN", "must be set when GITHUB_REPOS is set");

  const apiRaw = str(env, "GITHUB_API_URL") ?? "https://api.github.com";
  let api: URL;
  try {
    api = new URL(apiRaw);
  } catch {
    throw new ConfigError("GITHUB_API_URL", `must be an absolute http:// or https:// URL (got "${apiRaw}")`);
  }
  if (api.protocol !== "http:" && api.protocol !== "https:") {
    throw new ConfigError("GITHUB_API_URL", `must be an absolute http:// or https:// URL (got "${apiRaw}")`);
  }
  if (api.username || api.password)
    throw new ConfigError("GITHUB_API_URL", "must not carry credentials; use GITHUB_TOKEN");
  if (api.search || api.hash) throw new ConfigError("GITHUB_API_URL", "must not have a query or fragment");
  const apiUrl = `${api.origin}${api.pathname.replace(/\/+$/, "")}`;

  const webhookSecret = str(env, "GITHUB_WEBHOOK_SECRET") ?? null;
  const syncIntervalS = int(env, "GITHUB_SYNC_INTERVAL_S", 300, 0, 7 * 24 * 3600);
  const method = (str(env, "GITHUB_MERGE_METHOD") ?? "squash").trim().toLowerCase();
  if (!(GITHUB_MERGE_METHODS as readonly string[]).includes(method)) {
    throw new ConfigError("GITHUB_MERGE_METHOD", `must be one of ${GITHUB_MERGE_METHODS.join(", ")} (got "${method}")`);
  }
  const commentOnComplete = bool(env, "GITHUB_COMMENT_ON_COMPLETE", false);
  return {
    token,
    repos,
    apiUrl,
    webhookSecret,
    syncIntervalS,
    mergeMethod: method as GithubMergeMethod,
    commentOnComplete,
  };
}
