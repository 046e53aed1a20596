// An agent's heartbeat on the live stream: `agent.heartbeat`, ephemeral (never in the trace). The agents
// service decides when one is worth sending (at most one a second per agent); this says what it is.
import type { EventBus } from "../trace/events.bus.js";
import type { AgentsDeps } from "./agents.service.js";

export function announceHeartbeats(bus: Pick<EventBus, "publishEphemeral">): NonNullable<AgentsDeps["onHeartbeat"]> {
  return (agentKey, at) => void bus.publishEphemeral({ event: "agent.heartbeat", agent_id: agentKey, at });
}
