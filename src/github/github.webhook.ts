// GitHub webhooks: signature check and applying `issues` and `pull_request` events.
//
// - Authentication is the X-Hub-Signature-256 header alone: HMAC-SHA256 of the exact bytes received, keyed
//   with GITHUB_WEBHOOK_SECRET, compared in constant time. Without a configured secret nothing verifies.
// - A delivery is applied at most once: its X-GitHub-Delivery id is recorded in the transaction that
//   applies it, so a redelivery finds it (and answers `duplicate`), while a delivery whose application
//   failed was not recorded and applies when GitHub retries it.
// - Deliveries that change nothing here (other events, other repositories, pull requests no task names)
//   are answered `ignored` and not recorded: applying them again would change nothing either.
import { createHmac, timingSafeEqual } from "node:crypto";
import type { Database } from "../db/client.js";
import type { GithubConfig } from "../config.js";
import { Invalid } from "../core/errors.js";
import { appendTrace } from "../trace/trace.append.js";
import { applyIssues, isPullRequest, issueValues, noteOnTasks } from "./github.issues.js";
import { issueKey, parsePullUrl } from "./github.refs.js";
import * as repo from "./github.repo.js";
import { WEBHOOK, type WebhookResultKind } from "./github.state.js";

/** Pull request actions worth a line in the trace of the tasks that name the pull request. */
const PR_ACTIONS = new Set(["opened", "closed", "reopened", "synchronize", "ready_for_review", "converted_to_draft"]);

export function signatureOf(secret: string, raw: Buffer): string {
  return `sha256=${createHmac("sha256", secret).update(raw).digest("hex")}`;
}

/** Whether `header` is `sha256=<hex>` of `raw` under `secret`, compared in constant time. */
export function verifySignature(secret: string | null, raw: Buffer, header: unknown): boolean {
  if (secret === null || typeof header !== "string") return false;
  const m = /^sha256=([0-9a-fA-F]{64})$/.exec(header.trim());
  if (!m) return false;
  const expected = createHmac("sha256", secret).update(raw).digest();
  return timingSafeEqual(expected, Buffer.from(m[1]!, "hex"));
}

export interface WebhookOutcome {
  delivery: string;
  event: string;
  action: string | null;
  result: WebhookResultKind;
  detail: string | null;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

export function createWebhookHandler({ database, config }: { database: Database; config: GithubConfig }) {
  const { db } = database;

  return async function handle(event: string, delivery: string, payload: Obj): Promise<WebhookOutcome> {
    const action = typeof payload.action === "string" ? payload.action : null;
    const out = (result: WebhookResultKind, detail: string | null = null): WebhookOutcome => ({
      delivery,
      event,
      action,
      result,
      detail,
    });
    if (event === "ping") return out(WEBHOOK.pong);
    if (event !== "issues" && event !== "pull_request") return out(WEBHOOK.ignored, `${event} events are not used`);
    const fullName = isObj(payload.repository) ? payload.repository.full_name : undefined;
    if (typeof fullName !== "string") throw Invalid.field("repository.full_name", "is required");
    const repoName = fullName.toLowerCase();
    if (!config.repos.includes(repoName)) return out(WEBHOOK.ignored, `${repoName} is not in GITHUB_REPOS`);
    const login = isObj(payload.sender) ? payload.sender.login : undefined;
    const actor = typeof login === "string" && login !== "" ? `github:${login}` : "github:webhook";

    if (event === "issues") {
      if (isPullRequest(payload.issue)) return out(WEBHOOK.ignored, "pull requests are not stored as issues");
      const values = issueValues(repoName, payload.issue);
      if (!values) throw Invalid.field("issue", "is missing or lacks number, title, state, html_url or updated_at");
      const key = issueKey(repoName, values.number);
      return db.transaction(async (tx) => {
        if (!(await repo.recordDelivery(tx, { deliveryId: delivery, event, action, result: WEBHOOK.applied })))
          return out(WEBHOOK.duplicate);
        if (action === "deleted" || action === "transferred") {
          const [row] = await repo.lockIssues(tx, repoName, [values.number]);
          if (!row) return out(WEBHOOK.applied, "not stored");
          if (row.taskId !== null) {
            await noteOnTasks(
              tx,
              [
                {
                  taskId: row.taskId,
                  entry: {
                    event: "github.issue_deleted",
                    data: { issue: key, html_url: row.htmlUrl, action, delivery },
                  },
                },
              ],
              actor,
            );
          }
          await repo.deleteIssue(tx, row.id);
          await appendTrace(tx, {
            event: "github.issue_received",
            actor,
            data: { delivery, action, issue: key, change: "deleted" },
          });
          return out(WEBHOOK.applied, "deleted");
        }
        const { created, updated } = await applyIssues(tx, repoName, [values], {
          actor,
          via: "webhook",
          data: { delivery },
        });
        const change = created.length > 0 ? "created" : updated.length > 0 ? "updated" : null;
        if (change === null) return out(WEBHOOK.applied, "unchanged (the stored copy is as new)");
        await appendTrace(tx, {
          event: "github.issue_received",
          actor,
          data: { delivery, action, issue: key, change },
        });
        return out(WEBHOOK.applied, change);
      });
    }

    // pull_request: noted in the trace of every task whose outputs.pr_url names it.
    const pr = isObj(payload.pull_request) ? payload.pull_request : null;
    const number = typeof payload.number === "number" ? payload.number : pr?.number;
    if (pr === null || typeof number !== "number" || !Number.isInteger(number) || number < 1) {
      throw Invalid.field("pull_request", "is missing or lacks a number");
    }
    if (action === null || !PR_ACTIONS.has(action))
      return out(WEBHOOK.ignored, `pull_request ${action ?? "(no action)"} is not tracked`);
    const naming = (await repo.tasksNamingPull(db, repoName, number)).filter((t) => {
      const p = parsePullUrl(t.outputs.pr_url);
      return p !== null && p.repo === repoName && p.number === number;
    });
    if (naming.length === 0) return out(WEBHOOK.ignored, "no task names this pull request");
    const head = isObj(pr.head) ? pr.head.sha : undefined;
    const data = {
      delivery,
      action,
      pull_request: issueKey(repoName, number),
      html_url: typeof pr.html_url === "string" ? pr.html_url : null,
      state: typeof pr.state === "string" ? pr.state : null,
      merged: pr.merged === true,
      head_sha: typeof head === "string" ? head : null,
    };
    return db.transaction(async (tx) => {
      if (!(await repo.recordDelivery(tx, { deliveryId: delivery, event, action, result: WEBHOOK.applied })))
        return out(WEBHOOK.duplicate);
      await noteOnTasks(
        tx,
        naming.map((t) => ({ taskId: t.id, entry: { event: "github.pull_request", data } })),
        actor,
      );
      return out(WEBHOOK.applied, `noted on ${naming.length} task${naming.length === 1 ? "" : "s"}`);
    });
  };
}
