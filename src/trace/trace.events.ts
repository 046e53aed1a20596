// Every trace event there is, with the shape of its `data`, and the one shape of a trace entry.
//
// Invariants:
// - `appendTrace` (trace.append.ts) accepts only a `TraceInput`: an event named here with its data. A new
//   event is added here first (name, data, and its line in TRACE_EVENT_NAMES, which the compiler checks
//   against the map), so the list in the OpenAPI document (`TraceEntry.event`) is always complete.
// - Names and data are a stored format: entries already written keep theirs forever. Rename nothing; make a
//   data member optional rather than remove it (replay and readers meet old entries).
// - `data` holds what the change was (CONTRIBUTING.md, "Trace events"); replay folds the mission.* and
//   task.* shapes (replay.fold.ts), so those stay complete. Entries written through a channel (MCP) also
//   carry `via`/`channel` (trace.via.ts), which the append adds: callers never pass them for that.
// - `TraceEntry` is the one declaration of an entry's columns: the hash (canonical.ts), the chain walk
//   (chain.ts), the export, the bus and the replay fold all take their shapes from it.

/** A set of changed fields: field → new value (a key or null for references). */
type Changes = Record<string, unknown>;

/** The data of each event. */
export interface TraceEventData {
  // Missions.
  "mission.created": {
    goal: string;
    status: string;
    description: string | null;
    metadata: unknown;
    budget_usd?: unknown;
  };
  "mission.updated": { changes: Changes };
  /** `via` names the action that moved it (update, start, budget, …); more members describe the cause. */
  "mission.status_changed": { from: string; to: string; via?: string; [more: string]: unknown };
  "mission.agent_added": { agent_id: string };
  "mission.agent_removed": { agent_id: string };

  // Tasks.
  "task.created": {
    objective: string;
    status: string;
    agent_id: string | null;
    sprint_id?: string | null;
    priority?: unknown;
    requirement_ids?: string[];
    required_capabilities?: string[];
    outputs?: Record<string, unknown>;
  };
  /** `changes.agent_id` is a key or null. A dispatch's assignment says `via: "dispatch"` and its reason. */
  "task.updated": { changes: Changes; via?: string; reason?: string };
  /** `via`: the action that moved it (report, approve, reject, dispatch, update, …). */
  "task.status_changed": { from: string; to: string; comment?: string | null; via?: string };
  /** `via`/`dispatch_id` when the runtime or the conflict radar reported for the agent. */
  "task.reported": { outputs: Record<string, unknown>; logs_added: number; via?: string; dispatch_id?: number };
  "task.logged": { lines: number; source: string };
  "task.dispatched": {
    dispatch_id: number;
    attempt: number;
    awaiting_approval?: number;
    retry_of?: number;
    run_after?: string;
  };
  "task.handed_over": { dispatch_id: number };
  "task.conflict_detected": {
    with_task_id?: string;
    files?: string[];
    base_branch?: string;
    repo?: unknown;
    [more: string]: unknown;
  };
  "task.conflict_cleared": { with_task_id?: string; base_branch?: string; repo?: unknown; [more: string]: unknown };

  // Agents.
  "agent.created": { name: string | null; adapter_module: string | null; capabilities: string[] };
  "agent.updated": { changes: Changes };
  "agent.registered": { event: string };
  "agent.activity": { event: string; context: Record<string, unknown>; status?: string };
  /** `reason`: the cause (activity, run, stale, reset, …); more members describe it (a run's dispatch id). */
  "agent.status_changed": { from: string; to: string; reason: string; [more: string]: unknown };
  "agent.reset": { from: string; to: string; previous_reason: string | null };

  // The runtime.
  "dispatch.policy_approved": { dispatch_id: number; decision_id: number; messages: string[] };
  "dispatch.recovered": { dispatch_id: number; previous_owner: string | null };
  "runtime.worker_escalated": { reason: string; last_failure: string };
  "runtime.run_stopped": {
    dispatch_id: number;
    pid: number | null;
    exit: unknown;
    grace_ms: number;
    note?: string | null;
  };

  // Policies: the created/deleted entries hold the policy as the API shows it.
  "policy.created": Record<string, unknown>;
  "policy.updated": { policy_id: string; version: number; changes: Changes };
  "policy.deleted": Record<string, unknown>;
  /** The decision (decision, mode, matched, messages, …) for `action`. */
  "policy.evaluated": { action: unknown; source: string; decision: string; [more: string]: unknown };

  // Planning.
  "sprint.created": { sprint_id: string; changes: Changes };
  "sprint.updated": { sprint_id: string; changes: Changes };
  "sprint.status_changed": { sprint_id: string; from: string; to: string };
  "objective.created": {
    objective_id: string;
    title: string;
    description: string | null;
    priority: unknown;
    status: string;
    health: unknown;
    start_date: string | null;
    end_date: string | null;
  };
  "objective.updated": { objective_id: string; changes: Changes };
  "objective.deleted": { objective_id: string; title: string; key_results: string[] };
  "key_result.created": {
    kr_id: string;
    objective_id: string;
    title: string;
    target: unknown;
    current: unknown;
    progress: unknown;
    direction: unknown;
    start: unknown;
  };
  "key_result.updated": { kr_id: string; objective_id: string; changes: Changes };
  "key_result.deleted": { kr_id: string; objective_id: string; title: string };
  "requirement.created": {
    requirement_id: string;
    title: string;
    description: string | null;
    priority: unknown;
    horizon: unknown;
    status: string;
    objective_id: string | null;
    kr_id: string | null;
  };
  "requirement.updated": { requirement_id: string; changes: Changes };
  "requirement.deleted": { requirement_id: string; title: string };

  // Knowledge.
  "knowledge.document_created": {
    document_id: number;
    key: string;
    title: string;
    metadata: unknown;
    content_hash: string;
    content_bytes: number;
    chunks: number;
    source?: string;
  };
  "knowledge.document_updated": { document_id: number; changes: Changes };
  "knowledge.document_deleted": { document_id: number; title: string; content_hash: string };

  // Tokens (never the secret).
  "token.created": { token_id: number; role: string; name: string | null };
  "token.revoked": { token_id: number; role: string; name: string | null };

  // GitHub.
  "github.issue_linked": { issue: string; html_url: string; issue_state: string };
  "github.issue_received": { delivery: string; action: string | null; issue: string; change: string };
  "github.issue_closed": GithubIssueNote;
  "github.issue_reopened": GithubIssueNote;
  "github.issue_deleted": { issue: string; html_url: string; action: string; delivery: string };
  "github.issue_commented": { issue: string; comment_url: string | null };
  "github.comment_failed": { issue: string; reason: string };
  "github.pull_request": Record<string, unknown>;
  "github.merge_attempted": GithubMerge;
  "github.pr_merged": GithubMerge & { merge_commit_sha: string | null; already_merged: boolean };
  "github.merge_failed": GithubMerge & { kind: string; status: number | null; reason: string };
  "github.sync_queued": { run_id: number; repos: string[]; trigger: string };
  "github.sync_paused": { run_id: number; resume_at: string; reason: string };
  "github.sync_finished": { run_id: number; status: string; issues_synced: number; error: string | null };
  "github.issues_synced": { run_id: number; repo: string; created: number[]; updated: number[] };
}

/** A linked issue's state changed (by sync or webhook): `via` and the delivery say which. */
type GithubIssueNote = {
  issue: string;
  html_url: string;
  from: string;
  to: string;
  via: string;
  [more: string]: unknown;
};

type GithubMerge = { pr_url: string; pull_request: string; merge_method: string; sha: string | null };

export type TraceEventName = keyof TraceEventData;

// Every name once; the compiler refuses a missing or an extra one.
const NAMES: { [K in TraceEventName]: true } = {
  "mission.created": true,
  "mission.updated": true,
  "mission.status_changed": true,
  "mission.agent_added": true,
  "mission.agent_removed": true,
  "task.created": true,
  "task.updated": true,
  "task.status_changed": true,
  "task.reported": true,
  "task.logged": true,
  "task.dispatched": true,
  "task.handed_over": true,
  "task.conflict_detected": true,
  "task.conflict_cleared": true,
  "agent.created": true,
  "agent.updated": true,
  "agent.registered": true,
  "agent.activity": true,
  "agent.status_changed": true,
  "agent.reset": true,
  "dispatch.policy_approved": true,
  "dispatch.recovered": true,
  "runtime.worker_escalated": true,
  "runtime.run_stopped": true,
  "policy.created": true,
  "policy.updated": true,
  "policy.deleted": true,
  "policy.evaluated": true,
  "sprint.created": true,
  "sprint.updated": true,
  "sprint.status_changed": true,
  "objective.created": true,
  "objective.updated": true,
  "objective.deleted": true,
  "key_result.created": true,
  "key_result.updated": true,
  "key_result.deleted": true,
  "requirement.created": true,
  "requirement.updated": true,
  "requirement.deleted": true,
  "knowledge.document_created": true,
  "knowledge.document_updated": true,
  "knowledge.document_deleted": true,
  "token.created": true,
  "token.revoked": true,
  "github.issue_linked": true,
  "github.issue_received": true,
  "github.issue_closed": true,
  "github.issue_reopened": true,
  "github.issue_deleted": true,
  "github.issue_commented": true,
  "github.comment_failed": true,
  "github.pull_request": true,
  "github.merge_attempted": true,
  "github.pr_merged": true,
  "github.merge_failed": true,
  "github.sync_queued": true,
  "github.sync_paused": true,
  "github.sync_finished": true,
  "github.issues_synced": true,
};

/** Every stored event name (the enum of `TraceEntry.event` and of the `event` filter). */
export const TRACE_EVENT_NAMES = Object.keys(NAMES) as readonly TraceEventName[];

/** Events of the live stream that are never stored (events.bus.ts): no id, not replayed. */
export const EPHEMERAL_EVENT_NAMES = ["agent.heartbeat", "task.log"] as const;
export type EphemeralEventName = (typeof EPHEMERAL_EVENT_NAMES)[number];

/** Every name the live stream can carry. */
export const LIVE_EVENT_NAMES: readonly (TraceEventName | EphemeralEventName)[] = [
  ...TRACE_EVENT_NAMES,
  ...EPHEMERAL_EVENT_NAMES,
];

export function isTraceEventName(s: string): s is TraceEventName {
  return Object.hasOwn(NAMES, s);
}

/** One event with its data: the discriminated union `appendTrace` accepts. */
export type TraceEvent = { [K in TraceEventName]: { event: K; data: TraceEventData[K] } }[TraceEventName];

/** What a change hands to `appendTrace`: an event, who did it, and the records it concerns (by key). */
export type TraceInput = TraceEvent & {
  actor: string;
  missionId?: string | null;
  taskId?: string | null;
  agentId?: string | null;
};

/**
 * A trace entry: the columns as the API, the export and the hash name them. Read back, `event` is a string
 * (the table holds whatever was written, so readers never assume more) and `data` is the stored JSON.
 */
export interface TraceEntry {
  id: number;
  /** ISO 8601 UTC with milliseconds, exactly as hashed (canonical.ts). */
  at: string;
  event: string;
  actor: string;
  mission_id: string | null;
  task_id: string | null;
  agent_id: string | null;
  data: unknown;
  prev_hash: string;
  hash: string;
}

/** What the hash covers: everything but the id and the two hashes (canonical.ts). */
export type HashedContent = Omit<TraceEntry, "id" | "prev_hash" | "hash">;

/** What the API lists (GET /api/trace) and the live stream sends: the entry without its hashes. */
export type TraceView = Omit<TraceEntry, "prev_hash" | "hash" | "data"> & { data: Record<string, unknown> };
