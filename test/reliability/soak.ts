// How hard the reliability and security suites push. CI runs the short variant; `npm run test:soak` (MC_SOAK=1)
// runs the long one. Each count can also be set on its own.
const on = ["1", "true", "yes"].includes((process.env.MC_SOAK ?? "").toLowerCase());

function count(name: string, ci: number, long: number): number {
  const raw = process.env[name];
  if (raw !== undefined && /^\d+$/.test(raw)) return Number(raw);
  return on ? long : ci;
}

export const soak = {
  on,
  /** SIGKILL/restart cycles of the crash-consistency test. */
  crashCycles: count("MC_SOAK_CRASH_CYCLES", 20, 200),
  /** Concurrent writing clients during each cycle. */
  crashClients: count("MC_SOAK_CRASH_CLIENTS", 4, 8),
  /** Generated requests per route in the bad-input test. */
  fuzzRuns: count("MC_SOAK_FUZZ_RUNS", 10, 300),
  /** Requests of each overload flood. */
  floodRequests: count("MC_SOAK_FLOOD_REQUESTS", 400, 4000),
  /** fast-check seed (to replay a failure); random when unset. */
  seed:
    process.env.FUZZ_SEED !== undefined && /^-?\d+$/.test(process.env.FUZZ_SEED)
      ? Number(process.env.FUZZ_SEED)
      : undefined,
};
