// How far objectives, key results and requirements have come. Pure functions: the objectives routes and the
// traceability matrix both compute progress here, so the two can never disagree.
import {
  isDoneRequirement,
  isRejectedRequirement,
  type RequirementStatus,
} from "../requirements/requirements.state.js";

export const HEALTHS = ["on_track", "at_risk", "off_track"] as const;
export type Health = (typeof HEALTHS)[number];

/**
 * Health thresholds, in percentage points that progress lags behind the share of the objective's time
 * that has elapsed: up to 10 points behind is on track, up to 25 is at risk, more is off track.
 */
export const HEALTH_THRESHOLDS = { atRisk: 10, offTrack: 25 } as const;

const DAY_MS = 86_400_000;

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/** One decimal, half up: the precision every progress and percentage figure is given in. */
export function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/**
 * `part ÷ whole × 100` rounded to one decimal, 0 when `whole` is 0. Computed as `part × 1000 ÷ whole` so
 * that a ratio of integers that lands exactly on a half (1/16 → 6.25) rounds up instead of drifting down.
 */
export function pct(part: number, whole: number): number {
  return whole === 0 ? 0 : Math.round((part * 1000) / whole) / 10;
}

export const KR_DIRECTIONS = ["increase", "decrease"] as const;
export type KrDirection = (typeof KR_DIRECTIONS)[number];

export interface KrProgressInput {
  target: number | null;
  current: number | null;
  progress: number | null;
  direction: string;
  /** The baseline (`start`), or null. */
  startValue: number | null;
}

/**
 * How far `current` has come from the start towards the target, clamped to 0–100; a missing current has
 * not moved (0). Unrounded: callers round what they show.
 * - `increase` (higher is better): (current − start) ÷ (target − start) × 100, start 0 when not given —
 *   without a start this is the plain current ÷ target × 100.
 * - `decrease` (lower is better) with a start: (start − current) ÷ (start − target) × 100. Without one there
 *   is no distance to measure: 100 once current ≤ target, otherwise target ÷ current × 100 (350 ms against a
 *   200 ms target reads 57.1).
 * Without a target: the progress set directly (0 when never set).
 */
export function krProgress(kr: KrProgressInput): number {
  if (kr.target === null) return clamp(kr.progress ?? 0, 0, 100);
  const { target, current, startValue: start } = kr;
  if (kr.direction === "decrease") {
    if (current === null) return 0;
    if (start !== null) return start > target ? clamp(((start - current) / (start - target)) * 100, 0, 100) : 0;
    if (current <= target) return 100;
    return current > 0 ? clamp((target / current) * 100, 0, 100) : 0;
  }
  const from = start ?? 0;
  if (target <= from) return 0;
  return clamp((((current ?? from) - from) / (target - from)) * 100, 0, 100);
}

/** Why a start cannot go with this target and direction, or null: progress needs room between them. */
export function startError(direction: string, start: number | null, target: number | null): string | null {
  if (start === null || target === null) return null;
  if (direction === "decrease" && !(start > target)) return "must be above target for a decrease";
  if (direction !== "decrease" && !(start < target)) return "must be below target for an increase";
  return null;
}

export interface RequirementCompletionInput {
  status: RequirementStatus;
  taskCount: number;
  completedTaskCount: number;
}

/** `done` is 100; otherwise the share of its tasks that are completed (0 without tasks). */
export function requirementCompletion(r: RequirementCompletionInput): number {
  if (isDoneRequirement(r.status)) return 100;
  return r.taskCount === 0 ? 0 : (r.completedTaskCount / r.taskCount) * 100;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * The mean of its key results' progress; without key results, the mean completion of its requirements
 * (rejected ones left out: they will not be delivered and must not drag the figure down); 0 with neither.
 */
export function objectiveProgress(krs: KrProgressInput[], reqs: RequirementCompletionInput[]): number {
  if (krs.length > 0) return mean(krs.map(krProgress));
  const counted = reqs.filter((r) => !isRejectedRequirement(r.status));
  return counted.length > 0 ? mean(counted.map(requirementCompletion)) : 0;
}

/**
 * The share of the objective's time that has elapsed at `now`, 0–100. Dates are whole UTC days and the end
 * date is included, so a one-day objective (start = end) runs for 24 hours.
 */
export function elapsedPct(startDate: string, endDate: string, now: Date): number {
  const start = Date.parse(`${startDate}T00:00:00Z`);
  const end = Date.parse(`${endDate}T00:00:00Z`) + DAY_MS;
  return clamp(((now.getTime() - start) / (end - start)) * 100, 0, 100);
}

/** Progress against elapsed time; see HEALTH_THRESHOLDS. */
export function deriveHealth(progress: number, startDate: string, endDate: string, now: Date): Health {
  const behind = elapsedPct(startDate, endDate, now) - progress;
  if (behind <= HEALTH_THRESHOLDS.atRisk) return "on_track";
  if (behind <= HEALTH_THRESHOLDS.offTrack) return "at_risk";
  return "off_track";
}

/** Derived when both dates are set; otherwise the value set by hand (null when never set). */
export function healthOf(
  o: { health: string | null; startDate: string | null; endDate: string | null },
  progress: number,
  now: Date,
): Health | null {
  if (o.startDate !== null && o.endDate !== null) return deriveHealth(progress, o.startDate, o.endDate, now);
  return (o.health as Health | null) ?? null;
}
