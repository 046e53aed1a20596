import pino, { type Bindings, type ChildLoggerOptions, type DestinationStream, type Logger } from "pino";
import type { LogLevel } from "./config.js";

/** Secrets that may pass through a request must never reach a log line. */
const REDACT = [
  "req.headers.authorization",
  'req.headers["x-hub-signature-256"]',
  "token",
  "*.token",
  "config.token",
  "config.secret",
  "config.password",
  "config.key",
];

/** The server's logger: JSON lines on stdout (pretty on a terminal), or into `destination` (tests). */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const options = { level, redact: { paths: REDACT, censor: "[redacted]" } };
  if (destination) return pino(options, destination);
  const pretty = process.stdout.isTTY;
  return pino({
    ...options,
    ...(pretty ? { transport: { target: "pino-pretty", options: { colorize: true } } } : {}),
  });
}

type Level = "fatal" | "error" | "warn" | "info" | "debug" | "trace";

/**
 * A request's logger (Fastify's `childLoggerFactory`): the pino child carrying the request id is made the first
 * time something is logged at a level the server logs, not for every request. Making it costs a few µs (pino
 * serializes the bindings), and at the usual levels most requests log nothing. The level is read from the
 * server's logger at each call, so a level changed later counts, as it would for a child made at once.
 */
export function requestLoggerFactory(logger: Logger, bindings: Bindings, opts: ChildLoggerOptions): Logger {
  if (Object.keys(opts).length > 0) return logger.child(bindings, opts);
  return new RequestLogger(logger, bindings) as unknown as Logger;
}

class RequestLogger {
  #made: Logger | undefined;
  constructor(
    private readonly parent: Logger,
    private readonly bindings: Bindings,
  ) {}
  private get made(): Logger {
    return (this.#made ??= this.parent.child(this.bindings));
  }
  private log(level: Level, args: unknown[]): void {
    if (!this.#made && !this.parent.isLevelEnabled(level)) return;
    (this.made[level] as (...a: unknown[]) => void)(...args);
  }
  get level(): string {
    return this.#made?.level ?? this.parent.level;
  }
  set level(level: string) {
    this.made.level = level;
  }
  fatal(...args: unknown[]) {
    this.log("fatal", args);
  }
  error(...args: unknown[]) {
    this.log("error", args);
  }
  warn(...args: unknown[]) {
    this.log("warn", args);
  }
  info(...args: unknown[]) {
    this.log("info", args);
  }
  debug(...args: unknown[]) {
    this.log("debug", args);
  }
  trace(...args: unknown[]) {
    this.log("trace", args);
  }
  silent() {}
  child(bindings: Bindings, opts?: ChildLoggerOptions): Logger {
    return this.made.child(bindings, opts);
  }
  isLevelEnabled(level: string): boolean {
    return (this.#made ?? this.parent).isLevelEnabled(level);
  }
}
