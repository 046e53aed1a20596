// Benchmark settings, all from the environment, with the values as defaults. Short runs for checking
// that the harness works end to end: BENCH_DURATION_S=2 BENCH_WARMUP_S=1 and smaller BENCH_* sizes.

export type Backend = "pglite" | "postgres";

export interface BenchConfig {
  /** Seconds each scenario is measured for, after its warm-up. */
  durationS: number;
  warmupS: number;
  connections: number;
  /** Connections for the latency targets (traceability matrix, knowledge search): one client, sequential. */
  latencyConnections: number;
  /** Backends to run; postgres only when BENCH_DATABASE_URL is set. */
  backends: Backend[];
  databaseUrl: string | null;
  /** Only these scenarios (names as printed), or all. */
  only: string[] | null;
  /** How the server under test is run: `dist` (npm run build, then node dist/main.js) or `tsx` (from source). */
  server: "dist" | "tsx";
  logLevel: string;
  /** Also run the embedded backend with PGlite on the request thread, to show what the worker thread changes. */
  compareMainThread: boolean;
  sizes: {
    objectives: number;
    keyResultsPerObjective: number;
    requirements: number;
    /** All tasks, across every mission (the matrix's size). */
    tasks: number;
    /** Tasks in the mission whose list is measured. */
    missionTasks: number;
    documents: number;
    heartbeatAgents: number;
    reportMissions: number;
    reportAgentsPerMission: number;
    reportTasksPerAgent: number;
  };
  dispatchSamples: number;
  /** Seconds of traffic over every route right after the server starts, before the first measurement. */
  serverWarmupS: number;
  /** Idle seconds before the server's memory is read at the end of the run. */
  settleS: number;
  keepData: boolean;
}

function int(name: string, def: number, min = 0): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new Error(`${name} must be a number ≥ ${min} (got "${raw}")`);
  return n;
}

export function loadBenchConfig(): BenchConfig {
  const databaseUrl = process.env.BENCH_DATABASE_URL || null;
  const requested = (process.env.BENCH_BACKENDS ?? "pglite,postgres")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const b of requested)
    if (b !== "pglite" && b !== "postgres") throw new Error(`BENCH_BACKENDS: unknown backend "${b}"`);
  const backends = (requested as Backend[]).filter((b) => b === "pglite" || databaseUrl !== null);
  const server = process.env.BENCH_SERVER ?? "dist";
  if (server !== "dist" && server !== "tsx") throw new Error(`BENCH_SERVER must be dist or tsx (got "${server}")`);
  const only = process.env.BENCH_ONLY
    ? process.env.BENCH_ONLY.split(",")
        .map((s) => s.trim())
        .filter(Boolean)
    : null;
  return {
    durationS: int("BENCH_DURATION_S", 10, 1),
    warmupS: int("BENCH_WARMUP_S", 3, 0),
    connections: int("BENCH_CONNECTIONS", 50, 1),
    latencyConnections: int("BENCH_LATENCY_CONNECTIONS", 1, 1),
    backends,
    databaseUrl,
    only,
    server,
    logLevel: process.env.BENCH_LOG_LEVEL ?? "warn",
    compareMainThread: process.env.BENCH_COMPARE_MAIN_THREAD !== "0",
    sizes: {
      objectives: int("BENCH_OBJECTIVES", 1_000, 1),
      keyResultsPerObjective: int("BENCH_KEY_RESULTS_PER_OBJECTIVE", 3, 0),
      requirements: int("BENCH_REQUIREMENTS", 10_000, 1),
      tasks: int("BENCH_TASKS", 100_000, 1),
      missionTasks: int("BENCH_MISSION_TASKS", 10_000, 1),
      documents: int("BENCH_DOCUMENTS", 50_000, 1),
      heartbeatAgents: int("BENCH_HEARTBEAT_AGENTS", 500, 1),
      reportMissions: int("BENCH_REPORT_MISSIONS", 10, 1),
      reportAgentsPerMission: int("BENCH_REPORT_AGENTS_PER_MISSION", 5, 1),
      reportTasksPerAgent: int("BENCH_REPORT_TASKS_PER_AGENT", 4, 1),
    },
    dispatchSamples: int("BENCH_DISPATCH_SAMPLES", 30, 1),
    serverWarmupS: int("BENCH_SERVER_WARMUP_S", 6, 0),
    settleS: int("BENCH_SETTLE_S", 10, 0),
    keepData: process.env.BENCH_KEEP_DATA === "1",
  };
}
