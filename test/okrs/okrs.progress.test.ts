// The progress and health rules on their own, against a fixed clock.
import { describe, expect, test } from "vitest";
import {
  deriveHealth,
  elapsedPct,
  healthOf,
  krProgress,
  objectiveProgress,
  pct,
  requirementCompletion,
  round1,
  type RequirementCompletionInput,
} from "../../src/okrs/okrs.progress.js";

const at = (iso: string) => new Date(iso);

/** An increase without a start unless the case says otherwise (what every key result was before directions). */
const kr = (x: {
  target: number | null;
  current: number | null;
  progress: number | null;
  direction?: string;
  startValue?: number | null;
}) => ({
  direction: "increase",
  startValue: null,
  ...x,
});

describe("key result progress", () => {
  test.each([
    [{ target: 10, current: 3, progress: null }, 30],
    [{ target: 3, current: 1, progress: null }, 100 / 3],
    [{ target: 10, current: 25, progress: null }, 100],
    [{ target: 10, current: -4, progress: null }, 0],
    [{ target: 10, current: null, progress: null }, 0],
    // A target wins over a stale direct value.
    [{ target: 10, current: 5, progress: 90 }, 50],
    [{ target: null, current: 5, progress: 42.5 }, 42.5],
    [{ target: null, current: null, progress: null }, 0],
  ])("%j → %d", (x, expected) => {
    expect(krProgress(kr(x))).toBeCloseTo(expected, 10);
  });

  // Lower is better (issue 23): target 200 ms, current 350 ms is not 100%.
  test.each([
    ["decrease, no start, above target", { direction: "decrease", target: 200, current: 350 }, (200 / 350) * 100],
    ["decrease, no start, at target", { direction: "decrease", target: 200, current: 200 }, 100],
    ["decrease, no start, below target", { direction: "decrease", target: 200, current: 120 }, 100],
    ["decrease, no start, no current", { direction: "decrease", target: 200, current: null }, 0],
    ["decrease, no start, target 0 not reached", { direction: "decrease", target: 0, current: 3 }, 0],
    ["decrease from a start, halfway", { direction: "decrease", target: 200, current: 350, startValue: 500 }, 50],
    ["decrease from a start, not moved", { direction: "decrease", target: 200, current: 500, startValue: 500 }, 0],
    [
      "decrease from a start, worse than the start",
      { direction: "decrease", target: 200, current: 650, startValue: 500 },
      0,
    ],
    [
      "decrease from a start, past the target",
      { direction: "decrease", target: 200, current: 150, startValue: 500 },
      100,
    ],
    ["decrease from a start, no current", { direction: "decrease", target: 200, current: null, startValue: 500 }, 0],
    ["decrease to zero defects from 40", { direction: "decrease", target: 0, current: 10, startValue: 40 }, 75],
    ["increase from a start", { direction: "increase", target: 100, current: 70, startValue: 40 }, 50],
    ["increase from a start, below it", { direction: "increase", target: 100, current: 20, startValue: 40 }, 0],
    ["increase from a start, no current", { direction: "increase", target: 100, current: null, startValue: 40 }, 0],
    [
      "a start on the wrong side (stored before the check) reads 0",
      { direction: "decrease", target: 200, current: 100, startValue: 100 },
      0,
    ],
  ])("%s", (_name, x, expected) => {
    expect(krProgress(kr({ progress: null, ...x }))).toBeCloseTo(expected, 10);
  });
});

describe("requirement completion and objective progress", () => {
  test("done is 100 whatever its tasks; otherwise the share of completed tasks; 0 without tasks", () => {
    expect(requirementCompletion({ status: "done", taskCount: 4, completedTaskCount: 0 })).toBe(100);
    expect(requirementCompletion({ status: "accepted", taskCount: 4, completedTaskCount: 1 })).toBe(25);
    expect(requirementCompletion({ status: "in_progress", taskCount: 0, completedTaskCount: 0 })).toBe(0);
  });

  test("key results decide when there are any; requirements otherwise, rejected ones left out", () => {
    const reqs: RequirementCompletionInput[] = [
      { status: "done", taskCount: 0, completedTaskCount: 0 },
      { status: "accepted", taskCount: 2, completedTaskCount: 1 },
      { status: "rejected", taskCount: 2, completedTaskCount: 0 },
    ];
    expect(objectiveProgress([kr({ target: 10, current: 2, progress: null })], reqs)).toBe(20);
    expect(objectiveProgress([], reqs)).toBe(75);
    expect(objectiveProgress([], [reqs[2]!])).toBe(0);
    expect(objectiveProgress([], [])).toBe(0);
  });
});

describe("rounding", () => {
  test.each([
    [1, 3, 33.3],
    [2, 3, 66.7],
    [1, 16, 6.3], // 6.25: a half rounds up
    [5, 7, 71.4],
    [0, 0, 0],
    [7, 7, 100],
  ])("pct(%d, %d) = %d", (a, b, expected) => {
    expect(pct(a, b)).toBe(expected);
  });

  test("round1", () => {
    expect(round1(100 / 3)).toBe(33.3);
    expect(round1(0.05)).toBe(0.1);
  });
});

describe("health", () => {
  // 2026-01-01 .. 2026-01-10 inclusive: ten days; at 2026-01-06T00:00Z half of it has elapsed.
  const start = "2026-01-01";
  const end = "2026-01-10";
  const mid = at("2026-01-06T00:00:00Z");

  test("elapsed share of the period, end date included, clamped", () => {
    expect(elapsedPct(start, end, mid)).toBe(50);
    expect(elapsedPct(start, end, at("2025-12-01T00:00:00Z"))).toBe(0);
    expect(elapsedPct(start, end, at("2026-01-11T00:00:00Z"))).toBe(100);
    expect(elapsedPct(start, end, at("2026-03-01T00:00:00Z"))).toBe(100);
    // A one-day objective runs for that whole day.
    expect(elapsedPct("2026-01-01", "2026-01-01", at("2026-01-01T12:00:00Z"))).toBe(50);
  });

  test.each([
    [50, "on_track"],
    [40, "on_track"], // exactly 10 behind
    [39.9, "at_risk"],
    [25, "at_risk"], // exactly 25 behind
    [24.9, "off_track"],
    [0, "off_track"],
    [100, "on_track"],
  ])("50%% elapsed, progress %d → %s", (progress, expected) => {
    expect(deriveHealth(progress, start, end, mid)).toBe(expected);
  });

  test("before the start everything is on track; after the end only near-complete objectives are", () => {
    expect(deriveHealth(0, start, end, at("2025-06-01T00:00:00Z"))).toBe("on_track");
    expect(deriveHealth(90, start, end, at("2027-01-01T00:00:00Z"))).toBe("on_track");
    expect(deriveHealth(80, start, end, at("2027-01-01T00:00:00Z"))).toBe("at_risk");
    expect(deriveHealth(70, start, end, at("2027-01-01T00:00:00Z"))).toBe("off_track");
  });

  test("derived only with both dates; otherwise the hand-set value or null", () => {
    expect(healthOf({ health: "off_track", startDate: start, endDate: end }, 50, mid)).toBe("on_track");
    expect(healthOf({ health: "at_risk", startDate: start, endDate: null }, 0, mid)).toBe("at_risk");
    expect(healthOf({ health: null, startDate: null, endDate: null }, 0, mid)).toBeNull();
  });
});
