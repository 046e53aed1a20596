import pino, { type DestinationStream, type Logger } from "pino";
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
