// Missions: each with its status, progress, spend against budget, and Start / Pause; a form to create one.
import { useEffect, useState } from "react";
import { api, ok, pages, type Mission } from "../api";
import { useBatch, useConnected, useEvents } from "../live";
import { href } from "../router";
import { ErrorText, Section, Status, money } from "../ui";
import { MissionActions } from "./MissionBoard";
import { TASK } from "../states";

export function Missions() {
  const [missions, setMissions] = useState<Map<string, Mission>>(new Map());
  const [error, setError] = useState<string | null>(null);
  const [version, setVersion] = useState<Record<string, number>>({});

  const upsert = (items: Mission[]) =>
    setMissions((m) => {
      const next = new Map(m);
      for (const x of items) next.set(x.mission_id, x);
      return next;
    });
  const loadAll = () => {
    let cancelled = false;
    pages(
      (cursor) => ok(api.GET("/api/missions", { params: { query: { limit: 500, cursor } } })),
      upsert,
      () => cancelled,
    ).catch((e: Error) => setError(e.message));
    return () => {
      cancelled = true;
    };
  };
  useEffect(loadAll, []);
  // Read before the stream was open: read again once it is. Later gaps are replayed (Last-Event-ID).
  useConnected(loadAll, { reconnects: false });

  const refetch = useBatch((keys) => {
    for (const id of keys)
      ok(api.GET("/api/missions/{id}", { params: { path: { id } } })).then(
        (r) => upsert([r.data]),
        () => undefined,
      );
  }, 300);
  const recount = useBatch(
    (keys) =>
      setVersion((v) => Object.fromEntries([...Object.entries(v), ...[...keys].map((k) => [k, (v[k] ?? 0) + 1])])),
    3000,
  );
  useEvents((e) => {
    if (!e.mission_id) return;
    if (e.event.startsWith("mission.") || e.event === "task.reported") refetch(e.mission_id);
    if (e.event === "task.status_changed" || e.event === "task.created") recount(e.mission_id);
  });

  const list = [...missions.values()].sort((a, b) => b.id - a.id);
  return (
    <>
      <h1>Missions</h1>
      <ErrorText error={error} />
      <NewMission onCreated={(m) => upsert([m])} />
      <table className="list">
        <thead>
          <tr>
            <th>mission</th>
            <th>status</th>
            <th>progress</th>
            <th>spend / budget</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          {list.map((m) => (
            <tr key={m.mission_id}>
              <td>
                <a href={href.mission(m.mission_id)}>{m.goal}</a>
                <div className="muted small">{m.mission_id}</div>
              </td>
              <td>
                <Status value={m.status} />
              </td>
              <td>
                <Progress missionId={m.mission_id} version={version[m.mission_id] ?? 0} />
              </td>
              <td>
                <Spend mission={m} />
              </td>
              <td>
                <MissionActions mission={m} onChanged={() => refetch(m.mission_id)} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {list.length === 0 && !error ? <p className="muted">No missions yet.</p> : null}
    </>
  );
}

export function Spend({ mission }: { mission: Mission }) {
  const b = mission.budget_usd;
  const pct = b ? Math.min(100, (mission.spent_usd / b) * 100) : 0;
  return (
    <span className="spend">
      {money(mission.spent_usd)} {b !== null ? `/ ${money(b)}` : "(no budget)"}
      {b ? <meter min={0} max={100} low={60} high={80} optimum={0} value={pct} /> : null}
    </span>
  );
}

/** Completed tasks of a mission out of all of them, counted from its paged task list. */
function Progress({ missionId, version }: { missionId: string; version: number }) {
  const [count, setCount] = useState<{ done: number; total: number } | null>(null);
  useEffect(() => {
    let cancelled = false;
    let done = 0;
    let total = 0;
    pages(
      (cursor) =>
        ok(
          api.GET("/api/missions/{mission_id}/tasks", {
            params: { path: { mission_id: missionId }, query: { limit: 500, cursor } },
          }),
        ),
      (items) => {
        total += items.length;
        done += items.filter((t) => t.status === TASK.completed).length;
      },
      () => cancelled,
    ).then(
      () => !cancelled && setCount({ done, total }),
      () => undefined,
    );
    return () => {
      cancelled = true;
    };
  }, [missionId, version]);
  if (!count) return <span className="muted">…</span>;
  const pct = count.total ? Math.round((count.done / count.total) * 100) : 0;
  return (
    <span>
      <progress max={100} value={pct} /> {count.done}/{count.total}
    </span>
  );
}

function NewMission({ onCreated }: { onCreated: (m: Mission) => void }) {
  const [goal, setGoal] = useState("");
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  return (
    <Section title="New mission">
      <form
        className="inline"
        onSubmit={(e) => {
          e.preventDefault();
          setError(null);
          ok(api.POST("/api/missions", { body: { goal, ...(key.trim() ? { mission_id: key.trim() } : {}) } })).then(
            (r) => {
              setGoal("");
              setKey("");
              onCreated(r.data);
            },
            (err: Error) => setError(err.message),
          );
        }}
      >
        <label>
          Goal <input value={goal} onChange={(e) => setGoal(e.target.value)} required />
        </label>
        <label>
          Key <input value={key} onChange={(e) => setKey(e.target.value)} placeholder="optional" />
        </label>
        <button type="submit">Create mission</button>
        <ErrorText error={error} />
      </form>
    </Section>
  );
}
