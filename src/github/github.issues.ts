// Writing synced issues, shared by sync runs and webhooks. An issue is written only when GitHub's copy is
// newer than ours (so a late webhook never undoes a sync, nor the other way round), and when a linked
// issue is closed or reopened on GitHub its task's trace says so, in the transaction that writes the change.
import type { Executor } from "../db/client.js";
import { appendTrace } from "../trace/trace.append.js";
import type { TraceEvent } from "../trace/trace.events.js";
import { issueKey } from "./github.refs.js";
import * as repo from "./github.repo.js";
import { isIssueState, issueStateEvent } from "./github.state.js";

// PostgreSQL stores neither NUL characters nor unpaired surrogates; GitHub text is cleaned of them rather
// than failing the whole page.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const clean = (s: string) => s.replaceAll("\u0000", "").replace(LONE_SURROGATE, "");

/** Items of the issues API that are pull requests (the API lists both); they are never stored. */
export function isPullRequest(raw: unknown): boolean {
  return typeof raw === "object" && raw !== null && (raw as { pull_request?: unknown }).pull_request != null;
}

/** An issue of the REST API or a webhook payload as a row's values; null when it is not a usable issue. */
export function issueValues(repoName: string, raw: unknown): repo.IssueValues | null {
  if (typeof raw !== "object" || raw === null) return null;
  const i = raw as Record<string, unknown>;
  const { number, title, state, html_url: htmlUrl, updated_at: updatedAt, body } = i;
  if (typeof number !== "number" || !Number.isInteger(number) || number < 1 || number > 2_147_483_647) return null;
  if (typeof title !== "string" || typeof htmlUrl !== "string" || typeof updatedAt !== "string") return null;
  if (!isIssueState(state)) return null;
  const at = new Date(updatedAt);
  if (Number.isNaN(at.getTime())) return null;
  const labels = Array.isArray(i.labels)
    ? i.labels
        .map((l) =>
          typeof l === "string" ? l : typeof l === "object" && l !== null ? (l as { name?: unknown }).name : null,
        )
        .filter((n): n is string => typeof n === "string")
        .map(clean)
    : [];
  const assignees = Array.isArray(i.assignees)
    ? i.assignees
        .map((a) => (typeof a === "object" && a !== null ? (a as { login?: unknown }).login : null))
        .filter((n): n is string => typeof n === "string")
        .map(clean)
    : [];
  return {
    repo: repoName,
    number,
    title: clean(title),
    state,
    labels,
    assignees,
    htmlUrl: clean(htmlUrl),
    body: typeof body === "string" ? clean(body) : null,
    githubUpdatedAt: at,
  };
}

export function issueToApi(v: repo.IssueView) {
  return {
    id: v.id,
    repo: v.repo,
    number: v.number,
    title: v.title,
    state: v.state,
    labels: v.labels,
    assignees: v.assignees,
    html_url: v.htmlUrl,
    body: v.body,
    github_updated_at: v.githubUpdatedAt,
    task_id: v.taskKey,
    inserted_at: v.insertedAt,
    updated_at: v.updatedAt,
  };
}

export interface ApplyContext {
  actor: string;
  via: "sync" | "webhook";
  /** Added to the linked tasks' entries: the run id or the delivery id. */
  data: Record<string, unknown>;
}

/**
 * Upserts one repository's issues (in number order, the order every writer locks rows in) and notes
 * state changes of linked issues in their tasks' traces. Appends mission-chain entries only; the caller
 * appends its global entry after (mission chains first, then the global one: the documented lock order).
 */
export async function applyIssues(tx: Executor, repoName: string, items: repo.IssueValues[], ctx: ApplyContext) {
  // The same issue twice on one page (it moved while paginating): the newest copy wins.
  const byNumber = new Map<number, repo.IssueValues>();
  for (const v of items) {
    const prev = byNumber.get(v.number);
    if (!prev || v.githubUpdatedAt > prev.githubUpdatedAt) byNumber.set(v.number, v);
  }
  const values = [...byNumber.values()].sort((a, b) => a.number - b.number);
  const before = new Map(
    (
      await repo.lockIssues(
        tx,
        repoName,
        values.map((v) => v.number),
      )
    ).map((r) => [r.number, r]),
  );
  const written = await repo.upsertIssues(tx, values);
  const created: number[] = [];
  const updated: number[] = [];
  const notes: Array<{ row: repo.IssueRow; from: string }> = [];
  for (const row of written) {
    const old = before.get(row.number);
    if (!old) created.push(row.number);
    else updated.push(row.number);
    if (old && row.taskId !== null && old.state !== row.state) {
      notes.push({ row, from: old.state });
    }
  }
  await noteOnTasks(
    tx,
    notes.map((n) => ({
      taskId: n.row.taskId!,
      entry: {
        event: issueStateEvent(n.row.state),
        data: {
          issue: issueKey(n.row.repo, n.row.number),
          html_url: n.row.htmlUrl,
          from: n.from,
          to: n.row.state,
          via: ctx.via,
          ...ctx.data,
        },
      },
    })),
    ctx.actor,
  );
  return { created: created.sort((a, b) => a - b), updated: updated.sort((a, b) => a - b) };
}

/** Task-trace entries, appended in mission-key order so two writers never take mission chains in opposite orders. */
export async function noteOnTasks(tx: Executor, notes: Array<{ taskId: number; entry: TraceEvent }>, actor: string) {
  if (notes.length === 0) return;
  const keys = new Map((await repo.taskKeys(tx, [...new Set(notes.map((n) => n.taskId))])).map((k) => [k.id, k]));
  const ordered = notes
    .map((n) => ({ ...n, k: keys.get(n.taskId)! }))
    .filter((n) => n.k !== undefined)
    .sort((a, b) => (a.k.missionKey < b.k.missionKey ? -1 : a.k.missionKey > b.k.missionKey ? 1 : a.taskId - b.taskId));
  for (const n of ordered) {
    await appendTrace(tx, {
      ...n.entry,
      actor,
      missionId: n.k.missionKey,
      taskId: n.k.taskKey,
      agentId: n.k.agentKey,
    });
  }
}
