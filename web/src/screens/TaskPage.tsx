// A task: objective as the heading, status, agent (with its live status), requirements, outputs, the live
// log (virtualized, follows new lines unless the reader scrolled up), its trace, and the moves a person
// makes here: Execute, Approve, Reject with a comment.
import { useEffect, useLayoutEffect, useRef, useState } from "react";
import { useVirtualizer } from "@tanstack/react-virtual";
import { api, ok, pages, type Agent, type Dispatch, type LogLine, type Task, type TraceEntry } from "../api";
import type { StreamEvent } from "../events";
import { mergeLogs } from "../logs";
import { useBatch, useEvents, useResume } from "../live";
import { href } from "../router";
import { DISPATCH, TASK, conflictsOf, isAwaitingApproval, isExecutable } from "../states";
import { ActionButton, Age, ErrorText, JsonText, SafeLink, Section, Status, money } from "../ui";

export function TaskPage({ id }: { id: string }) {
  const [task, setTask] = useState<Task | null>(null);
  const [agent, setAgent] = useState<Agent | null>(null);
  const [logs, setLogs] = useState<LogLine[]>([]);
  const [logsComplete, setLogsComplete] = useState(false);
  const [trace, setTrace] = useState<TraceEntry[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [comment, setComment] = useState("");
  const [dispatch, setDispatch] = useState<Dispatch | null>(null);

  const load = () =>
    ok(api.GET("/api/tasks/{id}", { params: { path: { id } } })).then(
      (r) => {
        setTask(r.data);
        setLogs((l) => mergeLogs(l, r.data.logs));
        return r.data;
      },
      (e: Error) => {
        setError(e.message);
        return null;
      },
    );
  // A dispatch of this task parked by a guardrail, whoever executed it and however long ago: its approval is
  // offered here too. One that is parked no more leaves the note as it was (its status is re-read on events).
  const loadParked = () =>
    ok(
      api.GET("/api/dispatches", {
        params: { query: { task_id: id, status: DISPATCH.awaitingApproval, limit: 1 } },
      }),
    ).then(
      (r) => {
        const parked = r.data[0];
        if (parked) setDispatch(parked);
        else setDispatch((cur) => (cur && isAwaitingApproval(cur.status) ? null : cur));
      },
      () => undefined,
    );
  useEffect(() => void loadParked(), [id]);
  const loadAgent = (key: string) =>
    ok(api.GET("/api/agents/{id}", { params: { path: { id: key } } })).then(
      (r) => setAgent(r.data as Agent),
      () => undefined,
    );

  // Where the log was last read up to: the cursor of the last page read (undefined: the first page) and how
  // many lines of `logs` come before that page. A re-read starts there, so it gets that page again and every
  // line written since, however many (a cut of the stream loses the live task.log events, which are not
  // replayed). The log lines carry no id, so the re-read page replaces what is held from that point and only
  // the live lines that came meanwhile are merged after it by content (mergeLogs).
  const readFrom = useRef<{ cursor: string | undefined; held: number } | null>(null);
  // One read at a time; a re-read asked for during one runs after it (it may have started before the gap).
  const busy = useRef(false);
  const again = useRef(false);
  const gone = useRef(false);
  useEffect(
    () => () => {
      gone.current = true;
    },
    [],
  );
  const readLogs = async (taskId: string) => {
    if (busy.current) {
      again.current = true;
      return;
    }
    busy.current = true;
    try {
      do {
        again.current = false;
        const from = readFrom.current ?? { cursor: undefined, held: 0 };
        let fresh: LogLine[] = [];
        let cursor = from.cursor;
        let lastCursor = cursor;
        let lastPage = 0;
        for (;;) {
          const page = await ok(
            api.GET("/api/tasks/{id}/logs", { params: { path: { id: taskId }, query: { limit: 500, cursor } } }),
          );
          if (gone.current) return;
          fresh = fresh.concat(page.data);
          lastCursor = cursor;
          lastPage = page.data.length;
          if (!page.meta.next_cursor) break;
          cursor = page.meta.next_cursor;
        }
        setLogs((held) => mergeLogs(held.slice(0, from.held).concat(fresh), held.slice(from.held)));
        readFrom.current = { cursor: lastCursor, held: from.held + fresh.length - lastPage };
        setLogsComplete(true);
      } while (again.current);
    } catch (e) {
      if (!gone.current) setError((e as Error).message);
    } finally {
      busy.current = false;
    }
  };

  useEffect(() => {
    let cancelled = false;
    void load().then((t) => {
      if (!t || cancelled) return;
      if (t.agent_id) void loadAgent(t.agent_id);
      // Every line, page by page (100,000 lines are 200 pages); what arrived live meanwhile is merged after.
      void readLogs(t.task_id);
      let entries: TraceEntry[] = [];
      pages(
        (cursor) => ok(api.GET("/api/trace", { params: { query: { task_id: t.task_id, limit: 500, cursor } } })),
        (items) => {
          entries = entries.concat(items);
        },
        () => cancelled,
        20,
      ).then(
        () => !cancelled && setTrace((live) => mergeTrace(entries, live)),
        () => undefined,
      );
    });
    return () => {
      cancelled = true;
    };
  }, [id]);

  const reload = useBatch(() => void load(), 100);
  const reloadAgent = useBatch((keys) => keys.forEach((k) => void loadAgent(k)), 100);
  useEvents((e: StreamEvent) => {
    if (!task) return;
    if (e.task_id === task.task_id) {
      if (e.event === "task.log") {
        if (Array.isArray(e.lines)) setLogs((l) => mergeLogs(l, e.lines as LogLine[]));
        return;
      }
      if (e.id !== null) setTrace((t) => mergeTrace(t, [e as unknown as TraceEntry]));
      if (e.event === "task.dispatched" || e.event.startsWith("dispatch.")) void loadParked();
      reload("t");
    }
    if (task.agent_id && e.agent_id === task.agent_id && e.event.startsWith("agent.") && e.event !== "agent.heartbeat")
      reloadAgent(task.agent_id);
  });
  // Live log lines of the gap are not replayed: the log is re-read from the last page read.
  useResume(() => {
    reload("t");
    void loadParked();
    if (task) void readLogs(task.task_id);
    if (task?.agent_id) reloadAgent(task.agent_id);
  });

  if (!task) return error ? <ErrorText error={error} /> : <p className="muted">Loading…</p>;
  const tid = task.task_id;
  return (
    <>
      <p className="crumbs">
        <a href={href.mission(task.mission_id)}>{task.mission_id}</a> / {tid}
      </p>
      <h1 className="task-title">{task.objective}</h1>
      <div className="facts">
        <Status value={task.status} />
        <span>
          <span className="muted">agent</span> {task.agent_id ?? "unassigned"}{" "}
          {agent ? <Status value={agent.status} /> : null}
        </span>
        {agent?.status_reason ? <span className="reason">{agent.status_reason}</span> : null}
        <span>
          <span className="muted">updated</span> <Age at={task.updated_at} />
        </span>
        {task.priority !== null ? (
          <span>
            <span className="muted">priority</span> {task.priority}
          </span>
        ) : null}
      </div>
      <ErrorText error={error} />
      <div className="actions">
        {/* Where POST /execute is allowed, by the server's own rule (a failed task is retried). */}
        {isExecutable(task.status) ? (
          <ActionButton
            label="Execute"
            run={async () => {
              const r = await ok(api.POST("/api/tasks/{id}/execute", { params: { path: { id: tid } }, body: {} }));
              setDispatch(r.data);
            }}
            onDone={() => reload("t")}
          />
        ) : null}
        {task.status === TASK.pending_review ? (
          <div className="review">
            <label htmlFor="comment">Comment</label>
            <textarea
              id="comment"
              rows={2}
              value={comment}
              onChange={(e) => setComment(e.target.value)}
              placeholder="What to change (required to reject)"
            />
            <ActionButton
              label="Approve"
              className="primary"
              run={() =>
                ok(
                  api.POST("/api/tasks/{id}/approve", {
                    params: { path: { id: tid } },
                    body: comment.trim() ? { comment: comment.trim() } : {},
                  }),
                )
              }
              onDone={() => (setComment(""), reload("t"))}
            />
            <ActionButton
              label="Reject"
              className="danger"
              disabled={!comment.trim()}
              run={() =>
                ok(
                  api.POST("/api/tasks/{id}/reject", {
                    params: { path: { id: tid } },
                    body: { comment: comment.trim() },
                  }),
                )
              }
              onDone={() => (setComment(""), reload("t"))}
            />
          </div>
        ) : null}
      </div>
      {dispatch ? <DispatchNote dispatch={dispatch} onApproved={setDispatch} /> : null}
      <div className="two">
        <Section title="Outputs">
          <Outputs outputs={task.outputs} />
        </Section>
        <Section title="Requirements">
          {task.requirement_ids.length === 0 ? <p className="muted">Serves no requirement.</p> : null}
          <ul>
            {task.requirement_ids.map((r) => (
              <Requirement key={r} id={r} />
            ))}
          </ul>
          {task.required_capabilities.length ? (
            <p className="muted">needs: {task.required_capabilities.join(", ")}</p>
          ) : null}
        </Section>
      </div>
      <Section title={`Logs (${logs.length}${logsComplete ? "" : ", loading all…"})`}>
        <LogView lines={logs} />
      </Section>
      <Section title="Trace">
        <TraceTable entries={trace} />
      </Section>
    </>
  );
}

function mergeTrace(a: TraceEntry[], b: TraceEntry[]): TraceEntry[] {
  const seen = new Set(a.map((e) => e.id));
  const add = b.filter((e) => !seen.has(e.id));
  return add.length ? a.concat(add).sort((x, y) => x.id - y.id) : a;
}

function DispatchNote({ dispatch, onApproved }: { dispatch: Dispatch; onApproved: (d: Dispatch) => void }) {
  if (!isAwaitingApproval(dispatch.status) || !dispatch.policy) {
    return (
      <p className="note">
        Dispatched (attempt {dispatch.attempt}): {dispatch.status}.
      </p>
    );
  }
  const decision = String(dispatch.policy.decision_id);
  return (
    <div className="note">
      <p>A policy requires approval before this runs: {dispatch.policy.messages.join("; ")}</p>
      <ActionButton
        label="Approve dispatch"
        run={async () =>
          onApproved(
            (
              await ok(
                api.POST("/api/tasks/{id}/execute", {
                  params: { path: { id: dispatch.task_id } },
                  body: { approve_policy: decision },
                }),
              )
            ).data,
          )
        }
      />
    </div>
  );
}

function Requirement({ id }: { id: string }) {
  const [title, setTitle] = useState<string | null>(null);
  useEffect(() => {
    ok(api.GET("/api/requirements/{id}", { params: { path: { id } } })).then(
      (r) => setTitle(r.data.title),
      () => undefined,
    );
  }, [id]);
  return (
    <li>
      <code>{id}</code> {title}
    </li>
  );
}

function Outputs({ outputs }: { outputs: Record<string, unknown> }) {
  const usage = (outputs.usage ?? {}) as Record<string, unknown>;
  // files_changed is a count (with insertions/deletions); changed_files the paths (see the worktree adapter).
  const files = Array.isArray(outputs.changed_files)
    ? outputs.changed_files
    : Array.isArray(outputs.files_changed)
      ? outputs.files_changed
      : null;
  const stats =
    typeof outputs.files_changed === "number"
      ? `${outputs.files_changed} file(s), +${text(outputs.insertions)} −${text(outputs.deletions)}`
      : files
        ? `${files.length} file(s)`
        : "—";
  const rows: Array<[string, React.ReactNode]> = [
    ["branch", text(outputs.branch)],
    ["commit", text(outputs.commit)],
    ["pull request", outputs.pr_url === undefined ? "—" : <SafeLink url={outputs.pr_url} />],
    ["cost", money(outputs.cost_usd)],
    [
      "tokens",
      usage.input_tokens !== undefined || usage.output_tokens !== undefined
        ? `${text(usage.input_tokens)} in / ${text(usage.output_tokens)} out`
        : "—",
    ],
    [
      "permission denials",
      Array.isArray(outputs.permission_denials)
        ? String(outputs.permission_denials.length)
        : text(outputs.permission_denials),
    ],
    [
      "conflicts",
      conflictsOf(outputs).length === 0
        ? "—"
        : conflictsOf(outputs).map((c) => (
            <div key={c.task_id} className="conflict">
              ⚠ <a href={href.task(c.task_id)}>{c.task_id}</a> also changes {c.files.join(", ") || "the same files"}
            </div>
          )),
    ],
    ["summary", text(outputs.summary)],
  ];
  return (
    <>
      <dl className="kv">
        {rows.map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
        <div>
          <dt>files changed</dt>
          <dd>
            {stats}
            {files ? (
              <ul className="files">
                {files.map((f, i) => (
                  <li key={i}>{typeof f === "string" ? f : JSON.stringify(f)}</li>
                ))}
              </ul>
            ) : null}
          </dd>
        </div>
      </dl>
      {Array.isArray(outputs.permission_denials) && outputs.permission_denials.length ? (
        <JsonText value={outputs.permission_denials} />
      ) : null}
      <details>
        <summary>All outputs</summary>
        <JsonText value={outputs} />
      </details>
    </>
  );
}

function text(v: unknown): string {
  if (v === undefined || v === null || v === "") return "—";
  return typeof v === "string" ? v : JSON.stringify(v);
}

const LINE_HEIGHT = 20;

/** The log, virtualized; it sticks to the newest line until the reader scrolls up, and again once back at the bottom. */
export function LogView({ lines }: { lines: LogLine[] }) {
  const scroller = useRef<HTMLDivElement>(null);
  const [follow, setFollow] = useState(true);
  const v = useVirtualizer({
    count: lines.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => LINE_HEIGHT,
    overscan: 20,
  });
  useLayoutEffect(() => {
    if (follow && lines.length > 0) v.scrollToIndex(lines.length - 1, { align: "end" });
  }, [lines.length, follow, v]);
  return (
    <div className="logwrap">
      <div
        className="log"
        ref={scroller}
        data-testid="log"
        onScroll={(e) => {
          const el = e.currentTarget;
          setFollow(el.scrollTop + el.clientHeight >= el.scrollHeight - LINE_HEIGHT);
        }}
      >
        {lines.length === 0 ? <div className="logline muted">No log lines yet.</div> : null}
        <div className="log-inner" style={{ height: v.getTotalSize() }}>
          {v.getVirtualItems().map((row) => {
            const l = lines[row.index]!;
            return (
              <div
                key={row.index}
                className={`logline level-${(l.level ?? "info").replace(/[^a-z]/g, "")}`}
                style={{ transform: `translateY(${row.start}px)` }}
              >
                <span className="ts">{l.timestamp.slice(11, 23)}</span> <span className="msg">{l.message}</span>
              </div>
            );
          })}
        </div>
      </div>
      {!follow ? (
        <button type="button" className="jump" onClick={() => setFollow(true)}>
          Follow new lines
        </button>
      ) : null}
    </div>
  );
}

export function TraceTable({ entries }: { entries: TraceEntry[] }) {
  if (entries.length === 0) return <p className="muted">No entries.</p>;
  return (
    <table className="trace">
      <thead>
        <tr>
          <th>#</th>
          <th>at</th>
          <th>event</th>
          <th>actor</th>
          <th>task</th>
          <th>agent</th>
          <th>data</th>
        </tr>
      </thead>
      <tbody>
        {entries.map((e) => (
          <tr key={e.id}>
            <td>{e.id}</td>
            <td>
              <Age at={e.at} />
            </td>
            <td>{e.event}</td>
            <td>{e.actor}</td>
            <td>{e.task_id ? <a href={href.task(e.task_id)}>{e.task_id}</a> : ""}</td>
            <td>{e.agent_id ?? ""}</td>
            <td className="data">{JSON.stringify(e.data)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
