// The replay fold: a mission's state rebuilt from its trace entries alone, event by event. Pure and total:
// no I/O, no clock, the inputs are never modified, and no entry can make it throw. An entry it cannot apply
// (an event that is not part of the mission's state, or a known event with unusable data) is skipped and
// counted, never guessed at. Shared with nothing else on purpose: it must follow the trace's event shapes,
// not the services' code.
//
// Event shapes it applies (CONTRIBUTING.md, "Trace events"):
//   mission.created        {goal, status, description, metadata}
//   mission.updated        {changes: {field: value}}           (a `status` among the changes is applied)
//   mission.status_changed {from, to, via?}                     → a timeline line
//   task.created           {objective, status, agent_id (key | null), …}   (entry's task_id column)
//   task.updated           {changes: {field: value}}           (`agent_id` a key or null; `status` applied)
//   task.status_changed    {from, to, comment?, via}           → a timeline line
//   task.reported          {outputs, logs_added}               (no status change of its own)
// (declared in trace.events.ts, whose names the cases must be; the fold still checks every member, since
// it meets whatever the table holds)
import type { TraceEntry, TraceEventName } from "./trace.events.js";

/** What the fold reads of an entry. */
export type FoldEntry = Pick<TraceEntry, "id" | "at" | "event" | "actor" | "task_id" | "data">;

export interface ReplayTask {
  task_id: string;
  status: string;
  agent_id: string | null;
}

export interface TimelineLine {
  at: string;
  task_id: string | null;
  from: string | null;
  to: string;
  actor: string;
}

export interface ReplayState {
  mission: { mission_id: string; status: string | null };
  /** In order of creation. */
  tasks: ReadonlyMap<string, ReplayTask>;
  events_replayed: number;
  skipped: number;
  timeline: readonly TimelineLine[];
}

export function emptyReplay(missionKey: string): ReplayState {
  return {
    mission: { mission_id: missionKey, status: null },
    tasks: new Map(),
    events_replayed: 0,
    skipped: 0,
    timeline: [],
  };
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === "string";
const isKeyOrNull = (v: unknown): v is string | null => v === null || typeof v === "string";

/** Folds `entries` (in chain order) onto `state` and returns the new state; `state` itself is left as is. */
export function foldTrace(state: ReplayState, entries: Iterable<FoldEntry>): ReplayState {
  let missionStatus = state.mission.status;
  const tasks = new Map<string, ReplayTask>();
  for (const [k, t] of state.tasks) tasks.set(k, { ...t });
  const timeline = [...state.timeline];
  let replayed = state.events_replayed;
  let skipped = state.skipped;

  /** Applies one entry; false when it cannot be applied (the caller counts it as skipped). */
  const apply = (e: FoldEntry): boolean => {
    const d = e.data;
    if (!isObj(d)) return false;
    switch (e.event) {
      case "mission.created" satisfies TraceEventName: {
        if (missionStatus !== null || !isStr(d.status)) return false;
        missionStatus = d.status;
        return true;
      }
      case "mission.updated" satisfies TraceEventName: {
        if (missionStatus === null || !isObj(d.changes)) return false;
        const s = d.changes.status;
        if (s !== undefined) {
          if (!isStr(s)) return false;
          missionStatus = s;
        }
        return true;
      }
      case "mission.status_changed" satisfies TraceEventName: {
        if (missionStatus === null || !isStr(d.to)) return false;
        timeline.push({
          at: e.at,
          task_id: null,
          from: isStr(d.from) ? d.from : missionStatus,
          to: d.to,
          actor: e.actor,
        });
        missionStatus = d.to;
        return true;
      }
      case "task.created" satisfies TraceEventName: {
        if (e.task_id === null || tasks.has(e.task_id)) return false;
        const agent = d.agent_id === undefined ? null : d.agent_id;
        if (!isStr(d.status) || !isKeyOrNull(agent)) return false;
        tasks.set(e.task_id, { task_id: e.task_id, status: d.status, agent_id: agent });
        return true;
      }
      case "task.updated" satisfies TraceEventName: {
        const t = e.task_id === null ? undefined : tasks.get(e.task_id);
        if (!t || !isObj(d.changes)) return false;
        const { agent_id: agent, status } = d.changes;
        if ((agent !== undefined && !isKeyOrNull(agent)) || (status !== undefined && !isStr(status))) return false;
        if (agent !== undefined) t.agent_id = agent;
        if (status !== undefined) t.status = status;
        return true;
      }
      case "task.status_changed" satisfies TraceEventName: {
        const t = e.task_id === null ? undefined : tasks.get(e.task_id);
        if (!t || !isStr(d.to)) return false;
        timeline.push({
          at: e.at,
          task_id: t.task_id,
          from: isStr(d.from) ? d.from : t.status,
          to: d.to,
          actor: e.actor,
        });
        t.status = d.to;
        return true;
      }
      case "task.reported" satisfies TraceEventName:
        return e.task_id !== null && tasks.has(e.task_id);
      default:
        return false;
    }
  };

  for (const e of entries) {
    if (apply(e)) replayed++;
    else skipped++;
  }
  return {
    mission: { mission_id: state.mission.mission_id, status: missionStatus },
    tasks,
    events_replayed: replayed,
    skipped,
    timeline,
  };
}
