// A request's logger is made lazily (src/logger.ts requestLogger): what it writes must be exactly what pino's
// own child would have written, the request id bound, at the server logger's level at the time of the call;
// and at a level where a request logs nothing, no child is made. Real pino, real server, lines captured from
// the destination; `child` is watched with a spy that calls through.
import { Writable } from "node:stream";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "pino";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { buildApp, type App } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import { createLogger, requestLogController, requestLogger } from "../../src/logger.js";
import { createTestDb, type TestDb } from "../harness.js";

function sink() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split("\n")) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, stream };
}

describe("requestLogger", () => {
  test("writes nothing below the server's level and makes no child for it; what it writes carries the bindings", () => {
    const { lines, stream } = sink();
    const server = createLogger("warn", stream);
    const child = vi.spyOn(server, "child");
    const log = requestLogger(server, { reqId: "r-1" }, {});
    log.info("not written");
    log.debug({ a: 1 }, "not written");
    log.trace("not written");
    expect(lines).toEqual([]);
    expect(child).not.toHaveBeenCalled();
    log.warn({ task_id: "t-1" }, "written");
    log.error(new Error("boom"), "an error");
    expect(lines.map((l) => [l.level, l.reqId, l.msg, l.task_id])).toEqual([
      [40, "r-1", "written", "t-1"],
      [50, "r-1", "an error", undefined],
    ]);
    expect((lines[1]!.err as { message: string }).message).toBe("boom");
    expect(child).toHaveBeenCalledTimes(1);
  });

  test("writes the same lines as pino's own child", () => {
    const lazy = sink();
    const eager = sink();
    const servers = [createLogger("info", lazy.stream), createLogger("info", eager.stream)] as const;
    const logs = [requestLogger(servers[0], { reqId: "r-0" }, {}), servers[1].child({ reqId: "r-0" })];
    for (const [i, log] of logs.entries()) {
      log.debug("below the level");
      log.info({ token: "mc_secret_value", n: 1 }, "with a secret");
      log.warn(new Error("an error"), "with an error");
      servers[i]!.level = "debug";
      log.debug("the server's level lowered");
      log.child({ tool: "t" }).error("from a child");
    }
    const strip = (l: Record<string, unknown>) => {
      const { time: _time, pid: _pid, err, ...rest } = l;
      return { ...rest, err: err === undefined ? undefined : (err as { message: string }).message };
    };
    expect(lazy.lines.map(strip)).toEqual(eager.lines.map(strip));
    expect(lazy.lines.map((l) => l.msg)).toEqual([
      "with a secret",
      "with an error",
      "the server's level lowered",
      "from a child",
    ]);
  });

  test("follows the server's level as it changes, and its own once set", () => {
    const { lines, stream } = sink();
    const server = createLogger("warn", stream);
    const log = requestLogger(server, { reqId: "r-2" }, {});
    expect(log.level).toBe("warn");
    server.level = "info";
    expect(log.level).toBe("info");
    expect((log as unknown as Logger).isLevelEnabled("info")).toBe(true);
    log.info("now written");
    log.level = "error";
    log.warn("not written: its own level is error");
    server.level = "trace";
    log.debug("not written either");
    log.error("written");
    expect(lines.map((l) => [l.reqId, l.msg])).toEqual([
      ["r-2", "now written"],
      ["r-2", "written"],
    ]);
  });

  test("a child of it carries both bindings; child options make a real child at once", () => {
    const { lines, stream } = sink();
    const server = createLogger("info", stream);
    requestLogger(server, { reqId: "r-3" }, {}).child({ tool: "x" }).info("from the child");
    requestLogger(server, { reqId: "r-4" }, { level: "error" }).info("not written: level error");
    expect(lines.map((l) => [l.reqId, l.tool, l.msg])).toEqual([["r-3", "x", "from the child"]]);
  });

  test("redaction applies to what it writes", () => {
    const { lines, stream } = sink();
    const server = createLogger("info", stream);
    requestLogger(server, { reqId: "r-5" }, {}).info({ token: "mc_secret_value" }, "a token");
    expect(lines[0]!.token).toBe("[redacted]");
  });
});

describe("requestLogController", () => {
  // What Fastify hands the controller: a request and a reply whose logger (at the server's level) is watched.
  function exchange(server: Logger) {
    const log = { info: vi.fn(), error: vi.fn(), isLevelEnabled: (l: string) => server.isLevelEnabled(l) };
    const request = { log } as unknown as FastifyRequest;
    const reply = { log, elapsedTime: 1.5 } as unknown as FastifyReply;
    return { log, request, reply };
  }

  test("below info, Fastify's per-request lines are not even asked for; a failed request still is", () => {
    const server = createLogger("warn", sink().stream);
    const controller = requestLogController();
    const { log, request, reply } = exchange(server);
    controller.incomingRequest(request, reply);
    controller.requestCompleted(null, request, reply);
    expect(log.info).not.toHaveBeenCalled();
    controller.requestCompleted(new Error("stream cut"), request, reply);
    expect(log.error).toHaveBeenCalledTimes(1);
    expect(log.error.mock.calls[0]![1]).toBe("request errored");
    // A route's own level (a request logger that writes info) decides for its requests.
    const routeAtInfo = exchange(createLogger("info", sink().stream));
    controller.incomingRequest(routeAtInfo.request, routeAtInfo.reply);
    expect(routeAtInfo.log.info.mock.calls.map((c) => c[1])).toEqual(["incoming request"]);
  });

  test("at info (also once the level is lowered at run time) they are Fastify's own", () => {
    const server = createLogger("warn", sink().stream);
    const controller = requestLogController();
    server.level = "info";
    const { log, request, reply } = exchange(server);
    controller.incomingRequest(request, reply);
    controller.requestCompleted(null, request, reply);
    expect(log.info.mock.calls.map((c) => c[1])).toEqual(["incoming request", "request completed"]);
    expect(log.info.mock.calls[1]![0]).toEqual({ res: reply, responseTime: 1.5 });
  });
});

describe("the server's request logs", () => {
  let db: TestDb;
  let app: App;
  const { lines, stream } = sink();
  beforeAll(async () => {
    db = await createTestDb();
    const config = loadConfig({ MC_DATA_DIR: "/tmp/mc-test-unused", MC_MAX_EVENT_LOOP_DELAY_MS: "0" });
    app = await buildApp({ config, database: db.database, logger: createLogger("info", stream) });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    await db.drop();
  });

  test("every line of a request carries its id, and no other request's", async () => {
    const ids = ["req-log-a", "req-log-b", "req-log-c"];
    const answers = await Promise.all(
      ids.map((id) => app.inject({ method: "GET", url: "/api/missions", headers: { "x-request-id": id } })),
    );
    expect(answers.map((a) => [a.statusCode, a.headers["x-request-id"]])).toEqual(ids.map((id) => [401, id]));
    for (const id of ids) {
      const mine = lines.filter((l) => l.reqId === id);
      expect(mine.map((l) => l.msg)).toEqual(["incoming request", "request completed"]);
      expect((mine[1]!.res as { statusCode: number }).statusCode).toBe(401);
    }
    expect(lines.filter((l) => l.msg === "incoming request" && !ids.includes(String(l.reqId)))).toEqual([]);
  });

  test("at warn, a request that logs nothing makes no child logger; one that logs gets its id bound", async () => {
    const child = vi.spyOn(app.log, "child");
    app.log.level = "warn";
    try {
      const before = lines.length;
      const r = await app.inject({ method: "GET", url: "/api/missions", headers: { "x-request-id": "req-log-d" } });
      expect(r.statusCode).toBe(401);
      expect(child).not.toHaveBeenCalled();
      expect(lines.length).toBe(before);
      // The request's logger as the server hands it out, used at an enabled level.
      const log = app.childLoggerFactory.call(app, app.log, { reqId: "req-log-e" }, {}, r.raw.req);
      log.warn("logged");
      expect(child).toHaveBeenCalledTimes(1);
      expect(lines.slice(before).map((l) => [l.reqId, l.msg])).toEqual([["req-log-e", "logged"]]);
    } finally {
      app.log.level = "info";
      child.mockRestore();
    }
  });
});
