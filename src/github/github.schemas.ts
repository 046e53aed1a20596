import { Type, type Static } from "@sinclair/typebox";
import { nameSchemas, Nullable, StringEnum, Timestamp } from "../core/envelope.js";
import { KeySchema, RefSchema } from "../core/ids.js";
import { PageQuery } from "../core/pagination.js";
import { REPO_PATTERN } from "./github.refs.js";
import { ISSUE_STATES, REPO_RESULT_STATUSES, RUN_STATUSES, RUN_TRIGGERS, WEBHOOK_RESULTS } from "./github.state.js";

export const Issue = Type.Object({
  id: Type.Integer(),
  repo: Type.String({ description: "owner/name, lower-cased" }),
  number: Type.Integer(),
  title: Type.String(),
  state: StringEnum(ISSUE_STATES, { description: "open or closed" }),
  labels: Type.Array(Type.String(), { description: "label names" }),
  assignees: Type.Array(Type.String(), { description: "assignee logins" }),
  html_url: Type.String(),
  body: Nullable(Type.String()),
  github_updated_at: Timestamp,
  task_id: Nullable(Type.String({ description: "the linked task's key" })),
  inserted_at: Timestamp,
  updated_at: Timestamp,
});

export const IssueListQuery = Type.Object({
  repo: Type.Optional(Type.String({ pattern: REPO_PATTERN, description: "owner/name (any case)" })),
  state: Type.Optional(StringEnum(ISSUE_STATES, { description: "open or closed" })),
  label: Type.Optional(
    Type.String({ minLength: 1, maxLength: 100, description: "issues carrying this label (any case)" }),
  ),
  linked: Type.Optional(Type.Boolean({ description: "true: only issues linked to a task; false: only unlinked ones" })),
  ...PageQuery,
});
export type IssueListQuery = Static<typeof IssueListQuery>;

export const IssueIdParam = Type.Object({
  id: Type.String({ description: "integer id, or `owner/name#number` URL-encoded (`octo%2Fhello%2312`)" }),
});
export const IssueOwnerNameParam = Type.Object({
  owner: Type.String({ description: "repository owner" }),
  name: Type.String({ description: "`name#number`, the `#` URL-encoded as `%23`" }),
});

export const IssueTaskCreate = Type.Object(
  {
    mission_id: RefSchema,
    task_id: Type.Optional(KeySchema),
    priority: Type.Optional(Nullable(Type.Integer({ minimum: -2_147_483_648, maximum: 2_147_483_647 }))),
  },
  { additionalProperties: false, examples: [{ mission_id: "mission-001" }] },
);
export type IssueTaskCreate = Static<typeof IssueTaskCreate>;

export const RepoResult = Type.Object({
  repo: Type.String(),
  status: StringEnum(REPO_RESULT_STATUSES, {
    description: "pending, synced, not_modified (304: nothing changed) or failed",
  }),
  issues_synced: Type.Integer({ description: "issues created or changed" }),
  pull_requests_skipped: Type.Integer(),
  pages: Type.Integer(),
  error: Nullable(Type.String()),
});

export const SyncRun = Type.Object({
  id: Type.Integer(),
  status: StringEnum(RUN_STATUSES, { description: "queued, running, succeeded or failed" }),
  repos: Type.Array(Type.String()),
  issues_synced: Type.Integer({ description: "issues created or changed by this run" }),
  error: Nullable(Type.String()),
  started_at: Nullable(Timestamp),
  finished_at: Nullable(Timestamp),
  resume_at: Nullable(Timestamp),
  trigger: StringEnum(RUN_TRIGGERS, { description: "manual (POST) or schedule (GITHUB_SYNC_INTERVAL_S)" }),
  requested_by: Type.String(),
  results: Type.Array(RepoResult, { description: "per repository" }),
  inserted_at: Timestamp,
});

export const SyncIdParam = Type.Object({ id: Type.String({ description: "integer id of the run" }) });

export const WebhookHeaders = Type.Object({
  "x-github-event": Type.String({ minLength: 1, maxLength: 100 }),
  "x-github-delivery": Type.String({ minLength: 1, maxLength: 200 }),
  "x-hub-signature-256": Type.String({
    description: "sha256=<HMAC-SHA256 of the raw body with GITHUB_WEBHOOK_SECRET>",
  }),
});

export const WebhookBody = Type.Object({}, { additionalProperties: true, description: "GitHub's event payload" });

export const WebhookResult = Type.Object({
  delivery: Type.String(),
  event: Type.String(),
  action: Nullable(Type.String()),
  result: StringEnum(WEBHOOK_RESULTS, {
    description: "applied, duplicate (already applied), ignored (nothing to do) or pong",
  }),
  detail: Nullable(Type.String()),
});

// Names in the OpenAPI document's components.schemas (src/http/openapi.ts).
nameSchemas({ GithubIssue: Issue, GithubSyncRun: SyncRun, GithubWebhookResult: WebhookResult, IssueTaskCreate });
