import { defineConfig } from "vitest/config";
import LongestFirst from "./test/fixtures/sequencer.js";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/fixtures/build-dist.ts", "test/fixtures/db-template.ts"],
    pool: "forks",
    // Three files at once on two cores: most files spend their time waiting on child processes, servers and
    // timers, so this is ~1.7x faster than the default (cores - 1 = one file at a time) on this machine.
    maxWorkers: 3,
    // A worker runs its files one after another in one process, modules loaded once (seconds of imports saved
    // per file). Files share no state through modules: the harness gives each its own app and database.
    isolate: false,
    // A timeout is for a hung test, not a slow one: on a busy two-core machine a test that spawns processes
    // (git, the agent CLIs, servers) can take well over 30 s and be right.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    reporters: ["default"],
    // The longest files first (test/fixtures/sequencer.ts says why).
    sequence: { sequencer: LongestFirst },
  },
});
