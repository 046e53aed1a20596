import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/fixtures/db-template.ts"],
    pool: "forks",
    // Three files at once on two cores: most files spend their time waiting on child processes, servers and
    // timers, so this is ~1.7x faster than the default (cores - 1 = one file at a time) on this machine.
    maxWorkers: 3,
    // A worker runs its files one after another in one process, modules loaded once (seconds per file saved:
    // imports, and the embedded database, reused emptied by test/fixtures/pglite-pool.ts). Files share no
    // state through modules: the harness gives each its own app and database.
    isolate: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ["default"],
  },
});
