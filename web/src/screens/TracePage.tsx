// The trace: filtered entries (paged; new matching entries arrive live), the chain's verify result, and a
// mission's replay from its trace alone.
import { useEffect, useState } from "react";
import { api, ok, type TraceEntry } from "../api";
import { useConnected, useEvents } from "../live";
import { ActionButton, ErrorText, JsonText, Section } from "../ui";
import { TraceTable } from "./TaskPage";
import { TRACE_EVENT_NAMES } from "../../../src/trace/trace.events.js";

type Filters = { mission_id: string; task_id: string; agent_id: string; event: string; since: string; until: string };
const EMPTY: Filters = { mission_id: "", task_id: "", agent_id: "", event: "", since: "", until: "" };

function query(f: Filters) {
  const q: Record<string, string> = {};
  for (const [k, v] of Object.entries(f))
    if (v.trim()) q[k] = k === "since" || k === "until" ? new Date(v).toISOString() : v.trim();
  return q;
}

export function TracePage() {
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [entries, setEntries] = useState<TraceEntry[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [atEnd, setAtEnd] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [verify, setVerify] = useState<unknown>(null);
  const [replay, setReplay] = useState<unknown>(null);

  const fetchPage = (f: Filters, c: string | null, append: boolean) => {
    let q: Record<string, string>;
    try {
      q = query(f);
    } catch {
      setError("since/until must be dates");
      return;
    }
    ok(api.GET("/api/trace", { params: { query: { ...q, limit: 200, ...(c ? { cursor: c } : {}) } } })).then(
      (r) => {
        setError(null);
        setEntries((old) => (append ? old.concat(r.data) : r.data));
        setCursor(r.meta.next_cursor);
        setAtEnd(r.meta.next_cursor === null);
      },
      (e: Error) => setError(e.message),
    );
  };
  useEffect(() => fetchPage(filters, null, false), [filters]);
  // Read before the stream was open: read again once it is (an entry in between is in neither).
  useConnected(() => fetchPage(filters, null, false), { reconnects: false });

  useEvents((e) => {
    if (e.id === null || !atEnd) return;
    const f = filters;
    if (f.mission_id && e.mission_id !== f.mission_id) return;
    if (f.task_id && e.task_id !== f.task_id) return;
    if (f.agent_id && e.agent_id !== f.agent_id) return;
    if (f.event && e.event !== f.event) return;
    if (f.until) return;
    setEntries((old) => (old.some((x) => x.id === e.id) ? old : old.concat(e as unknown as TraceEntry)));
  });

  const field = (k: keyof Filters, label: string, type = "text") => (
    <label>
      {label} <input type={type} value={draft[k]} onChange={(e) => setDraft({ ...draft, [k]: e.target.value })} />
    </label>
  );
  return (
    <>
      <h1>Trace</h1>
      <form
        className="inline filters"
        onSubmit={(e) => {
          e.preventDefault();
          setFilters({ ...draft });
        }}
      >
        {field("mission_id", "Mission")}
        {field("task_id", "Task")}
        {field("agent_id", "Agent")}
        <label>
          Event{" "}
          <select
            aria-label="Event"
            value={draft.event}
            onChange={(e) => setDraft({ ...draft, event: e.target.value })}
          >
            <option value="">any</option>
            {TRACE_EVENT_NAMES.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        {field("since", "Since", "datetime-local")}
        {field("until", "Until", "datetime-local")}
        <button type="submit">Filter</button>
      </form>
      <div className="actions">
        <ActionButton
          label="Verify chain"
          run={async () =>
            setVerify(
              (
                await ok(
                  api.GET("/api/trace/verify", {
                    params: { query: filters.mission_id ? { mission_id: filters.mission_id } : {} },
                  }),
                )
              ).data,
            )
          }
        />
        <ActionButton
          label="Replay mission"
          disabled={!filters.mission_id}
          run={async () =>
            setReplay(
              (
                await ok(
                  api.POST("/api/missions/{mission_id}/replay", {
                    params: { path: { mission_id: filters.mission_id } },
                    body: {},
                  }),
                )
              ).data,
            )
          }
        />
      </div>
      {verify ? <VerifyResult value={verify as VerifyData} /> : null}
      {replay ? (
        <Section title="Replay">
          <JsonText value={replay} />
        </Section>
      ) : null}
      <ErrorText error={error} />
      <TraceTable entries={entries} />
      {cursor ? (
        <button type="button" onClick={() => fetchPage(filters, cursor, true)}>
          Load more
        </button>
      ) : null}
    </>
  );
}

type VerifyData = { valid: boolean; entries: number; first_bad_id: number | null; reason: string | null };
function VerifyResult({ value }: { value: VerifyData }) {
  return (
    <p className={value.valid ? "ok" : "error"} role="status">
      {value.valid
        ? `Chain intact: ${value.entries} entries verified.`
        : `Chain broken at entry ${value.first_bad_id ?? "?"} (${value.reason ?? "unknown"}), ${value.entries} entries checked.`}
    </p>
  );
}
