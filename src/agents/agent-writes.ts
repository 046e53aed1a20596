// Who wants to know that an agent row was written in this process: the heartbeat coalescer (heartbeats.ts)
// keeps a copy of recently heard-from agents and must forget it when anything else changes them. The repo's
// write functions call `agentWritten` after their statement; the listener is told the agent's id and whether
// the write also moved `last_seen_at` (which supersedes any heartbeat still waiting to be written).
type Listener = (agentId: number, seen: boolean) => void;

const listeners = new Set<Listener>();

export function onAgentWritten(fn: Listener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function agentWritten(agentId: number, seen: boolean): void {
  for (const fn of listeners) fn(agentId, seen);
}
