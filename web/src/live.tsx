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

/** Calls the latest `fn` after the stream reconnects (live-only events of the gap are gone: re-read). */
export function useResume(fn: () => void) {
  const s = useStream();
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => s.onResume(() => ref.current()), [s]);
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
