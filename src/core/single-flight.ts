// "Run again after the current pass": the loop every background worker needs. Invariants:
// - At most one pass runs at a time.
// - A trigger during a pass is never lost: exactly one more pass runs after it, however many triggers came.
// - The promise a trigger returns settles once a pass that started after the trigger has finished, so a
//   caller that awaits it sees its own change handled.
// - A pass that throws is reported to `onError` and does not stop later passes.

export interface SingleFlight {
  /** Asks for a pass; resolves when a pass that began after this call has ended. */
  trigger(): Promise<void>;
  /** True while a pass runs. */
  readonly busy: boolean;
  /** Resolves when no pass runs and none is asked for. */
  idle(): Promise<void>;
}

export function singleFlight(pass: () => Promise<void>, onError: (err: unknown) => void): SingleFlight {
  let running: Promise<void> | null = null;
  let again = false;
  let waiters: Array<() => void> = [];

  const loop = async () => {
    do {
      again = false;
      const mine = waiters;
      waiters = [];
      try {
        await pass();
      } catch (err) {
        onError(err);
      }
      for (const w of mine) w();
    } while (again);
    running = null;
  };

  return {
    trigger() {
      return new Promise<void>((resolve) => {
        waiters.push(resolve);
        if (running) again = true;
        else running = loop();
      });
    },
    get busy() {
      return running !== null;
    },
    async idle() {
      while (running) await running;
    },
  };
}
