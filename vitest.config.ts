import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/fixtures/db-template.ts"],
    pool: "forks",
    // Three files at once on two cores: most files spend their time waiting on child processes, servers and
    // timers, so this is ~1.7x faster than the default (cores - 1 = one file at a time) on this machine.
    maxWorkers: 3,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ["default"],
  },
});
