// A background loop of the server process (a scheduler, a worker, a timer that flushes what is held in memory),
// as the composition root hands it to whoever runs the process. Invariants the runner keeps: daemons start one
// at a time in the order given and stop one at a time in the reverse order, so a daemon started after another
// may rely on it until it has stopped itself; every daemon is stopped even when one fails to stop.

export interface Daemon {
  readonly name: string;
  start(): Promise<void>;
  /** Ends the loop and waits for the pass in progress; what it holds in memory is written first. */
  stop(): Promise<void>;
  /**
   * Called as the server begins to close, before it waits for the requests in flight: a daemon that holds
   * requests open (a live stream) lets them go here, or the server would wait for them forever.
   */
  drain?(): Promise<void>;
}

/** A daemon from whichever of start and stop its loop has (the other does nothing). */
export function daemon(name: string, loop: { start?(): unknown; stop?(): unknown; drain?(): unknown }): Daemon {
  return {
    name,
    start: async () => void (await loop.start?.()),
    stop: async () => void (await loop.stop?.()),
    ...(loop.drain ? { drain: async () => void (await loop.drain?.()) } : {}),
  };
}

/** Starts each daemon in order; the first failure stops the start (and is thrown). */
export async function startDaemons(daemons: readonly Daemon[]): Promise<void> {
  for (const d of daemons) await d.start();
}

/** Drains every daemon that holds requests open, in reverse order. */
export async function drainDaemons(daemons: readonly Daemon[]): Promise<void> {
  for (const d of [...daemons].reverse()) await d.drain?.();
}

/**
 * Stops every daemon in reverse order. One that fails does not keep the others running: the rest are still
 * stopped, and the first failure is thrown at the end (named by its daemon).
 */
export async function stopDaemons(daemons: readonly Daemon[]): Promise<void> {
  let failure: unknown = null;
  for (const d of [...daemons].reverse()) {
    try {
      await d.stop();
    } catch (err) {
      failure ??= new Error(`stopping ${d.name} failed: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
  }
  if (failure !== null) throw failure;
}
