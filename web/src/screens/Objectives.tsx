// Objectives with their key results' progress, and the traceability matrix (objective → requirement →
// tasks) with its coverage, as the server computes them.
import { api, ok, type Traceability } from "../api";
import { useAsync, useBatch, useConnected, useEvents } from "../live";
import { href } from "../router";
import { ErrorText, Section, Status } from "../ui";

type Req = Traceability["unlinked_requirements"][number];

export function Objectives() {
  const { data, error, reload } = useAsync(
    () => ok(api.GET("/api/traceability", {})).then((r) => (r as { data: Traceability }).data),
    [],
  );
  const later = useBatch(() => reload(), 1000);
  // Read before the stream was open: read again once it is (a change in between is in neither).
  useConnected(reload, { reconnects: false });
  useEvents((e) => {
    if (
      /^(objective|key_result|requirement)\./.test(e.event) ||
      e.event === "task.created" ||
      e.event === "task.status_changed" ||
      e.event === "task.updated"
    )
      later("x");
  });
  if (!data) return error ? <ErrorText error={error} /> : <p className="muted">Loading…</p>;
  const s = data.stats;
  return (
    <>
      <h1>Objectives</h1>
      <ErrorText error={error} />
      <p className="facts">
        <span>
          <span className="muted">task coverage</span> {s.task_coverage_pct}% ({s.linked_tasks}/{s.total_tasks} tasks
          serve a requirement)
        </span>
        <span>
          <span className="muted">requirement coverage</span> {s.requirement_coverage_pct}% ({s.linked_requirements}/
          {s.total_requirements})
        </span>
        <span>
          <span className="muted">delivered</span> {s.delivery_pct}%
        </span>
      </p>
      {data.objectives.length === 0 ? <p className="muted">No objectives yet.</p> : null}
      {data.objectives.map((o) => (
        <Section key={o.objective_id} title={o.title} actions={<Status value={o.status} />}>
          <p>
            <progress max={100} value={o.progress} /> {o.progress}%{" "}
            {o.health ? <span className="muted">· {o.health.replace("_", " ")}</span> : null}
          </p>
          {o.description ? <p className="description">{o.description}</p> : null}
          {o.key_results.length ? (
            <table className="list">
              <thead>
                <tr>
                  <th>key result</th>
                  <th>current / target</th>
                  <th>progress</th>
                </tr>
              </thead>
              <tbody>
                {o.key_results.map((k) => (
                  <tr key={k.kr_id}>
                    <td>{k.title}</td>
                    <td>
                      {k.current ?? "—"} / {k.target ?? "—"}
                    </td>
                    <td>
                      <progress max={100} value={k.progress} /> {k.progress}%
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
          <Requirements reqs={o.requirements} />
        </Section>
      ))}
      {data.unlinked_requirements.length ? (
        <Section title="Requirements serving no objective">
          <Requirements reqs={data.unlinked_requirements} />
        </Section>
      ) : null}
      {data.unlinked_tasks.length ? (
        <Section title={`Tasks serving no requirement (${data.unlinked_tasks.length})`}>
          <ul>
            {data.unlinked_tasks.slice(0, 200).map((t) => (
              <li key={t.task_id}>
                <a href={href.task(t.task_id)}>{t.objective}</a> <Status value={t.status} />
              </li>
            ))}
          </ul>
        </Section>
      ) : null}
    </>
  );
}

function Requirements({ reqs }: { reqs: Req[] }) {
  if (!reqs.length) return null;
  return (
    <table className="list matrix">
      <thead>
        <tr>
          <th>requirement</th>
          <th>priority</th>
          <th>tasks</th>
          <th>done</th>
        </tr>
      </thead>
      <tbody>
        {reqs.map((r) => (
          <tr key={r.requirement_id}>
            <td>
              {r.title} <span className="muted small">{r.requirement_id}</span>
            </td>
            <td>{r.priority ?? "—"}</td>
            <td>
              {r.tasks.map((t) => (
                <div key={t.task_id}>
                  <a href={href.task(t.task_id)}>{t.objective}</a> <Status value={t.status} />
                </div>
              ))}
            </td>
            <td>
              {r.completed_task_count}/{r.task_count} ({r.completion}%)
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
