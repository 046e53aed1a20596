// "Needs you": everything waiting on a person, each with its action right here. Re-read (at most once a
// second) whenever an event could change it.
import { useEffect, useState } from "react";
import { api, ok, pages, type Agent, type Dispatch, type Mission, type TaskItem } from "../api";
import { useBatch, useEvents, useResume } from "../live";
import { href } from "../router";
import { ActionButton, Age, ErrorText, Section, Status, money } from "../ui";
import { Spend } from "./Missions";
import { AGENT, MISSION, TASK, isAwaitingApproval, isRetriedByExecute } from "../states";

/** The task statuses that wait on a person: a review, an unblock, a retry. */
const REVIEW_STATUSES = [TASK.pending_review, TASK.blocked, TASK.failed] as const;
/** The agent statuses that wait on a person: a Reset, an answer. */
const STUCK_AGENTS = [AGENT.error, AGENT.waitingForInput] as const;
/** A mission this close to its budget (spent ÷ budget) is shown: the next costly run pauses it. */
const BUDGET_WARN = 0.8;
const MAX_PAGES = 10;

/** A dispatch parked by require_approval, with the decision to approve and what the policy said. */
type Parked = Dispatch & { decisionId: string; messages: string[] };

interface InboxData {
  tasks: TaskItem[];
  dispatches: Parked[];
  agents: Agent[];
  budgets: Mission[];
}

async function loadInbox(): Promise<InboxData> {
  const tasks: TaskItem[] = [];
  const agents: Agent[] = [];
  const missions: Mission[] = [];
  const parked = new Map<number, string>();
  const since = new Date(Date.now() - 7 * 86400_000).toISOString();
  await Promise.all([
    ...REVIEW_STATUSES.map((status) =>
      pages(
        (cursor) => ok(api.GET("/api/tasks", { params: { query: { status, limit: 500, cursor } } })),
        (items) => tasks.push(...items),
        undefined,
        MAX_PAGES,
      ),
    ),
    ...STUCK_AGENTS.map((status) =>
      pages(
        (cursor) => ok(api.GET("/api/agents", { params: { query: { status, limit: 500, cursor } } })),
        (items) => agents.push(...(items as Agent[])),
        undefined,
        MAX_PAGES,
      ),
    ),
    pages(
      (cursor) => ok(api.GET("/api/missions", { params: { query: { status: MISSION.active, limit: 500, cursor } } })),
      (items) => missions.push(...items),
      undefined,
      MAX_PAGES,
    ),
    // Dispatches parked by a require_approval policy are named by their task.dispatched entries.
    pages(
      (cursor) =>
        ok(api.GET("/api/trace", { params: { query: { event: "task.dispatched", since, limit: 500, cursor } } })),
      (items) => {
        for (const e of items) {
          const d = e.data as { dispatch_id?: unknown; awaiting_approval?: unknown };
          if (d.awaiting_approval !== undefined && typeof d.dispatch_id === "number")
            parked.set(d.dispatch_id, String(d.awaiting_approval));
        }
      },
      undefined,
      MAX_PAGES,
    ),
  ]);
  const waiting = (
    await Promise.all(
      [...parked.keys()].map((id) =>
        ok(api.GET("/api/dispatches/{id}", { params: { path: { id: String(id) } } })).then(
          (r) => r.data,
          () => null,
        ),
      ),
    )
  ).filter((d): d is Dispatch => d !== null && isAwaitingApproval(d.status));
  const dispatches = await Promise.all(
    waiting.map(async (d): Promise<Parked> => ({
      ...d,
      decisionId: parked.get(d.id)!,
      messages: await policyMessages(d.task_id, parked.get(d.id)!),
    })),
  );
  const budgets = missions.filter(
    (m) => m.budget_usd !== null && m.budget_usd > 0 && m.spent_usd >= m.budget_usd * BUDGET_WARN,
  );
  tasks.sort((a, b) => Date.parse(b.updated_at) - Date.parse(a.updated_at));
  return { tasks, dispatches, agents, budgets };
}

/**
 * What the policy said when it parked the dispatch: the decision is the `policy.evaluated` entry whose id is
 * the decision id (so no decision name is spelled here).
 */
async function policyMessages(taskId: string, decisionId: string): Promise<string[]> {
  let messages: string[] = [];
  await pages(
    (cursor) =>
      ok(
        api.GET("/api/trace", {
          params: { query: { task_id: taskId, event: "policy.evaluated", limit: 500, cursor } },
        }),
      ),
    (items) => {
      for (const e of items) {
        const d = e.data as { messages?: unknown };
        if (String(e.id) === decisionId && Array.isArray(d.messages)) messages = d.messages.map(String);
      }
    },
    undefined,
    4,
  ).catch(() => undefined);
  return messages;
}

export function Inbox() {
  const [data, setData] = useState<InboxData | null>(null);
  const [error, setError] = useState<string | null>(null);
  const reload = () =>
    loadInbox().then(
      (d) => (setData(d), setError(null)),
      (e: Error) => setError(e.message),
    );
  useEffect(() => void reload(), []);
  const later = useBatch(() => void reload(), 1000);
  useEvents((e) => {
    if (e.event === "agent.heartbeat" || e.event === "task.log") return;
    if (
      e.event.startsWith("task.") ||
      e.event.startsWith("agent.") ||
      e.event.startsWith("mission.") ||
      e.event.startsWith("dispatch.")
    )
      later("x");
  });
  useResume(() => later("x"));

  if (!data) return error ? <ErrorText error={error} /> : <p className="muted">Loading…</p>;
  const empty = !data.tasks.length && !data.dispatches.length && !data.agents.length && !data.budgets.length;
  return (
    <>
      <h1>Needs you</h1>
      <ErrorText error={error} />
      {empty ? <p className="muted">Nothing is waiting on you.</p> : null}
      {data.tasks.length ? (
        <Section title={`Tasks (${data.tasks.length})`}>
          <ul className="inbox">
            {data.tasks.map((t) => (
              <li key={t.task_id}>
                <Status value={t.status} /> <a href={href.task(t.task_id)}>{t.objective}</a>{" "}
                <span className="muted small">
                  {t.mission_id} · {t.agent_id ?? "unassigned"} · <Age at={t.updated_at} />
                </span>
                <span className="row-actions">
                  {t.status === TASK.pending_review ? (
                    <>
                      <ActionButton
                        label="Approve"
                        run={() =>
                          ok(api.POST("/api/tasks/{id}/approve", { params: { path: { id: t.task_id } }, body: {} }))
                        }
                        onDone={() => void reload()}
                      />
                      <a className="button" href={href.task(t.task_id)}>
                        Review
                      </a>
                    </>
                  ) : isRetriedByExecute(t.status) ? (
                    <ActionButton
                      label="Retry"
                      run={() =>
                        ok(api.POST("/api/tasks/{id}/execute", { params: { path: { id: t.task_id } }, body: {} }))
                      }
                      onDone={() => void reload()}
                    />
                  ) : (
                    <ActionButton
                      label="Execute"
                      run={() =>
                        ok(api.POST("/api/tasks/{id}/execute", { params: { path: { id: t.task_id } }, body: {} }))
                      }
                      onDone={() => void reload()}
                    />
                  )}
                </span>
              </li>
            ))}
          </ul>
        </Section>
      ) : null}
      {data.dispatches.length ? (
        <Section title={`Dispatches waiting for approval (${data.dispatches.length})`}>
          <ul className="inbox">
            {data.dispatches.map((d) => (
              <li key={d.id}>
                <a href={href.task(d.task_id)}>{d.task_id}</a> → {d.agent_id}:{" "}
                <span>{d.messages.join("; ") || "a policy requires approval"}</span>
                <span className="row-actions">
                  <ActionButton
                    label="Approve dispatch"
                    run={() =>
                      ok(
                        api.POST("/api/tasks/{id}/execute", {
                          params: { path: { id: d.task_id } },
                          body: { approve_policy: d.decisionId },
                        }),
                      )
                    }
                    onDone={() => void reload()}
                  />
                </span>
              </li>
            ))}
          </ul>
        </Section>
      ) : null}
      {data.agents.length ? (
        <Section title={`Agents (${data.agents.length})`}>
          <ul className="inbox">
            {data.agents.map((a) => (
              <li key={a.agent_id}>
                <Status value={a.status} /> <strong>{a.agent_id}</strong>{" "}
                <span className="reason">{a.status_reason ?? ""}</span>
                {a.current_task_id ? (
                  <>
                    {" "}
                    · <a href={href.task(a.current_task_id)}>{a.current_task_id}</a>
                  </>
                ) : null}
                <span className="row-actions">
                  <ActionButton
                    label="Reset"
                    run={() =>
                      ok(api.POST("/api/agents/{agent_id}/reset", { params: { path: { agent_id: a.agent_id } } }))
                    }
                    onDone={() => void reload()}
                  />
                </span>
              </li>
            ))}
          </ul>
        </Section>
      ) : null}
      {data.budgets.length ? (
        <Section title={`Budgets (${data.budgets.length})`}>
          <ul className="inbox">
            {data.budgets.map((m) => (
              <li key={m.mission_id}>
                <a href={href.mission(m.mission_id)}>{m.goal}</a> <Spend mission={m} />{" "}
                <span className="muted small">pauses at {money(m.budget_usd)}</span>
                <span className="row-actions">
                  <ActionButton
                    label="Pause"
                    run={() => ok(api.POST("/api/missions/{id}/pause", { params: { path: { id: m.mission_id } } }))}
                    onDone={() => void reload()}
                  />
                </span>
              </li>
            ))}
          </ul>
        </Section>
      ) : null}
    </>
  );
}
