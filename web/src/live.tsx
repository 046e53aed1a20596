// React access to the tab's one event stream: subscribe to events, to resumes, and to the indicator state.
import { createContext, useContext, useEffect, useRef, useState, useSyncExternalStore } from "react";
import type { EventStream, StreamEvent, StreamState } from "./events";

export const StreamContext = createContext<EventStream | null>(null);

function useStream(): EventStream {
  const s = useContext(StreamContext);
  if (!s) throw new Error("no event stream");
  return s;
}

export function useStreamState(): StreamState {
  const s = useStream();
  return useSyncExternalStore(
    (cb) => s.onState(cb),
    () => s.state,
  );
}

/** Calls the latest `fn` for every event; the subscription lives as long as the component. */
export function useEvents(fn: (e: StreamEvent) => void) {
  const s = useStream();
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => s.subscribe((e) => ref.current(e)), [s]);
}

/**
 * Calls the latest `fn` on each connection of the stream that the component's own reads may predate: the
 * first one if the component mounted (and read) before the stream was open, since a change between that read
 * and the stream's start is in neither; and, with `reconnects`, every reconnection, since live-only events
 * (log lines, heartbeats) of the gap are not replayed. Stored events of a gap are replayed (Last-Event-ID),
 * so a screen that only follows those needs no re-read on a reconnection.
 */
export function useConnected(fn: () => void, { reconnects }: { reconnects: boolean }) {
  const s = useStream();
  const ref = useRef(fn);
  ref.current = fn;
  // The number of connections already open when the component first rendered (and started its reads).
  const atMount = useRef(s.connections);
  useEffect(() => {
    const off = s.onConnected((n) => {
      if (atMount.current === 0 && n === 1) ref.current();
      else if (n > 1 && reconnects) ref.current();
    });
    // The first connection opened between the render and this subscription: re-read now.
    if (atMount.current === 0 && s.connections > 0) {
      atMount.current = s.connections;
      ref.current();
    }
    return off;
  }, [s, reconnects]);
}

/** Re-reads on every connection the component's reads may predate (see useConnected). */
export function useResume(fn: () => void) {
  useConnected(fn, { reconnects: true });
}

/**
 * Collects keys (task ids, agent ids) from events and hands them over at most every `ms`, so a burst of
 * events costs one re-read per record rather than one per event.
 */
export function useBatch(flush: (keys: Set<string>) => void, ms = 150): (key: string) => void {
  const pending = useRef(new Set<string>());
  const timer = useRef<number | null>(null);
  const ref = useRef(flush);
  ref.current = flush;
  useEffect(
    () => () => {
      if (timer.current !== null) clearTimeout(timer.current);
    },
    [],
  );
  return (key: string) => {
    pending.current.add(key);
    if (timer.current !== null) return;
    timer.current = window.setTimeout(() => {
      timer.current = null;
      const keys = pending.current;
      pending.current = new Set();
      ref.current(keys);
    }, ms);
  };
}

/** The current time, ticking every second: ages ("12 s ago") stay true without re-reads. */
let now = Date.now();
const tickers = new Set<() => void>();
setInterval(() => {
  now = Date.now();
  for (const t of tickers) t();
}, 1000);
export function useNow(): number {
  return useSyncExternalStore(
    (cb) => {
      tickers.add(cb);
      return () => tickers.delete(cb);
    },
    () => now,
  );
}

export function useAsync<T>(
  load: () => Promise<T>,
  deps: unknown[],
): { data: T | null; error: string | null; reload: () => void } {
  const [state, setState] = useState<{ data: T | null; error: string | null }>({ data: null, error: null });
  const [n, setN] = useState(0);
  useEffect(() => {
    let cancelled = false;
    load().then(
      (data) => !cancelled && setState({ data, error: null }),
      (err: unknown) =>
        !cancelled && setState((s) => ({ data: s.data, error: err instanceof Error ? err.message : String(err) })),
    );
    return () => {
      cancelled = true;
    };
  }, [...deps, n]);
  return { ...state, reload: () => setN((x) => x + 1) };
}
