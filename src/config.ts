// The whole environment is read here, once, at start-up. Anything wrong fails fast with one line that names
// the variable, so a typo in a deployment never becomes a half-working server.
import path from "node:path";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
const LOG_LEVELS: readonly LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

export interface Config {
  host: string;
  port: number;
  databaseUrl: string | null;
  dataDir: string;
  adminToken: string | null;
  logLevel: LogLevel;
  bodyLimit: number;
  agentStaleAfterS: number;
  /** Base URL agents use to call back (defaults to http://HOST:PORT). */
  publicUrl: string | null;
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

  const publicUrl = str(env, "MC_PUBLIC_URL") ?? null;
  if (publicUrl !== null) {
    try {
      new URL(publicUrl);
    } catch {
      throw new ConfigError("MC_PUBLIC_URL", `must be an absolute URL (got "${publicUrl}")`);
    }
  }

  return {
    host,
    port,
    databaseUrl,
    dataDir,
    adminToken,
    logLevel: logLevelRaw as LogLevel,
    bodyLimit,
    agentStaleAfterS,
    publicUrl,
  };
}
