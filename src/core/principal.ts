// Who is calling: the principal a token resolves to, and the roles. Services take it to decide finer access
// (an agent token touching only its own agent's work).

export type Role = "admin" | "member" | "agent";
export const ROLES: readonly Role[] = ["admin", "member", "agent"];

/**
 * Who may call a route: `public` (no token), `admin`, `member` (members and admins), `agent` (agents too;
 * the service then limits an agent to its own records).
 */
export type Access = "public" | "admin" | "member" | "agent";

export interface Principal {
  role: Role;
  tokenId: number | null;
  name: string | null;
  /** For agent tokens: the agent they are bound to. */
  agentId: number | null;
  agentKey: string | null;
  /** How the trace names this caller. */
  actor: string;
  /** For a run's token: the one task (integer id) it may act on while the run lasts. */
  runTaskId?: number | null;
}
