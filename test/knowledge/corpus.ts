// A small fixed corpus for ranking tests: decision records, runbooks and notes that share vocabulary, so the
// right answer has to win on the words that matter (and on the title), not by being the only match.
export interface CorpusDoc {
  key: string;
  title: string;
  content: string;
  metadata: Record<string, unknown>;
}

export const CORPUS: CorpusDoc[] = [
  {
    key: "auth-adr",
    title: "ADR-001: Authentication design decisions",
    content:
      "Context: users sign in from the web app and the CLI. Decision: we use OAuth 2.0 with short-lived JWT access " +
      "tokens and rotating refresh tokens. Session cookies were rejected because the CLI cannot hold them. " +
      "Consequences: every service verifies the token signature locally.",
    metadata: { type: "adr", team: "platform", status: "accepted" },
  },
  {
    key: "db-adr",
    title: "ADR-002: Database choice",
    content:
      "We chose PostgreSQL because it gives us transactions, JSONB documents and full-text search in one system. " +
      "MongoDB was considered and rejected for weaker transactional guarantees.",
    metadata: { type: "adr", team: "platform", status: "accepted" },
  },
  {
    key: "k8s-runbook",
    title: "Runbook: deploying to Kubernetes",
    content:
      "Build the container image, push it to the registry, then run helm upgrade against the production cluster. " +
      "Watch the rollout and check the observability dashboards after the deployment. To roll back, run helm rollback.",
    metadata: { type: "runbook", team: "ops" },
  },
  {
    key: "login-incident",
    title: "Incident report: login outage",
    content:
      "On March 3 users could not log in for 40 minutes. The authentication service rejected every token after the " +
      "signing key was rotated without a grace period. Follow-up: keep the previous key valid for a day.",
    metadata: { type: "incident", team: "platform" },
  },
  {
    key: "billing-notes",
    title: "Design review notes: billing",
    content:
      "The billing design was reviewed with finance. Decisions: invoices are issued monthly, prorated on plan " +
      "changes, and sent by email as PDF.",
    metadata: { type: "notes", team: "billing" },
  },
  {
    key: "onboarding",
    title: "Onboarding guide",
    content:
      "Welcome! Set up your laptop, request access to GitHub and the VPN, and read the architecture overview in " +
      "your first week.",
    metadata: { type: "guide" },
  },
  {
    key: "cache-adr",
    title: "ADR-003: Caching strategy",
    content:
      "A Redis cache sits in front of the catalog API. Entries are invalidated on write and expire after ten " +
      "minutes so a missed invalidation heals itself.",
    metadata: { type: "adr", team: "catalog", status: "proposed" },
  },
  {
    key: "authz-adr",
    title: "ADR-004: Authorization model",
    content:
      "Role-based access control with three roles: admin, member and agent. Services check permissions before " +
      "every change; agents only touch their own tasks.",
    metadata: { type: "adr", team: "platform", status: "accepted" },
  },
  {
    key: "meeting",
    title: "Weekly sync 2024-05-02",
    content:
      "Attendees discussed the roadmap, hiring, the office move and the budget. Someone mentioned authentication " +
      "briefly; no decisions were taken.",
    metadata: { type: "notes" },
  },
  {
    key: "observability",
    title: "Observability runbook",
    content:
      "Prometheus scrapes metrics from every service; Grafana dashboards show latency and error rates; alerts page " +
      "the on-call engineer when the error rate exceeds one percent.",
    metadata: { type: "runbook", team: "ops" },
  },
];
