import pino, { type Logger } from "pino";
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

export function createLogger(level: LogLevel): Logger {
  const pretty = process.stdout.isTTY;
  return pino({
    level,
    redact: { paths: REDACT, censor: "[redacted]" },
    ...(pretty ? { transport: { target: "pino-pretty", options: { colorize: true } } } : {}),
  });
}
