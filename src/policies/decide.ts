// From matched policies to a decision. Pure.
//
// Each policy's `actions` is a list of one-key objects (`{"block": msg}`, `{"require_approval": msg}`,
// `{"warn": msg}`). The strictest action of the matched *enforced* policies decides
// (block > require_approval > warn > allow). Matched `dry_run` policies are reported apart
// (`dry_run_matched`, `dry_run_decision`) and can never make `decision` stricter: `mode` says `dry_run`
// exactly when they would have.
import { PolicyBlocked } from "../core/errors.js";
import type { ActionMatcher, ConditionErrors } from "./matcher.js";
import { isPlainObject } from "./matcher.js";

export const ACTION_KINDS = ["block", "require_approval", "warn"] as const;
export type ActionKind = (typeof ACTION_KINDS)[number];

/** Ordered from least to most strict. */
export const DECISIONS = ["allow", "warn", "require_approval", "block"] as const;
export type Decision = (typeof DECISIONS)[number];
/** Named decisions, so no decision is spelled elsewhere. */
export const DECISION = {
  allow: "allow",
  warn: "warn",
  require_approval: "require_approval",
  block: "block",
} as const satisfies { [D in Decision]: D };

export const POLICY_MODES = ["enforce", "dry_run"] as const;
export type PolicyMode = (typeof POLICY_MODES)[number];
/** Named modes (so no mode is spelled elsewhere): a `dry_run` policy is evaluated and recorded, never applied. */
export const MODE = { enforce: "enforce", dryRun: "dry_run" } as const satisfies Record<string, PolicyMode>;

export type PolicyAction = Partial<Record<ActionKind, string>>;

export const MAX_ACTIONS = 20;
export const MAX_MESSAGE_LENGTH = 2_000;

export function severity(d: Decision): number {
  return DECISIONS.indexOf(d);
}

export function strictest(decisions: Iterable<Decision>): Decision {
  let best: Decision = DECISION.allow;
  for (const d of decisions) if (severity(d) > severity(best)) best = d;
  return best;
}

/** Checks a policy's `actions`; problems keyed by path (`actions.0.explode`). Empty when valid. */
export function validateActions(actions: unknown, base = "actions"): ConditionErrors {
  const errors: ConditionErrors = {};
  const add = (path: string, msg: string) => (errors[path] ??= []).push(msg);
  if (!Array.isArray(actions)) {
    add(base, "must be a list");
    return errors;
  }
  if (actions.length === 0) add(base, "must have at least one action");
  if (actions.length > MAX_ACTIONS) add(base, `must have at most ${MAX_ACTIONS} actions`);
  actions.forEach((a, i) => {
    const p = `${base}.${i}`;
    if (!isPlainObject(a)) return add(p, "must be an object with one key: block, require_approval or warn");
    const keys = Object.keys(a);
    if (keys.length !== 1) return add(p, "must have exactly one key: block, require_approval or warn");
    const kind = keys[0]!;
    if (!(ACTION_KINDS as readonly string[]).includes(kind)) {
      return add(`${p}.${kind}`, "is not a known action; use block, require_approval or warn");
    }
    const msg = a[kind];
    if (typeof msg !== "string" || msg.trim() === "") add(`${p}.${kind}`, "must be a non-empty message");
    else if (msg.length > MAX_MESSAGE_LENGTH) add(`${p}.${kind}`, `must be at most ${MAX_MESSAGE_LENGTH} characters`);
  });
  return errors;
}

export function actionKind(a: PolicyAction): ActionKind {
  return Object.keys(a)[0] as ActionKind;
}

export interface CandidatePolicy {
  policyId: string;
  version: number;
  mode: PolicyMode;
  actions: PolicyAction[];
  match: ActionMatcher;
}

export interface MatchedPolicy {
  policy_id: string;
  version: number;
  mode: PolicyMode;
  actions: PolicyAction[];
}

export interface Outcome {
  decision: Decision;
  mode: PolicyMode;
  /** What the decision would be if the matched dry-run policies were enforced too. */
  dry_run_decision: Decision;
  matched: MatchedPolicy[];
  dry_run_matched: MatchedPolicy[];
  /** The enforced matched actions' messages, strictest first, each once. */
  messages: string[];
}

function policyDecision(actions: PolicyAction[]): Decision {
  return strictest(actions.map(actionKind));
}

function messagesOf(matched: MatchedPolicy[]): string[] {
  const entries: Array<{ sev: number; order: number; msg: string }> = [];
  let order = 0;
  for (const m of matched) {
    for (const a of m.actions) {
      const kind = actionKind(a);
      entries.push({ sev: severity(kind), order: order++, msg: a[kind]! });
    }
  }
  entries.sort((x, y) => y.sev - x.sev || x.order - y.order);
  return [...new Set(entries.map((e) => e.msg))];
}

/** Evaluates the candidate policies (already filtered to enabled and in scope, in a stable order). */
export function decide(policies: readonly CandidatePolicy[], action: unknown): Outcome {
  const matched: MatchedPolicy[] = [];
  const dryRun: MatchedPolicy[] = [];
  for (const p of policies) {
    if (!p.match(action)) continue;
    const m = { policy_id: p.policyId, version: p.version, mode: p.mode, actions: p.actions };
    (p.mode === MODE.dryRun ? dryRun : matched).push(m);
  }
  const decision = strictest(matched.map((m) => policyDecision(m.actions)));
  const dryRunDecision = strictest([decision, ...dryRun.map((m) => policyDecision(m.actions))]);
  return {
    decision,
    mode: severity(dryRunDecision) > severity(decision) ? MODE.dryRun : MODE.enforce,
    dry_run_decision: dryRunDecision,
    matched,
    dry_run_matched: dryRun,
    messages: messagesOf(matched),
  };
}

/** The messages that explain a decision: those of the actions of the deciding kind. */
export function decidingMessages(outcome: Pick<Outcome, "decision" | "matched">): string[] {
  if (outcome.decision === "allow") return [];
  const out: string[] = [];
  for (const m of outcome.matched) {
    for (const a of m.actions) {
      const kind = actionKind(a);
      if (kind === outcome.decision && !out.includes(a[kind]!)) out.push(a[kind]!);
    }
  }
  return out;
}

/**
 * The contract's 403 for an action a policy blocks: `{"errors": {"policy": [msg]}, "policy_decision": {...}}`.
 * Enforcement points throw it when `decision` is `block`.
 */
export function policyBlockedError(decision: Pick<Outcome, "decision" | "matched">): PolicyBlocked {
  return new PolicyBlocked(decidingMessages(decision), { ...decision } as Record<string, unknown>);
}
