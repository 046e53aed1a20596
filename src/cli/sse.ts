// The live event stream (GET /api/events, server-sent events) read with fetch streaming. A dropped connection
// is resumed with Last-Event-ID, so stored events are not lost or repeated (live-only ones, heartbeats and log
// lines, may be missed during the gap, as the contract says).
import { setTimeout as sleep } from "node:timers/promises";
import { api, CliError, EXIT, unreachable, type Connection } from "./context.js";

export interface LiveEvent {
  id: string | null;
  data: Record<string, unknown>;
}

export interface StreamOptions {
  query: Record<string, string | undefined>;
  signal?: AbortSignal;
  /** Told about a drop and the wait before the next attempt (stderr). */
  onReconnect?: (why: string) => void;
}

const MAX_BACKOFF_MS = 5_000;

export async function* liveEvents(conn: Connection, opts: StreamOptions): AsyncGenerator<LiveEvent> {
  let lastId: string | null = null;
  let connectedOnce = false;
  let backoff = 250;
  while (!opts.signal?.aborted) {
    let body: ReadableStream<Uint8Array> | null = null;
    try {
      const call: Promise<{ data?: unknown; error?: unknown; response: Response }> = conn.client.GET("/api/events", {
        params: { query: opts.query as never },
        headers: lastId !== null ? { "last-event-id": lastId } : {},
        parseAs: "stream",
        signal: opts.signal,
      });
      // A refusal (4xx) ends the command; the server answering 5xx or not at all is retried once we have been in.
      body = (await api<ReadableStream<Uint8Array> | null>(call, conn)) ?? null;
    } catch (err) {
      if (opts.signal?.aborted) return;
      const fatal = err instanceof CliError && err.exitCode === EXIT.refused;
      if (fatal || !connectedOnce) throw err instanceof CliError ? err : unreachable(conn, err);
      opts.onReconnect?.(err instanceof Error ? err.message : String(err));
      await sleep(backoff, undefined, { signal: opts.signal }).catch(() => undefined);
      backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
      continue;
    }
    connectedOnce = true;
    backoff = 250;
    try {
      for await (const ev of frames(body!, opts.signal) as AsyncGenerator<LiveEvent>) {
        if (ev.id !== null) lastId = ev.id;
        yield ev;
      }
      if (opts.signal?.aborted) return;
      opts.onReconnect?.("the server closed the stream");
    } catch (err) {
      if (opts.signal?.aborted) return;
      opts.onReconnect?.(err instanceof Error ? err.message : String(err));
    }
    await sleep(backoff, undefined, { signal: opts.signal }).catch(() => undefined);
  }
}

/**
 * Parses SSE frames: `id:` and `data:` lines, a blank line ends a frame, `:` lines are comments. An abort
 * cancels the body itself: fetch stops passing its signal on to a response's body once the request object has
 * been garbage-collected, and a stream that only ever sends keep-alives would then hold Ctrl-C off forever.
 */
async function* frames(body: ReadableStream<Uint8Array>, signal?: AbortSignal): AsyncGenerator<LiveEvent> {
  const reader = body.getReader();
  const cancel = () => void reader.cancel().catch(() => undefined);
  if (signal?.aborted) cancel();
  signal?.addEventListener("abort", cancel, { once: true });
  try {
    yield* parse(reader);
  } finally {
    // Also when the reader of these frames stops early: the connection is not left open behind it.
    signal?.removeEventListener("abort", cancel);
    cancel();
  }
}

async function* parse(reader: ReadableStreamDefaultReader<Uint8Array>): AsyncGenerator<LiveEvent> {
  const decoder = new TextDecoder();
  let buf = "";
  let id: string | null = null;
  let data: string[] = [];
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    buf += decoder.decode(r.value, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl).replace(/\r$/, "");
      buf = buf.slice(nl + 1);
      if (line === "") {
        if (data.length > 0) {
          try {
            yield { id, data: JSON.parse(data.join("\n")) as Record<string, unknown> };
          } catch {
            // A frame that is not JSON is not one of ours: skipped.
          }
        }
        id = null;
        data = [];
      } else if (line.startsWith(":")) {
        continue;
      } else if (line.startsWith("id:")) {
        id = line.slice(3).trim();
      } else if (line.startsWith("data:")) {
        data.push(line.slice(5).replace(/^ /, ""));
      }
    }
  }
}
