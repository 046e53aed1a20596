import {
  LogController,
  type FastifyBaseLogger,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from "fastify";
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

type Level = Exclude<LogLevel, "silent">;
type ChildLoggerFactory = NonNullable<FastifyServerOptions["childLoggerFactory"]>;

/**
 * A request's logger (Fastify's `childLoggerFactory`): the pino child carrying the request id is made the first
 * time the request logs at a level the server's logger has enabled, instead of for every request. Making it
 * costs a few µs (pino serializes the bindings). The gain is at `warn` and above, where most requests log
 * nothing; at `info` and below Fastify's own "incoming request" line makes the child on every request, as
 * before. The level is read from the server's logger at each call, as a child made at once would follow it.
 */
export function requestLogger(
  logger: FastifyBaseLogger,
  bindings: Bindings,
  opts: ChildLoggerOptions,
): FastifyBaseLogger {
  if (Object.keys(opts).length > 0 || !isPino(logger)) return logger.child(bindings, opts);
  return new RequestLogger(logger, bindings);
}

/** `requestLogger` as the server's `childLoggerFactory`. */
export const requestLoggerFactory: ChildLoggerFactory = (logger, bindings, opts) =>
  requestLogger(logger, bindings, opts);

// Only pino can be asked which levels it logs; any other logger gets its child at once.
const isPino = (l: FastifyBaseLogger): l is Logger => typeof (l as Partial<Logger>).isLevelEnabled === "function";

class RequestLogger implements FastifyBaseLogger {
  readonly #parent: Logger;
  readonly #bindings: Bindings;
  #child: Logger | undefined;
  constructor(parent: Logger, bindings: Bindings) {
    this.#parent = parent;
    this.#bindings = bindings;
  }
  #made(): Logger {
    return (this.#child ??= this.#parent.child(this.#bindings));
  }
  #log(level: Level, args: unknown[]): void {
    if (!this.#child && !this.#parent.isLevelEnabled(level)) return;
    (this.#made()[level] as (...a: unknown[]) => void)(...args);
  }
  get level(): string {
    return this.#child?.level ?? this.#parent.level;
  }
  set level(level: string) {
    this.#made().level = level;
  }
  // Methods on the prototype, not a closure each per request.
  fatal(...args: unknown[]): void {
    this.#log("fatal", args);
  }
  error(...args: unknown[]): void {
    this.#log("error", args);
  }
  warn(...args: unknown[]): void {
    this.#log("warn", args);
  }
  info(...args: unknown[]): void {
    this.#log("info", args);
  }
  debug(...args: unknown[]): void {
    this.#log("debug", args);
  }
  trace(...args: unknown[]): void {
    this.#log("trace", args);
  }
  silent(): void {}
  child(bindings: Bindings, opts?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#made().child(bindings, opts);
  }
  isLevelEnabled(level: string): boolean {
    return (this.#child ?? this.#parent).isLevelEnabled(level);
  }
}

/**
 * Fastify's log controller (its `logController` option): its per-request lines, "incoming request" and
 * "request completed", are skipped when the request's logger does not write `info` at the time (the server's
 * level, or a route's own), before Fastify builds their objects and asks for them; a request that failed is
 * still handed on. Every other line (errors, streams cut short) is Fastify's own. Measured on one core: the
 * heartbeat spent ~10 µs a request on what Fastify does for a logger, at a level where none of it is written
 * (bench/README.md).
 */
export function requestLogController(): LogController {
  // A logger that cannot be asked gets Fastify's own behaviour.
  const info = (log: FastifyBaseLogger) => !isPino(log) || log.isLevelEnabled("info");
  return new (class extends LogController {
    override incomingRequest(request: FastifyRequest, reply: FastifyReply, metadata?: Record<string, unknown>) {
      if (info(request.log)) super.incomingRequest(request, reply, metadata);
    }
    override requestCompleted(
      error: Error | null | undefined,
      request: FastifyRequest,
      reply: FastifyReply,
      metadata?: Record<string, unknown>,
    ) {
      if (error || info(reply.log)) super.requestCompleted(error, request, reply, metadata);
    }
  })();
}
