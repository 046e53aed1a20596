// GET /api/events: server-sent events. Each stream's invariants:
// - Trace entries arrive in id order, each once, with `id:` = the trace id. With Last-Event-ID (header, or
//   `last_event_id` for clients that cannot set it) the stream first replays the matching entries after that
//   id up to the bus's horizon from the table, then continues with what the bus publishes past the horizon:
//   a client that reconnects with the last id it saw misses nothing and sees nothing twice.
// - Ephemeral events (agent heartbeats, task log lines) carry no `id:`, so they never move a client's Last-Event-ID.
// - A client that does not keep up is disconnected rather than buffered without bound; it reconnects with
//   its Last-Event-ID and catches up from the table.
// - When the client goes away or the app closes, the subscription, the keep-alive timer and the response
//   are all released.
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { Invalid, ServiceUnavailable } from "../core/errors.js";
import type { EventBus, LiveEvent, Subscription } from "./events.bus.js";
import { EventsQuery } from "./trace.schemas.js";
import type { LiveFilter, TraceService } from "./trace.service.js";

export interface EventsRoutesOptions {
  trace: TraceService;
  events: EventBus;
  /** Interval of the keep-alive comments (default 15 s). */
  keepAliveMs?: number;
}

/** Events that arrive while the replay runs wait in memory; beyond this many the client must reconnect. */
const MAX_QUEUED = 10_000;
/** Bytes a client may fall behind before it is disconnected. */
const MAX_UNSENT = 1024 * 1024;
const REPLAY_PAGE = 500;

function matches(
  f: LiveFilter,
  e: { event: string; mission_id: string | null; task_id: string | null; agent_id: string | null },
) {
  return (
    (f.missionId === undefined || e.mission_id === f.missionId) &&
    (f.taskId === undefined || e.task_id === f.taskId) &&
    (f.agentId === undefined || e.agent_id === f.agentId) &&
    (f.event === undefined || e.event === f.event)
  );
}

function frame(id: number | null, payload: unknown): string {
  return `${id === null ? "" : `id: ${id}\n`}data: ${JSON.stringify(payload)}\n\n`;
}

/** Resolves when the socket can take more, or is gone; leaves no listener behind. */
function drained(res: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

function lastEventId(header: string | string[] | undefined, query: string | undefined): number | null {
  const raw = (Array.isArray(header) ? header[0] : header) ?? query;
  if (raw === undefined || raw.trim() === "") return null;
  if (!/^\d{1,15}$/.test(raw.trim())) throw Invalid.field("last_event_id", "must be a trace entry id");
  return Number(raw.trim());
}

export const eventsRoutes: FastifyPluginAsyncTypebox<EventsRoutesOptions> = async (
  app,
  { trace, events, keepAliveMs = 15_000 },
) => {
  app.get(
    "/api/events",
    {
      config: { access: "member" },
      schema: {
        tags: ["trace"],
        summary: "Live event stream",
        operationId: "streamEvents",
        description:
          "Server-sent events: every new trace entry (filters `mission_id`, `task_id`, `agent_id` by id or key, and " +
          "`event`), as `id: <trace id>` and `data: <the entry as JSON>` (no `event:` field, so `onmessage` receives " +
          "everything). Reconnecting with `Last-Event-ID` replays the entries missed since that id, then continues " +
          "live. Agent heartbeats appear as `agent.heartbeat` without an id (they are not stored; at most one per agent a second). " +
          "Task log lines appear as they are written (agents' reports, runs' output) as `task.log` events without an id: " +
          '`{"event": "task.log", "task_id", "mission_id", "agent_id", "lines": [{"message", "level"?, "timestamp"}]}`; ' +
          "they are not stored twice (the lines are the task's `logs`), not replayed on resume (re-read the task's logs), and a line " +
          "longer than 6000 bytes as JSON is cut with a marker. The filters apply to them (`task_id` to tail one task). A comment line is " +
          "sent every 15 s to keep the connection open.",
        querystring: EventsQuery,
        response: {
          200: { description: "text/event-stream", content: { "text/event-stream": { schema: Type.String() } } },
        },
      },
    },
    async (req, reply) => {
      const after = lastEventId(req.headers["last-event-id"], req.query.last_event_id);
      const filter = await trace.liveFilter(req.query);

      let live = false;
      let ended = false;
      const queue: LiveEvent[] = [];
      const res = reply.raw;
      let sub: Subscription | null = null;
      let keepAlive: NodeJS.Timeout | null = null;

      const end = () => {
        if (ended) return;
        ended = true;
        if (keepAlive) clearInterval(keepAlive);
        sub?.close();
        queue.length = 0;
        if (!res.writableEnded) res.end();
      };
      const send = (chunk: string) => {
        if (ended) return;
        res.write(chunk);
        if (res.writableLength > MAX_UNSENT) end();
      };

      try {
        sub = await events.subscribe({
          onEvent(e) {
            if (ended || filter === null || !matches(filter, e)) return;
            if (live) send(frame(e.id, e.payload));
            else if (queue.push(e) > MAX_QUEUED) end();
          },
          onEnd: end,
        });
      } catch (err) {
        req.log.error({ err }, "event stream unavailable");
        throw new ServiceUnavailable("The event stream is unavailable", 5);
      }
      const horizon = sub.horizon;

      reply.hijack();
      res.writeHead(200, {
        ...(reply.getHeaders() as Record<string, string>),
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache, no-transform",
        connection: "keep-alive",
        "x-accel-buffering": "no",
      });
      res.on("close", end);
      res.write("retry: 2000\n\n");
      keepAlive = setInterval(() => send(": keep-alive\n\n"), keepAliveMs);
      keepAlive.unref();

      try {
        if (after !== null && filter !== null) {
          let cursor = after;
          while (!ended && cursor < horizon) {
            const page = await trace.listRange(filter, cursor, horizon, REPLAY_PAGE);
            for (const e of page) {
              if (ended) break;
              if (!res.write(frame(e.id, e))) await drained(res);
            }
            if (page.length < REPLAY_PAGE) break;
            cursor = page[page.length - 1]!.id;
          }
        }
        // Everything queued meanwhile is past the horizon, in id order: send it, then go live.
        for (const e of queue.splice(0)) send(frame(e.id, e.payload));
        live = true;
      } catch (err) {
        req.log.error({ err }, "event stream replay failed");
        end();
      }
    },
  );
};
