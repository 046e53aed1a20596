// The one live connection of a tab: GET /api/events read as a fetch stream, so the token travels in the
// Authorization header (EventSource could only put it in the URL). Invariants:
// - At most one connection at a time; every screen subscribes to this one stream.
// - The id of the last stored event seen is sent as Last-Event-ID on every reconnect, so the server replays
//   what was missed: nothing is lost and nothing is seen twice. Live-only events (agent.heartbeat,
//   task.log) carry no id and are not replayed; subscribers are told of each connection (`onConnected`, with
//   its number: 1 for the first) so they re-read what such events would have told them.
// - The first connection has no id to resume from: a screen that read the API before it was open re-reads
//   on it (live.tsx), so a change between that read and the stream's start is not lost.
// - `Live` only while a response is open and reading; any end or error shows `Reconnecting` and retries
//   with a capped backoff.
import { SseParser } from "./sse";

export interface StreamEvent {
  id: number | null;
  event: string;
  mission_id?: string | null;
  task_id?: string | null;
  agent_id?: string | null;
  at?: string;
  actor?: string;
  data?: Record<string, unknown>;
  lines?: Array<{ message: string; level?: string; timestamp: string }>;
}

export type StreamState = "live" | "reconnecting";

type Listener = (e: StreamEvent) => void;

export class EventStream {
  private listeners = new Set<Listener>();
  private stateListeners = new Set<(s: StreamState) => void>();
  private connectedListeners = new Set<(n: number) => void>();
  /** How many connections have been open so far (a screen compares it with the number at its own read). */
  connections = 0;
  private lastId: string | null = null;
  private abort: AbortController | null = null;
  private stopped = true;
  private attempt = 0;
  private retryMs = 2000;
  state: StreamState = "reconnecting";

  constructor(
    private readonly url: string,
    private readonly token: () => string | null,
    private readonly onUnauthorized: () => void,
  ) {}

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    void this.loop();
  }

  stop() {
    this.stopped = true;
    this.abort?.abort();
    this.abort = null;
    this.setState("reconnecting");
  }

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
  onState(fn: (s: StreamState) => void): () => void {
    this.stateListeners.add(fn);
    return () => this.stateListeners.delete(fn);
  }
  onConnected(fn: (n: number) => void): () => void {
    this.connectedListeners.add(fn);
    return () => this.connectedListeners.delete(fn);
  }

  private setState(s: StreamState) {
    if (this.state === s) return;
    this.state = s;
    for (const fn of this.stateListeners) fn(s);
  }

  private async loop() {
    while (!this.stopped) {
      const ended = await this.connectOnce();
      if (this.stopped) return;
      this.setState("reconnecting");
      if (ended === "unauthorized") {
        this.stopped = true;
        this.onUnauthorized();
        return;
      }
      // A clean end (server restart, slow-client cut) retries at the server's `retry:`; errors back off.
      const wait = ended === "ended" ? this.retryMs : Math.min(this.retryMs * 2 ** Math.min(this.attempt, 3), 15_000);
      this.attempt++;
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  private async connectOnce(): Promise<"ended" | "error" | "unauthorized"> {
    const token = this.token();
    if (!token) return "unauthorized";
    const abort = new AbortController();
    this.abort = abort;
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: "text/event-stream" };
    if (this.lastId !== null) headers["last-event-id"] = this.lastId;
    let res: Response;
    try {
      res = await fetch(this.url, { headers, signal: abort.signal, cache: "no-store" });
    } catch {
      return "error";
    }
    if (res.status === 401) return "unauthorized";
    if (!res.ok || !res.body) {
      await res.body?.cancel().catch(() => undefined);
      return "error";
    }
    this.attempt = 0;
    this.connections++;
    this.setState("live");
    for (const fn of this.connectedListeners) fn(this.connections);
    const parser = new SseParser();
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return "ended";
        for (const m of parser.push(value)) {
          if (parser.retryMs !== null) this.retryMs = parser.retryMs;
          let e: StreamEvent;
          try {
            e = JSON.parse(m.data) as StreamEvent;
          } catch {
            continue;
          }
          if (m.id !== null) this.lastId = m.id;
          if (typeof e.id !== "number") e.id = null;
          for (const fn of this.listeners) {
            try {
              fn(e);
            } catch (err) {
              console.warn("event listener failed", err);
            }
          }
        }
        if (parser.retryMs !== null) this.retryMs = parser.retryMs;
      }
    } catch {
      return this.stopped ? "ended" : "error";
    } finally {
      reader.releaseLock();
    }
  }
}
