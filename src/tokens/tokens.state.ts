// Token roles: the values of api_tokens.role, which is the role of the principal a token resolves to. Pure.
// A token's role never changes (a token is created and revoked, never edited), so there are no moves.
import type { Role } from "../core/principal.js";

export const TOKEN_ROLES = ["admin", "member", "agent"] as const satisfies readonly Role[];
export type TokenRole = (typeof TOKEN_ROLES)[number];

export const ROLE = { admin: "admin", member: "member", agent: "agent" } as const satisfies Record<Role, TokenRole>;

/** An agent token: bound to one agent, which the trace names it by. */
export function isAgentRole(role: Role): boolean {
  return role === ROLE.agent;
}
