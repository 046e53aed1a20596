// Reads of agents and mission membership for other modules. One owner per table: only src/agents writes
// `agents` and `mission_agents`; the others read through these, on the caller's executor.
export { findAgent, isAgentOnMission, type AgentRow } from "./agents.repo.js";
