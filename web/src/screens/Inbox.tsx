// "Needs you": everything waiting on a person, each with its action right here. Re-read (at most once a
// second) whenever an event could change it.
import { useEffect, useState } from "react";
import { api, ok, pages, type Agent, type Dispatch, type Mission, type TaskItem } from "../api";
import { useBatch, useEvents, useResume } from "../live";
import { href } from "../router";
import { ActionButton, Age, ErrorText, Section, Status, money } from "../ui";
import { Spend } from "./Missions";
import { AGENT, DISPATCH, MISSION, TASK, isRetriedByExecute } from "../states";

/** The task statuses that wait on a person: a review, an unblock, a retry. */
const REVIEW_STATUSES = [TASK.pending_review, TASK.blocked, TASK.failed] as const;
/** The agent statuses that wait on a person: a Reset, an answer. */
const STUCK_AGENTS = [AGENT.error, AGENT.waitingForInput] as const;
/** A mission this close to its budget (spent ÷ budget) is shown: the next costly run pauses it. */
const BUDGET_WARN = 0.8;
const MAX_PAGES = 10;

/** A dispatch parked by require_approval, with the decision to approve (its `policy` says what it said). */
type Parked = Dispatch & { decisionId: string };

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
  const dispatches: Parked[] = [];
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
    // Every parked dispatch, whatever its age (the list pages by id, so all pages are read).
    pages(
      (cursor) =>
        ok(
          api.GET("/api/dispatches", {
            params: { query: { status: DISPATCH.awaitingApproval, limit: 500, cursor } },
          }),
        ),
      (items) => {
        // The server names the require_approval decision that parked each one: approving names it back.
        for (const d of items) if (d.policy) dispatches.push({ ...d, decisionId: String(d.policy.decision_id) });
      },
    ),
  ]);
  const budgets = missions.filter(
    (m) => m.budget_usd !== null && m.budget_usd > 0 && m.spent_usd >= m.budget_usd * BUDGET_WARN,
  );
  tasks.sort((a, b) => Date.parse(b.updated_at) - Date.parse(a.updated_at));
  return { tasks, dispatches, agents, budgets };
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
                <span>{d.policy?.messages.join("; ") || "a policy requires approval"}</span>
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
