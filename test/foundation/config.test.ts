import { describe, expect, test } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";

describe("loadConfig", () => {
  test("defaults", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      host: "127.0.0.1",
      port: 4000,
      databaseUrl: null,
      adminToken: null,
      logLevel: "info",
      bodyLimit: 1024 * 1024,
      agentStaleAfterS: 300,
    });
    expect(c.dataDir.endsWith("/data")).toBe(true);
  });

  test("reads every variable", () => {
    const c = loadConfig({
      HOST: "0.0.0.0",
      PORT: "8080",
      DATABASE_URL: "postgres://u@h:5432/db",
      MC_DATA_DIR: "/tmp/x",
      MC_ADMIN_TOKEN: "0123456789abcdef",
      LOG_LEVEL: "DEBUG",
      MC_BODY_LIMIT: "2048",
    });
    expect(c).toMatchObject({
      host: "0.0.0.0",
      port: 8080,
      databaseUrl: "postgres://u@h:5432/db",
      dataDir: "/tmp/x",
      adminToken: "0123456789abcdef",
      logLevel: "debug",
      bodyLimit: 2048,
    });
  });

  test.each(["http://localhost:4000", "https://mc.example.com/base/"])("MC_PUBLIC_URL %s is taken as is", (u) => {
    expect(loadConfig({ MC_PUBLIC_URL: u }).publicUrl).toBe(u);
  });

  test("MC_PGLITE_SHARED_BUFFERS_MB: 32 by default", () => {
    expect(loadConfig({}).pgliteSharedBuffersMb).toBe(32);
    expect(loadConfig({ MC_PGLITE_SHARED_BUFFERS_MB: "128" }).pgliteSharedBuffersMb).toBe(128);
  });

  const bad: Array<[Record<string, string>, string]> = [
    [{ PORT: "abc" }, 'Invalid configuration: PORT must be an integer from 0 to 65535 (got "abc")'],
    [{ PORT: "70000" }, 'Invalid configuration: PORT must be an integer from 0 to 65535 (got "70000")'],
    [{ PORT: "-1" }, 'Invalid configuration: PORT must be an integer from 0 to 65535 (got "-1")'],
    [{ DATABASE_URL: "mysql://x" }, "Invalid configuration: DATABASE_URL must be a postgres:// or postgresql:// URL"],
    [{ DATABASE_URL: "not a url" }, "Invalid configuration: DATABASE_URL must be a postgres:// or postgresql:// URL"],
    [
      { LOG_LEVEL: "loud" },
      'Invalid configuration: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "loud")',
    ],
    [
      { MC_BODY_LIMIT: "1k" },
      'Invalid configuration: MC_BODY_LIMIT must be an integer from 1024 to 1073741824 (got "1k")',
    ],
    [{ MC_ADMIN_TOKEN: "short" }, "Invalid configuration: MC_ADMIN_TOKEN must be at least 16 characters long"],
    [{ HOST: "a b" }, 'Invalid configuration: HOST must be a host name or address (got "a b")'],
    [
      { MC_AGENT_STALE_AFTER_S: "0" },
      'Invalid configuration: MC_AGENT_STALE_AFTER_S must be an integer from 1 to 31536000 (got "0")',
    ],
    // Without a scheme `localhost:4000` parses as the scheme "localhost:": agents could not call it back.
    [
      { MC_PUBLIC_URL: "localhost:4000" },
      'Invalid configuration: MC_PUBLIC_URL must be an absolute http:// or https:// URL (got "localhost:4000")',
    ],
    [
      { MC_PUBLIC_URL: "mc.example.com" },
      'Invalid configuration: MC_PUBLIC_URL must be an absolute http:// or https:// URL (got "mc.example.com")',
    ],
    [
      { MC_PUBLIC_URL: "ftp://mc.example.com" },
      'Invalid configuration: MC_PUBLIC_URL must be an absolute http:// or https:// URL (got "ftp://mc.example.com")',
    ],
    [
      { MC_PUBLIC_URL: "/api" },
      'Invalid configuration: MC_PUBLIC_URL must be an absolute http:// or https:// URL (got "/api")',
    ],
    [
      { MC_PGLITE_SHARED_BUFFERS_MB: "0" },
      'Invalid configuration: MC_PGLITE_SHARED_BUFFERS_MB must be an integer from 1 to 1024 (got "0")',
    ],
    [
      { MC_PGLITE_SHARED_BUFFERS_MB: "32MB" },
      'Invalid configuration: MC_PGLITE_SHARED_BUFFERS_MB must be an integer from 1 to 1024 (got "32MB")',
    ],
  ];
  test.each(bad)("%j fails fast with one line naming the variable", (env, message) => {
    let err: unknown;
    try {
      loadConfig(env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(message);
    expect((err as Error).message).not.toContain("\n");
  });
});
