// Agents: status and the server's reason for it, last seen, current task, the live run, and Reset. Status is
// shown as the server states it; an event naming an agent re-reads it, a heartbeat moves its last-seen.
import { useEffect, useState } from "react";
import { api, ok, pages, type Agent } from "../api";
import { useBatch, useEvents, useResume } from "../live";
import { href } from "../router";
import { ActionButton, Age, ErrorText, Section, Status } from "../ui";

export function Agents() {
  const [agents, setAgents] = useState<Map<string, Agent>>(new Map());
  const [error, setError] = useState<string | null>(null);
  const upsert = (items: Agent[]) =>
    setAgents((m) => {
      const next = new Map(m);
      for (const a of items) next.set(a.agent_id, a);
      return next;
    });
  const loadAll = () => {
    let cancelled = false;
    pages(
      (cursor) => ok(api.GET("/api/agents", { params: { query: { limit: 500, cursor } } })),
      (items) => upsert(items as Agent[]),
      () => cancelled,
    ).catch((e: Error) => setError(e.message));
    return () => {
      cancelled = true;
    };
  };
  useEffect(loadAll, []);
  const refetch = useBatch((keys) => {
    for (const id of keys)
      ok(api.GET("/api/agents/{id}", { params: { path: { id } } })).then(
        (r) => upsert([r.data as Agent]),
        () => undefined,
      );
  });
  useEvents((e) => {
    if (!e.agent_id) return;
    if (e.event === "agent.heartbeat") {
      const at = e.at;
      if (typeof at === "string")
        setAgents((m) => {
          const a = m.get(e.agent_id!);
          return a ? new Map(m).set(a.agent_id, { ...a, last_seen_at: at }) : m;
        });
      return;
    }
    if (e.event.startsWith("agent.") || e.event.startsWith("task.") || e.event.startsWith("runtime."))
      refetch(e.agent_id);
  });
  // Heartbeats of the gap are not replayed: last-seen times are re-read.
  useResume(loadAll);

  const list = [...agents.values()].sort((a, b) => a.id - b.id);
  return (
    <>
      <h1>Agents</h1>
      <ErrorText error={error} />
      <NewAgent onCreated={(a) => upsert([a])} />
      <table className="list agents">
        <thead>
          <tr>
            <th>agent</th>
            <th>status</th>
            <th>why</th>
            <th>last seen</th>
            <th>current task</th>
            <th>run</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          {list.map((a) => (
            <tr key={a.agent_id} data-agent-id={a.agent_id}>
              <td>
                <strong>{a.name ?? a.agent_id}</strong>
                <div className="muted small">
                  {a.agent_id} · {a.adapter_module}
                  {a.capabilities.length ? ` · ${a.capabilities.join(", ")}` : ""}
                </div>
              </td>
              <td>
                <Status value={a.status} />
                {a.status_since ? (
                  <div className="muted small">
                    since <Age at={a.status_since} />
                  </div>
                ) : null}
              </td>
              <td className="reason">{a.status_reason ?? ""}</td>
              <td>
                <Age at={a.last_seen_at} />
              </td>
              <td>{a.current_task_id ? <a href={href.task(a.current_task_id)}>{a.current_task_id}</a> : "—"}</td>
              <td>
                {a.run ? (
                  <span>
                    pid {a.run.pid ?? "?"} · attempt {a.run.attempt} · last output <Age at={a.run.last_output_at} />
                  </span>
                ) : (
                  "—"
                )}
              </td>
              <td>
                <ActionButton
                  label="Reset"
                  run={() =>
                    ok(api.POST("/api/agents/{agent_id}/reset", { params: { path: { agent_id: a.agent_id } } }))
                  }
                  onDone={() => refetch(a.agent_id)}
                />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {list.length === 0 && !error ? (
        <p className="muted">No agents yet. Create one above, or agents appear when they first report activity.</p>
      ) : null}
    </>
  );
}

// The adapters the server knows; the server checks the settings against the chosen one and answers 422 with the
// reason, which is shown as it comes.
const ADAPTERS = ["command", "claude_code", "codex", "gemini_cli", "webhook", "manual"] as const;

function NewAgent({ onCreated }: { onCreated: (a: Agent) => void }) {
  const [key, setKey] = useState("");
  const [adapter, setAdapter] = useState<(typeof ADAPTERS)[number]>("command");
  const [config, setConfig] = useState("{}");
  const [error, setError] = useState<string | null>(null);
  return (
    <Section title="New agent">
      <form
        className="inline"
        onSubmit={(e) => {
          e.preventDefault();
          setError(null);
          let parsed: unknown;
          try {
            parsed = JSON.parse(config || "{}");
          } catch {
            setError("Settings must be a JSON object");
            return;
          }
          if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
            setError("Settings must be a JSON object");
            return;
          }
          ok(
            api.POST("/api/agents", {
              body: { agent_id: key.trim(), adapter_module: adapter, config: parsed as Record<string, unknown> },
            }),
          ).then(
            (r) => {
              setKey("");
              setConfig("{}");
              onCreated(r.data as Agent);
            },
            (err: Error) => setError(err.message),
          );
        }}
      >
        <label>
          Agent key <input value={key} onChange={(e) => setKey(e.target.value)} required />
        </label>
        <label>
          Adapter{" "}
          <select value={adapter} onChange={(e) => setAdapter(e.target.value as (typeof ADAPTERS)[number])}>
            {ADAPTERS.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </label>
        <label>
          Settings (JSON){" "}
          <textarea value={config} onChange={(e) => setConfig(e.target.value)} rows={2} cols={40} spellCheck={false} />
        </label>
        <button type="submit">Create agent</button>
        <ErrorText error={error} />
      </form>
    </Section>
  );
}
