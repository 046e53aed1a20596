// Reads of agents and mission membership for other modules. One owner per table: only src/agents writes
// `agents` and `mission_agents`; the others read through these, on the caller's executor.
import { immutableKeys } from "../db/keys.js";
import { agents } from "../db/schema/index.js";

export { findAgent, isAgentOnMission, type AgentRow } from "./agents.repo.js";

/** Agent keys by id, read once per process (a key never changes: db/keys.ts). */
export const agentKeysOf = immutableKeys("agent", agents, agents.id, agents.agentId);
