import { describe, expect, test } from "vitest";
import { singleFlight } from "../../src/core/single-flight.js";

const tick = () => new Promise((r) => setTimeout(r, 5));

describe("singleFlight", () => {
  test("one pass at a time; triggers during a pass make exactly one more pass", async () => {
    let concurrent = 0;
    let maxConcurrent = 0;
    let passes = 0;
    const sf = singleFlight(
      async () => {
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        passes++;
        await tick();
        concurrent--;
      },
      () => {},
    );
    const first = sf.trigger();
    expect(sf.busy).toBe(true);
    const during = [sf.trigger(), sf.trigger(), sf.trigger()];
    await Promise.all([first, ...during]);
    expect(passes).toBe(2);
    expect(maxConcurrent).toBe(1);
    expect(sf.busy).toBe(false);
  });

  test("a trigger resolves only after a pass that began after it has ended", async () => {
    const seen: number[] = [];
    let value = 0;
    const sf = singleFlight(
      async () => {
        const v = value;
        await tick();
        seen.push(v);
      },
      () => {},
    );
    void sf.trigger();
    value = 1;
    await sf.trigger();
    expect(seen).toEqual([0, 1]);
  });

  test("a failing pass is reported and later passes still run", async () => {
    const errors: unknown[] = [];
    let n = 0;
    const sf = singleFlight(
      async () => {
        n++;
        if (n === 1) throw new Error("boom");
      },
      (err) => errors.push(err),
    );
    await sf.trigger();
    await sf.trigger();
    expect(n).toBe(2);
    expect(errors.map((e) => (e as Error).message)).toEqual(["boom"]);
  });

  test("idle() waits for the passes asked for", async () => {
    let done = 0;
    const sf = singleFlight(
      async () => {
        await tick();
        done++;
      },
      () => {},
    );
    void sf.trigger();
    void sf.trigger();
    await sf.idle();
    expect(done).toBe(2);
  });
});
