// One file per table group; every module's tables are re-exported here so drizzle-kit sees the whole schema.
export * from "./tokens.js";
export * from "./missions.js";
export * from "./trace.js";
export * from "./agents.js";
export * from "./sprints.js";
export * from "./tasks.js";
export * from "./okrs.js";
export * from "./policies.js";
export * from "./idempotency.js";
export * from "./runtime.js";
export * from "./knowledge.js";
export * from "./github.js";
