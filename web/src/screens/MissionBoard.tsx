// A mission and its board: the tasks in columns by status, each column a virtualized list (10,000 tasks
// stay smooth), loaded page by page and kept current by the event stream: an event naming a task of this
// mission re-reads that task, one naming an agent re-reads that agent.
import { useEffect, useMemo, useRef, useState } from "react";
import { useVirtualizer } from "@tanstack/react-virtual";
import { api, ok, pages, type Agent, type Mission, type TaskItem } from "../api";
import { useBatch, useConnected, useEvents } from "../live";
import { href } from "../router";
import { MISSION, TASK, TASK_STATUSES, canMoveMission, canMoveTask, conflictsOf, isTaskStatus } from "../states";
import { ActionButton, Age, ErrorText, Status, money } from "../ui";

export function MissionHeader({
  mission,
  done,
  total,
  onChanged,
}: {
  mission: Mission;
  done: number | null;
  total: number | null;
  onChanged: () => void;
}) {
  const id = mission.mission_id;
  const pct = total ? Math.round(((done ?? 0) / total) * 100) : 0;
  return (
    <div className="mission-head">
      <h1>{mission.goal}</h1>
      <div className="facts">
        <span>
          <span className="muted">mission</span> {id}
        </span>
        <Status value={mission.status} />
        <span>
          <span className="muted">progress</span> {total === null ? "…" : `${done}/${total} completed (${pct}%)`}
        </span>
        <span>
          <span className="muted">spend</span> {money(mission.spent_usd)}
          {mission.budget_usd !== null ? ` of ${money(mission.budget_usd)}` : " (no budget)"}
        </span>
        <span>
          <span className="muted">runtime</span>{" "}
          {mission.runtime.running ? `running, ${mission.runtime.workers.length} worker(s)` : "stopped"}
        </span>
      </div>
      {mission.description ? <p className="description">{mission.description}</p> : null}
      <MissionActions mission={mission} onChanged={onChanged} />
    </div>
  );
}

export function MissionActions({ mission, onChanged }: { mission: Mission; onChanged: () => void }) {
  const id = mission.mission_id;
  return (
    <div className="actions">
      {/* Start and Pause are offered where the server's mission state machine allows the move. */}
      {canMoveMission(mission.status, MISSION.active) ? (
        <ActionButton
          label="Start"
          run={() => ok(api.POST("/api/missions/{id}/start", { params: { path: { id } } }))}
          onDone={onChanged}
        />
      ) : null}
      {canMoveMission(mission.status, MISSION.paused) ? (
        <ActionButton
          label="Pause"
          run={() => ok(api.POST("/api/missions/{id}/pause", { params: { path: { id } } }))}
          onDone={onChanged}
        />
      ) : null}
    </div>
  );
}

export function MissionBoard({ id }: { id: string }) {
  const [mission, setMission] = useState<Mission | null>(null);
  const [tasks, setTasks] = useState<Map<string, TaskItem>>(new Map());
  const [agents, setAgents] = useState<Map<string, Agent>>(new Map());
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const loadMission = () =>
    ok(api.GET("/api/missions/{id}", { params: { path: { id } } })).then(
      (r) => setMission(r.data),
      (e: Error) => setError(e.message),
    );

  /** The mission, every page of its tasks, and the agents; `isCancelled` stops the paging. */
  const loadAll = (isCancelled: () => boolean) => {
    const cancelled = isCancelled;
    void loadMission();
    pages(
      (cursor) =>
        ok(
          api.GET("/api/missions/{mission_id}/tasks", {
            params: { path: { mission_id: id }, query: { limit: 500, cursor } },
          }),
        ),
      (items) =>
        setTasks((m) => {
          const next = new Map(m);
          for (const t of items) next.set(t.task_id, t);
          return next;
        }),
      cancelled,
    ).then(
      () => !cancelled() && setLoaded(true),
      (e: Error) => !cancelled() && setError(e.message),
    );
    pages(
      (cursor) => ok(api.GET("/api/agents", { params: { query: { limit: 500, cursor } } })),
      (items) =>
        setAgents((m) => {
          const next = new Map(m);
          for (const a of items) next.set(a.agent_id, a as Agent);
          return next;
        }),
      cancelled,
    ).catch((e: Error) => !cancelled() && setError(e.message));
  };
  const unmounted = useRef(false);
  useEffect(() => {
    let cancelled = false;
    loadAll(() => cancelled);
    return () => {
      cancelled = true;
      unmounted.current = true;
    };
  }, [id]);
  // Read before the stream was open: read again once it is (a change in between is in neither). Later gaps
  // are replayed by the stream itself (Last-Event-ID), each replayed event re-reading its task.
  useConnected(() => loadAll(() => unmounted.current), { reconnects: false });

  const refetchTasks = useBatch((keys) => {
    for (const key of keys) {
      ok(api.GET("/api/tasks/{id}", { params: { path: { id: key } } })).then(
        (r) => {
          const { logs: _logs, ...t } = r.data;
          setTasks((m) => new Map(m).set(t.task_id, t as TaskItem));
        },
        () => undefined,
      );
    }
  });
  const refetchAgents = useBatch((keys) => {
    for (const key of keys) {
      ok(api.GET("/api/agents/{id}", { params: { path: { id: key } } })).then(
        (r) => setAgents((m) => new Map(m).set(r.data.agent_id, r.data as Agent)),
        () => undefined,
      );
    }
  });
  const refetchMission = useBatch(() => void loadMission(), 300);

  useEvents((e) => {
    const key = mission?.mission_id;
    if (!key) return;
    if (e.agent_id && e.event.startsWith("agent.") && e.event !== "agent.heartbeat") refetchAgents(e.agent_id);
    if (e.mission_id !== key) return;
    if (e.task_id && e.event !== "task.log") refetchTasks(e.task_id);
    // Spend, status and runtime change with the mission's own events and with its tasks' costs.
    if (e.event.startsWith("mission.") || e.event === "task.reported") refetchMission("m");
  });

  const columns = useMemo(() => {
    const cols = new Map<string, TaskItem[]>(TASK_STATUSES.map((s) => [s, []]));
    for (const t of tasks.values()) {
      if (!cols.has(t.status)) cols.set(t.status, []);
      cols.get(t.status)!.push(t);
    }
    for (const list of cols.values()) list.sort((a, b) => a.id - b.id);
    return cols;
  }, [tasks]);

  if (!mission) return error ? <ErrorText error={error} /> : <p className="muted">Loading…</p>;
  const done = columns.get(TASK.completed)?.length ?? 0;
  return (
    <>
      <MissionHeader
        mission={mission}
        done={loaded ? done : null}
        total={loaded ? tasks.size : null}
        onChanged={() => void loadMission()}
      />
      <ErrorText error={error} />
      <MissionSetup missionId={mission.mission_id} agents={agents} />
      {!loaded ? <p className="muted">Loading tasks… {tasks.size} so far</p> : null}
      <div className="board" aria-label="Board">
        {[...columns.entries()].map(([status, list]) => (
          <Column key={status} status={status} tasks={list} agents={agents} />
        ))}
      </div>
    </>
  );
}

const CARD_HEIGHT = 148;

function Column({ status, tasks, agents }: { status: string; tasks: TaskItem[]; agents: Map<string, Agent> }) {
  const scroller = useRef<HTMLDivElement>(null);
  const v = useVirtualizer({
    count: tasks.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => CARD_HEIGHT,
    overscan: 6,
  });
  return (
    <section className="column" aria-label={`${status} column`}>
      <h2>
        <Status value={status} /> <span className="count">{tasks.length}</span>
      </h2>
      <div className="column-scroll" ref={scroller}>
        <div className="column-inner" style={{ height: v.getTotalSize() }}>
          {v.getVirtualItems().map((row) => {
            const t = tasks[row.index]!;
            return (
              <div
                key={t.task_id}
                className="card-slot"
                style={{ transform: `translateY(${row.start}px)`, height: CARD_HEIGHT }}
              >
                <Card task={t} agent={t.agent_id ? agents.get(t.agent_id) : undefined} />
              </div>
            );
          })}
        </div>
      </div>
    </section>
  );
}

function Card({ task, agent }: { task: TaskItem; agent: Agent | undefined }) {
  const conflicts = conflictsOf(task.outputs);
  const moves = isTaskStatus(task.status)
    ? TASK_STATUSES.filter((to) => to !== task.status && canMoveTask(task.status, to, "update"))
    : [];
  const [error, setError] = useState<string | null>(null);
  return (
    <article className="card" data-task-id={task.task_id}>
      <a className="objective" href={href.task(task.task_id)}>
        {task.objective}
      </a>
      <div className="card-row">
        <Status value={task.status} />
        {conflicts.length > 0 ? (
          <span className="conflict" title={`touches the same files as ${conflicts.map((c) => c.task_id).join(", ")}`}>
            ⚠ conflict{conflicts.length > 1 ? `s (${conflicts.length})` : ""}
          </span>
        ) : null}
        <span className="cost">{money(task.outputs.cost_usd)}</span>
      </div>
      <div className="card-row muted">
        {task.agent_id ? (
          <span>
            {task.agent_id} {agent ? <Status value={agent.status} /> : null}
          </span>
        ) : (
          <span>unassigned</span>
        )}
        <Age at={task.updated_at} />
      </div>
      {moves.length > 0 ? (
        <select
          aria-label={`Move ${task.task_id}`}
          value=""
          onChange={(e) => {
            const status = e.target.value as (typeof TASK_STATUSES)[number];
            setError(null);
            ok(api.PATCH("/api/tasks/{id}", { params: { path: { id: task.task_id } }, body: { status } })).catch(
              (err: Error) => setError(err.message),
            );
          }}
        >
          <option value="">Move to…</option>
          {moves.map((m) => (
            <option key={m} value={m}>
              {m}
            </option>
          ))}
        </select>
      ) : null}
      {error ? <span className="error">{error}</span> : null}
    </article>
  );
}

/** The mission's agents (add one), and a form for a new task: what a person needs to run a mission here. */
function MissionSetup({ missionId, agents }: { missionId: string; agents: Map<string, Agent> }) {
  const [members, setMembers] = useState<string[] | null>(null);
  const [adding, setAdding] = useState("");
  const [objective, setObjective] = useState("");
  const [assignee, setAssignee] = useState("");
  const [error, setError] = useState<string | null>(null);
  const loadMembers = () => {
    const keys: string[] = [];
    pages(
      (cursor) =>
        ok(
          api.GET("/api/missions/{mission_id}/agents", {
            params: { path: { mission_id: missionId }, query: { limit: 500, cursor } },
          }),
        ),
      (items) => keys.push(...items.map((a) => a.agent_id)),
    ).then(
      () => setMembers(keys),
      (e: Error) => setError(e.message),
    );
  };
  useEffect(loadMembers, [missionId]);
  useEvents((e) => {
    if (e.mission_id === missionId && (e.event === "mission.agent_added" || e.event === "mission.agent_removed"))
      loadMembers();
  });
  const others = [...agents.keys()].filter((k) => !(members ?? []).includes(k)).sort();
  return (
    <div className="setup">
      <form
        className="inline"
        onSubmit={(e) => {
          e.preventDefault();
          if (!adding) return;
          setError(null);
          ok(
            api.POST("/api/missions/{mission_id}/agents", {
              params: { path: { mission_id: missionId } },
              body: { agent_id: adding },
            }),
          ).then(
            () => (setAdding(""), loadMembers()),
            (err: Error) => setError(err.message),
          );
        }}
      >
        <span className="muted">agents</span>{" "}
        {members === null ? "…" : members.length ? members.join(", ") : "none yet"}
        <select aria-label="Agent to add" value={adding} onChange={(e) => setAdding(e.target.value)}>
          <option value="">Add an agent…</option>
          {others.map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
        <button type="submit" disabled={!adding}>
          Add agent
        </button>
      </form>
      <form
        className="inline"
        onSubmit={(e) => {
          e.preventDefault();
          if (!objective.trim()) return;
          setError(null);
          ok(
            api.POST("/api/missions/{mission_id}/tasks", {
              params: { path: { mission_id: missionId } },
              body: { objective: objective.trim(), ...(assignee ? { agent_id: assignee } : {}) },
            }),
          ).then(
            () => setObjective(""),
            (err: Error) => setError(err.message),
          );
        }}
      >
        <label>
          New task{" "}
          <input value={objective} onChange={(e) => setObjective(e.target.value)} placeholder="Objective" size={48} />
        </label>
        <select aria-label="Assign to" value={assignee} onChange={(e) => setAssignee(e.target.value)}>
          <option value="">any agent on the mission</option>
          {(members ?? []).map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
        <button type="submit" disabled={!objective.trim()}>
          Create task
        </button>
      </form>
      <ErrorText error={error} />
    </div>
  );
}
