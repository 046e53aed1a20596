// Policies, and the most recent decisions they made (policy.evaluated entries of the last day).
import { api, ok, pages, type Policy, type TraceEntry } from "../api";
import { useAsync, useBatch, useConnected, useEvents } from "../live";
import { Age, ErrorText, JsonText, Section } from "../ui";

const RECENT = 50;

async function load() {
  const policies: Policy[] = [];
  let decisions: TraceEntry[] = [];
  const since = new Date(Date.now() - 86400_000).toISOString();
  await Promise.all([
    pages(
      (cursor) => ok(api.GET("/api/policies", { params: { query: { limit: 500, cursor } } })),
      (items) => policies.push(...items),
    ),
    pages(
      (cursor) =>
        ok(api.GET("/api/trace", { params: { query: { event: "policy.evaluated", since, limit: 500, cursor } } })),
      (items) => {
        decisions = decisions.concat(items).slice(-RECENT);
      },
      undefined,
      20,
    ),
  ]);
  return { policies, decisions: decisions.reverse() };
}

export function Policies() {
  const { data, error, reload } = useAsync(load, []);
  const later = useBatch(() => reload(), 1000);
  // Read before the stream was open: read again once it is (a change in between is in neither).
  useConnected(reload, { reconnects: false });
  useEvents((e) => {
    if (e.event.startsWith("policy.")) later("x");
  });
  if (!data) return error ? <ErrorText error={error} /> : <p className="muted">Loading…</p>;
  return (
    <>
      <h1>Policies</h1>
      <ErrorText error={error} />
      {data.policies.length === 0 ? <p className="muted">No policies.</p> : null}
      <table className="list">
        <thead>
          <tr>
            <th>policy</th>
            <th>scope</th>
            <th>conditions</th>
            <th>actions</th>
            <th>enabled</th>
          </tr>
        </thead>
        <tbody>
          {data.policies.map((p) => (
            <tr key={p.policy_id}>
              <td>
                <strong>{p.policy_id}</strong>
                <div className="muted small">{p.description}</div>
              </td>
              <td>{p.scope}</td>
              <td>
                <JsonText value={p.conditions} />
              </td>
              <td>
                <JsonText value={p.actions} />
              </td>
              <td>{p.enabled ? "yes" : "no"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <Section title="Recent decisions">
        {data.decisions.length === 0 ? <p className="muted">No decisions in the last day.</p> : null}
        <table className="list">
          <tbody>
            {data.decisions.map((d) => {
              const x = d.data as { decision?: unknown; action?: unknown; messages?: unknown };
              return (
                <tr key={d.id}>
                  <td>
                    <Age at={d.at} />
                  </td>
                  <td>
                    <strong>{String(x.decision ?? "?")}</strong>
                  </td>
                  <td>{d.actor}</td>
                  <td className="data">{JSON.stringify(x.action ?? d.data)}</td>
                  <td>{d.task_id ?? d.agent_id ?? d.mission_id ?? ""}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </Section>
    </>
  );
}
