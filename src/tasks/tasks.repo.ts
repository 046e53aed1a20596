import { and, asc, desc, eq, gt, inArray, or, sql, type SQL, type SQLWrapper } from "drizzle-orm";
import type { Database, Executor } from "../db/client.js";
import { idOfKey, isoText, refersTo, refKind, refPlaceholderWhere, refWhere } from "../db/lookup.js";
import { compiledQuery, prepared, runQuery } from "../db/prepared.js";
import { agentKeysOf } from "../agents/agents.lookup.js";
import { missionKeysOf } from "../missions/missions.lookup.js";
import { sprintKeysOf } from "../sprints/sprints.lookup.js";
import {
  agents,
  missionAgents,
  missions,
  requirements,
  sprints,
  taskLogs,
  taskRequirements,
  tasks,
} from "../db/schema/index.js";
import type { Ref } from "../core/ids.js";
import { MAX_LIMIT, type Page } from "../core/pagination.js";
import {
  TRACE_RETURNING,
  traceAppendCtes,
  traceAppendValues,
  type AppendedRow,
  type AppendValues,
  type TraceInput,
  type TraceRow,
} from "../trace/trace.append.js";
import { liveLogChunks, notifyTaskLogsSql } from "./task-logs.live.js";
import type { TaskStatus } from "./tasks.state.js";

export type TaskRow = typeof tasks.$inferSelect;
export type TaskLogRow = typeof taskLogs.$inferSelect;

/** A task with the keys of the records it names: what a response and a trace entry need. */
export interface TaskView extends TaskRow {
  missionKey: string;
  agentKey: string | null;
  sprintKey: string | null;
  requirementKeys: string[];
}

const ph = (name: string) => sql.placeholder(name);

const requirementKeysSql = sql<string[]>`coalesce((
  select jsonb_agg(${requirements.requirementId} order by ${requirements.id})
  from ${taskRequirements} join ${requirements} on ${requirements.id} = ${taskRequirements.requirementId}
  where ${taskRequirements.taskId} = ${tasks.id}
), '[]'::jsonb)`;

// One statement per read, whatever the number of tasks: the keys come from joins and a correlated
// subquery rather than a lookup per task: this read serves transactions, where the id → key maps (which read
// through the pool) would not see the transaction's own records.
function selectViews(exec: Executor) {
  return exec
    .select({
      task: tasks,
      missionKey: missions.missionId,
      agentKey: agents.agentId,
      sprintKey: sprints.sprintId,
      requirementKeys: requirementKeysSql,
    })
    .from(tasks)
    .innerJoin(missions, eq(missions.id, tasks.missionId))
    .leftJoin(agents, eq(agents.id, tasks.agentId))
    .leftJoin(sprints, eq(sprints.id, tasks.sprintId));
}

type ViewResult = {
  task: TaskRow;
  missionKey: string;
  agentKey: string | null;
  sprintKey: string | null;
  requirementKeys: string[];
};

function toView(r: ViewResult): TaskView {
  return {
    ...r.task,
    missionKey: r.missionKey,
    agentKey: r.agentKey,
    sprintKey: r.sprintKey,
    requirementKeys: r.requirementKeys ?? [],
  };
}

/**
 * With `lock`, the task's row is locked FOR UPDATE first and the view read after, in a second statement: a
 * statement that waited for the lock still reads the other tables (the requirement links, the agent's key)
 * with the snapshot it started with, from before the lock holder committed, so one statement would pair the
 * new row with stale keys. The second statement's snapshot is taken after the lock is held.
 */
export async function findTaskView(exec: Executor, ref: Ref, opts: { lock?: boolean } = {}) {
  let where = refWhere(tasks.id, tasks.taskId, ref);
  if (opts.lock) {
    const locked = await exec.select({ id: tasks.id }).from(tasks).where(where).limit(1).for("update");
    if (!locked[0]) return undefined;
    where = eq(tasks.id, locked[0].id);
  }
  const rows = await selectViews(exec).where(where).limit(1);
  return rows[0] ? toView(rows[0]) : undefined;
}

/** A task's latest `n` log lines, newest first, as the subquery `x` the aggregates below read. */
const latestLogRows = (taskId: SQLWrapper | number, n: SQLWrapper | number) =>
  sql`(SELECT ${taskLogs.id}, ${taskLogs.message}, ${taskLogs.level}, ${taskLogs.timestamp} FROM ${taskLogs}
          WHERE ${taskLogs.taskId} = ${taskId} ORDER BY ${taskLogs.id} DESC LIMIT ${n}) x`;

/** The latest `n` log lines of a task as one JSON array, oldest first, timestamps as ISO text with milliseconds. */
const latestLogsJson = (taskId: SQLWrapper | number, n: SQLWrapper | number) => sql<LogJson[]>`(
  SELECT coalesce(jsonb_agg(jsonb_build_object('id', x.id, 'message', x.message, 'level', x.level,
            'at', ${isoText(sql`x.timestamp`)}) ORDER BY x.id), '[]'::jsonb)
    FROM ${latestLogRows(taskId, n)})`;

type LogJson = { id: number | string; message: string; level: string | null; at: string };

function logRowsOf(taskId: number, logs: LogJson[]): TaskLogRow[] {
  return logs.map((l) => ({ id: Number(l.id), taskId, message: l.message, level: l.level, timestamp: new Date(l.at) }));
}

/** A log line as the API gives it: `level` only when it has one. */
export interface TaskLogApi {
  message: string;
  timestamp: string;
  level?: string;
}

/**
 * The latest `n` log lines of a task as one JSON array in the API's shape, oldest first. `json`, not `jsonb`:
 * jsonb orders an object's keys by length, and a line goes out as built where no serializer restores the order
 * (an MCP tool's answer is the service's object, stringified).
 */
const latestLogsApi = (n: SQLWrapper) => sql<TaskLogApi[]>`(
  SELECT coalesce(json_agg(json_strip_nulls(json_build_object('message', x.message,
            'timestamp', ${isoText(sql`x.timestamp`)}, 'level', x.level)) ORDER BY x.id), '[]'::json)
    FROM ${latestLogRows(tasks.id, n)})`;

type TaskReadRow = TaskPageRow & { logs: TaskLogApi[] };

// A task read as a page is read (the list's statement, below): the row from `tasks` alone with its timestamps
// already ISO text, the requirement keys and the latest log lines in the API's shape, and the mission, agent
// and sprint keys mapped from their ids in the process. The driver's row goes to the response serializer with
// only the keys put in: no ORM mapping of each column, no text → Date → text, no view in between.
const taskReadStatement = (by: "key" | "id") =>
  compiledQuery<TaskReadRow, { ref: Ref; n: number }>(
    `task_read_by_${by}`,
    () => sql`SELECT ${tasks.id} AS id, ${tasks.taskId} AS task_id, ${tasks.missionId} AS mission_id,
      ${tasks.objective} AS objective, ${tasks.status} AS status, ${tasks.agentId} AS agent_id,
      ${tasks.sprintId} AS sprint_id, ${requirementKeysSql} AS requirement_ids,
      ${tasks.requiredCapabilities} AS required_capabilities, ${tasks.priority} AS priority,
      ${tasks.outputs} AS outputs, ${isoText(tasks.insertedAt)} AS inserted_at,
      ${isoText(tasks.updatedAt)} AS updated_at, ${latestLogsApi(ph("n"))} AS logs
    FROM ${tasks} WHERE ${refPlaceholderWhere(tasks.id, tasks.taskId, by)} LIMIT 1`,
  );
const taskReadStatements = { key: taskReadStatement("key"), id: taskReadStatement("id") };

/**
 * The task as a read answers it, with its latest `n` log lines (oldest first), in one statement; with the
 * mission and agent ids an access check needs.
 */
export async function readTaskForApi(database: Database, ref: Ref, n: number) {
  const row = (await taskReadStatements[refKind(ref)](database, { ref, n }))[0];
  if (!row) return undefined;
  const access = { missionId: Number(row.mission_id), agentId: row.agent_id === null ? null : Number(row.agent_id) };
  const [task] = await withKeys(database, [row]);
  return { task: task!, ...access };
}

/** `updated_at` to the microsecond, as text: the version a report's single statement is conditional on. */
const versionOfRow = sql`(extract(epoch from ${tasks.updatedAt}) * 1000000)::bigint`;
const versionSql = sql<string>`${versionOfRow}::text`;
/** The condition of a one-statement write: the task row is still at the version the caller read. */
const atVersion = sql`${versionOfRow} = ${ph("version")}::bigint`;

/**
 * The task and its version, one prepared statement from `tasks` alone (the mission, agent and sprint keys from
 * the process's id → key maps, as a page's): the read a progress report and a plain move start with. Outside
 * transactions only: a key map reads through the pool, which does not see a transaction's own records.
 */
export async function findTaskViewVersion(database: Database, ref: Ref) {
  const by = refKind(ref);
  const q = prepared(database.db, `task_row_version_by_${by}`, (e, name) =>
    e
      // Nested, so the subquery's columns keep their table names (a one-table select drops those at its top).
      .select({ task: tasks, requirementKeys: sql<string[]>`${requirementKeysSql}`, version: versionSql })
      .from(tasks)
      .where(refPlaceholderWhere(tasks.id, tasks.taskId, by))
      .limit(1)
      .prepare(name),
  );
  const r = (await q.execute({ ref }))[0];
  if (!r) return undefined;
  const t = r.task;
  const [m, a, s] = await keyMaps(database, [t.missionId], [t.agentId], [t.sprintId]);
  const view: TaskView = {
    ...t,
    missionKey: m.get(t.missionId)!,
    agentKey: t.agentId === null ? null : a.get(t.agentId)!,
    sprintKey: t.sprintId === null ? null : s.get(t.sprintId)!,
    requirementKeys: r.requirementKeys ?? [],
  };
  return { view, version: r.version };
}

export interface ReportWrite {
  id: number;
  /** From findTaskViewVersion: nothing is written if the task has changed since (any write moves it). */
  version: string;
  status: TaskStatus;
  outputs: Record<string, unknown>;
  logs: Array<{ message: string; level: string | null; at: Date }>;
  latest: number;
  trace: TraceInput;
}

type ReportRow = AppendedRow & {
  outputs: Record<string, unknown>;
  /** ISO text with milliseconds, as a Date of the stored value prints (a cast of epoch milliseconds rounds). */
  updated_at: string;
  logs: LogJson[];
};

type ReportValues = {
  id: number;
  status: TaskStatus;
  version: string;
  latest: number;
  outputs?: string;
  lines: string;
  chunks: string;
};
type MoveValues = { id: number; from: TaskStatus; to: TaskStatus; version: string; latest: number };
type CreateValues = {
  task_id: string;
  mission_id: number;
  objective: string;
  status: TaskStatus;
  agent_id: number | null;
  sprint_id: number | null;
  priority: number | null;
  outputs: string;
  required_capabilities: string;
};

/** A progress report's statement, with (`merging`) or without outputs to merge: compiled once each. */
const reportStatement = (merging: boolean) =>
  compiledQuery<ReportRow, AppendValues & ReportValues>(merging ? "task_report_merge" : "task_report", () => {
    const merge = merging ? sql`outputs = outputs || ${ph("outputs")}::jsonb,` : sql``;
    return sql`
    WITH upd AS (
      UPDATE tasks SET ${merge} updated_at = now()
      WHERE id = ${ph("id")} AND status = ${ph("status")}
        AND ${atVersion}
      RETURNING id, outputs, ${isoText(sql`updated_at`)} AS updated_at
    ), new_logs AS (
      INSERT INTO task_logs (task_id, message, level, timestamp)
      SELECT upd.id, l.message, l.level, l.at
        FROM upd, jsonb_to_recordset(${ph("lines")}::jsonb) AS l(message text, level text, at timestamptz)
      RETURNING id, message, level, timestamp
    ), ${traceAppendCtes("upd")}
    SELECT upd.outputs, upd.updated_at,
      (SELECT coalesce(jsonb_agg(jsonb_build_object('id', x.id, 'message', x.message, 'level', x.level,
                'at', ${isoText(sql`x.timestamp`)}) ORDER BY x.id), '[]'::jsonb)
         FROM (SELECT * FROM (SELECT id, message, level, timestamp FROM task_logs WHERE task_id = ${ph("id")}
                               ORDER BY id DESC LIMIT ${ph("latest")}) old
               UNION ALL SELECT id, message, level, timestamp FROM new_logs
               ORDER BY id DESC LIMIT ${ph("latest")}) x) AS logs,
      ${TRACE_RETURNING}, ${notifyTaskLogsSql(sql`upd.id`, ph("chunks"))} AS logs_notified
    FROM upd, trace_ins`;
  });
const reportKeeping = reportStatement(false);
const reportMerging = reportStatement(true);

/**
 * A progress report that keeps the status, as ONE statement (so one round trip and its own transaction):
 * the guarded touch of the task with its outputs merged, the log lines, the trace entry, and the latest
 * `latest` log lines for the answer. Everything is conditional on the task still being at `version`: when it
 * is not, nothing is written and the result is undefined (the caller then takes the transactional path).
 * The new lines are not visible to the statement's own read of task_logs, hence the union.
 */
export async function applyReport(database: Database, w: ReportWrite) {
  const { values, toRow } = traceAppendValues(w.trace);
  const merging = Object.keys(w.outputs).length > 0;
  const rows = await (merging ? reportMerging : reportKeeping)(database, {
    id: w.id,
    status: w.status,
    version: w.version,
    latest: w.latest,
    ...(merging ? { outputs: JSON.stringify(w.outputs) } : {}),
    lines: JSON.stringify(w.logs.map((l) => ({ message: l.message, level: l.level, at: l.at.toISOString() }))),
    chunks: liveLogChunks(w.logs.map((l) => ({ message: l.message, level: l.level, timestamp: l.at }))),
    ...values,
  });
  const row = rows[0];
  if (!row) return undefined;
  return {
    outputs: row.outputs,
    updatedAt: new Date(row.updated_at),
    logs: logRowsOf(w.id, row.logs),
    trace: toRow(row),
  };
}

export interface MoveWrite {
  id: number;
  /** From findTaskViewVersion: nothing is written if the task has changed since (any write moves it). */
  version: string;
  from: TaskStatus;
  to: TaskStatus;
  latest: number;
  trace: TraceInput;
}

type MoveRow = AppendedRow & { updated_at: string; logs: LogJson[] };

const moveStatement = compiledQuery<MoveRow, AppendValues & MoveValues>(
  "task_move",
  () => sql`
    WITH upd AS (
      UPDATE tasks SET status = ${ph("to")}, updated_at = now()
      WHERE id = ${ph("id")} AND status = ${ph("from")}
        AND ${atVersion}
      RETURNING id, ${isoText(sql`updated_at`)} AS updated_at
    ), ${traceAppendCtes("upd")}
    SELECT upd.updated_at, ${latestLogsJson(ph("id"), ph("latest"))} AS logs, ${TRACE_RETURNING}
    FROM upd, trace_ins`,
);

/**
 * A status change as ONE statement (one round trip, its own transaction): the task moved from `from` to `to`,
 * its trace entry, and its latest `latest` log lines for the answer. Conditional on the task still being at
 * `version` (so at `from`, with the fields the caller read): when it is not, nothing is written and the result
 * is undefined.
 */
export async function applyMove(database: Database, w: MoveWrite) {
  const { values, toRow } = traceAppendValues(w.trace);
  const rows = await moveStatement(database, {
    id: w.id,
    from: w.from,
    to: w.to,
    version: w.version,
    latest: w.latest,
    ...values,
  });
  const row = rows[0];
  if (!row) return undefined;
  return { updatedAt: new Date(row.updated_at), logs: logRowsOf(w.id, row.logs), trace: toRow(row) };
}

type CreatedRow = AppendedRow & {
  id: number;
  outputs: Record<string, unknown>;
  required_capabilities: string[];
  inserted_at: string;
  updated_at: string;
};

const createStatement = compiledQuery<CreatedRow, AppendValues & CreateValues>(
  "task_create",
  () => sql`
    WITH ins AS (
      INSERT INTO tasks (task_id, mission_id, objective, status, agent_id, sprint_id, priority, outputs,
                         required_capabilities)
      VALUES (${ph("task_id")}, ${ph("mission_id")}, ${ph("objective")}, ${ph("status")}, ${ph("agent_id")}::integer,
              ${ph("sprint_id")}::integer, ${ph("priority")}::integer, ${ph("outputs")}::jsonb,
              ${ph("required_capabilities")}::jsonb)
      RETURNING id, outputs, required_capabilities, inserted_at, updated_at
    ), ${traceAppendCtes("ins")}
    SELECT ins.id, ins.outputs, ins.required_capabilities, ${isoText(sql`ins.inserted_at`)} AS inserted_at, ${isoText(sql`ins.updated_at`)} AS updated_at,
      ${TRACE_RETURNING}
    FROM ins, trace_ins`,
);

/** A new task's columns (all given: the one statement has no defaults to fall back on). */
export type NewTaskRow = Pick<
  TaskRow,
  | "taskId"
  | "missionId"
  | "objective"
  | "status"
  | "agentId"
  | "sprintId"
  | "priority"
  | "outputs"
  | "requiredCapabilities"
>;

/**
 * A new task (no requirement links) and its `task.created` entry as ONE statement. Throws the unique violation
 * when `task_id` is taken; nothing is written then.
 */
export async function insertTaskTraced(
  database: Database,
  v: NewTaskRow,
  trace: TraceInput,
): Promise<{ row: TaskRow; trace: TraceRow }> {
  const { values, toRow } = traceAppendValues(trace);
  const rows = await createStatement(database, {
    task_id: v.taskId,
    mission_id: v.missionId,
    objective: v.objective,
    status: v.status,
    agent_id: v.agentId,
    sprint_id: v.sprintId,
    priority: v.priority,
    outputs: JSON.stringify(v.outputs),
    required_capabilities: JSON.stringify(v.requiredCapabilities),
    ...values,
  });
  const r = rows[0]!;
  const row: TaskRow = {
    ...v,
    id: Number(r.id),
    // As stored: jsonb orders an object's keys its own way, and a read returns them so.
    outputs: r.outputs,
    requiredCapabilities: r.required_capabilities,
    insertedAt: new Date(r.inserted_at),
    updatedAt: new Date(r.updated_at),
  };
  return { row, trace: toRow(r) };
}

export async function hasTaskInMission(exec: Executor, missionId: number, agentId: number) {
  const rows = await exec
    .select({ id: tasks.id })
    .from(tasks)
    .where(and(eq(tasks.missionId, missionId), eq(tasks.agentId, agentId)))
    .limit(1);
  return rows.length > 0;
}

export interface TaskFilter {
  /** The mission by id or key, resolved inside the list's own statement. */
  mission?: Ref;
  status?: TaskStatus;
  agent?: Ref;
  sprint?: Ref;
  /** For agent tokens: only tasks assigned to this agent or in a mission it is on. */
  visibleTo?: number;
}

export function visibleToAgent(exec: Executor, agentId: number): SQL {
  return or(
    eq(tasks.agentId, agentId),
    inArray(
      tasks.missionId,
      exec.select({ id: missionAgents.missionId }).from(missionAgents).where(eq(missionAgents.agentId, agentId)),
    ),
  )!;
}

/**
 * A task as lists show it, exactly as the response carries it: the fields under their API names and the
 * timestamps already ISO 8601 text (as `Date#toISOString` writes them). A page of these goes from the driver
 * to the response serializer with only the mission, agent and sprint keys put in; mapping each row into a
 * view, then into the API shape, and its timestamps text → Date → text, was about a quarter of a list
 * request's CPU and most of its garbage.
 */
export interface TaskSummaryRow {
  id: number;
  task_id: string;
  mission_id: string;
  objective: string;
  status: TaskStatus;
  agent_id: string | null;
  sprint_id: string | null;
  requirement_ids: string[];
  required_capabilities: string[];
  priority: number | null;
  outputs: Record<string, unknown>;
  inserted_at: string;
  updated_at: string;
}

// The page first, from the tasks alone; then the requirement keys of its tasks grouped once, not a subquery per
// row; the mission, agent and sprint keys are mapped from the ids afterwards (`withKeys`), not joined. With
// the small tables joined, or a subquery per row, every page row started scans of them on the plans they get
// once analyzed (empty or tiny: a sequential scan looks free): twice what PostgreSQL spent per page, and on
// PGlite each scan start costs a file-system call. The page comes back as ONE json array, not 51 rows of 13
// fields: PGlite's protocol parser copies each field out of its buffer into a new one (a quarter of its
// worker's time on a list). PostgreSQL pays for building the JSON instead: a list 40 % faster on PGlite and
// 9 % slower on PostgreSQL (bench/README.md, "one statement planned once, one scan, one field"; rows on
// PostgreSQL alone measured again later: 3 % more pages, not worth a second form of every page statement).
const summariesOfPage = (page: SQL) => sql`
  SELECT coalesce(json_agg("r" ORDER BY "r"."id"), '[]'::json) AS rows FROM (
    WITH "page" AS (${page}),
    "links" AS (
      SELECT ${taskRequirements.taskId} AS task_id,
        jsonb_agg(${requirements.requirementId} ORDER BY ${requirements.id}) AS keys
      FROM ${taskRequirements} JOIN ${requirements} ON ${requirements.id} = ${taskRequirements.requirementId}
      WHERE ${taskRequirements.taskId} IN (SELECT "page"."id" FROM "page")
      GROUP BY ${taskRequirements.taskId})
    SELECT "page"."id" AS id, "page"."task_id" AS task_id, "page"."mission_id" AS mission_id,
      "page"."objective" AS objective, "page"."status" AS status, "page"."agent_id" AS agent_id,
      "page"."sprint_id" AS sprint_id, coalesce("links"."keys", '[]'::jsonb) AS requirement_ids,
      "page"."required_capabilities" AS required_capabilities, "page"."priority" AS priority,
      "page"."outputs" AS outputs, ${isoText(sql`"page"."inserted_at"`)} AS inserted_at,
      ${isoText(sql`"page"."updated_at"`)} AS updated_at
    FROM "page" LEFT JOIN "links" ON "links"."task_id" = "page"."id"
  ) "r"`;
const pageOfTasks = (where: SQL, orderBy: SQL, limit: SQL) =>
  sql`SELECT ${tasks.id} AS id, ${tasks.taskId} AS task_id, ${tasks.missionId} AS mission_id, ${tasks.objective} AS objective,
    ${tasks.status} AS status, ${tasks.agentId} AS agent_id, ${tasks.sprintId} AS sprint_id,
    ${tasks.requiredCapabilities} AS required_capabilities, ${tasks.priority} AS priority, ${tasks.outputs} AS outputs,
    ${tasks.insertedAt} AS inserted_at, ${tasks.updatedAt} AS updated_at
  FROM ${tasks} WHERE ${where} ORDER BY ${orderBy} LIMIT ${limit}`;

/** A page's row as the statement gives it: the mission, agent and sprint by id, before `withKeys`. */
type TaskPageRow = Omit<TaskSummaryRow, "mission_id" | "agent_id" | "sprint_id"> & {
  mission_id: number | string;
  agent_id: number | string | null;
  sprint_id: number | string | null;
};

/** The mission, agent and sprint keys of these ids (db/keys.ts: read once per process, through the pool). */
function keyMaps(
  database: Database,
  missionIds: number[],
  agentIds: Array<number | null>,
  sprintIds: Array<number | null>,
) {
  return Promise.all([
    missionKeysOf(database, missionIds),
    agentKeysOf(database, agentIds),
    sprintKeysOf(database, sprintIds),
  ]);
}

type KeyFields = "mission_id" | "agent_id" | "sprint_id";
/** A row with the mission, agent and sprint keys in place of their ids. */
type Keyed<R extends TaskPageRow> = Omit<R, KeyFields> & Pick<TaskSummaryRow, KeyFields>;

/** The rows with their mission, agent and sprint keys in place of the ids (in place: the rows are new). */
async function withKeys<R extends TaskPageRow>(database: Database, rows: R[]): Promise<Array<Keyed<R>>> {
  if (rows.length === 0) return [];
  const [m, a, s] = await keyMaps(
    database,
    rows.map((r) => r.mission_id as number),
    rows.map((r) => r.agent_id as number | null),
    rows.map((r) => r.sprint_id as number | null),
  );
  for (const r of rows) {
    r.mission_id = m.get(r.mission_id as number)!;
    if (r.agent_id !== null) r.agent_id = a.get(r.agent_id as number)!;
    if (r.sprint_id !== null) r.sprint_id = s.get(r.sprint_id as number)!;
  }
  return rows as unknown as Array<Keyed<R>>;
}

const missionByKey = (key: string | ReturnType<typeof sql.placeholder>) =>
  idOfKey(missions, missions.id, missions.missionId, key);

// The page as a range of the (mission_id, id) index, written as a row comparison: with `mission_id = $1 AND
// id > $2` the plan PostgreSQL caches for the statement (not knowing the mission) may walk the primary key in
// id order and filter on the mission instead, reading every later task of every other mission; measured with
// 40,000 tasks of another mission after the listed ones: the last page 18.9 ms that way, 0.17 ms on the index.
const missionPage = (mission: SQL, rows: number) =>
  summariesOfPage(
    pageOfTasks(
      sql`(${tasks.missionId}, ${tasks.id}) > (${mission}, ${ph("after")}) AND ${tasks.missionId} = ${mission}`,
      sql`${tasks.missionId}, ${tasks.id}`,
      sql.raw(String(rows)),
    ),
  );

// The page's size is in the statement's text, not a parameter: with `LIMIT $n` PostgreSQL cannot cost a plan
// made once for every execution (it must assume a tenth of the mission's tasks), so it planned the page anew
// on every execution, forever (12 plans in 12 runs; planning cost as much as running it). One statement per
// size in PAGE_ROWS, the smallest that holds `limit + 1` rows (exactly that for the usual limits); the rows
// past `limit + 1` are dropped.
const PAGE_ROWS = [11, 21, 51, 101, 201, MAX_LIMIT + 1] as const;
type MissionPageValues = { mission: Ref; after: number };
const missionPageStatement = (by: "key" | "id", rows: number) =>
  compiledQuery<{ rows: TaskPageRow[] }, MissionPageValues>(`task_page_of_mission_by_${by}_${rows}`, () =>
    missionPage(by === "key" ? missionByKey(ph("mission")) : sql`${ph("mission")}`, rows),
  );
/** A mission's page statements, by how the mission is named and by page size (for a look at their plans too). */
export const missionPageStatements = {
  key: new Map(PAGE_ROWS.map((n) => [n, missionPageStatement("key", n)])),
  id: new Map(PAGE_ROWS.map((n) => [n, missionPageStatement("id", n)])),
};

/**
 * A page of tasks (`limit + 1` rows, ids ascending after the cursor). The most common list, a mission's tasks
 * with no other filter, is one prepared statement per page size (`PAGE_ROWS`); the mission by key is a scalar
 * subquery, so the (mission_id, id) index gives the page in order either way. Other filters make the text
 * vary: an ordinary parameterized statement.
 */
export async function listTaskSummaries(database: Database, f: TaskFilter, page: Page): Promise<TaskSummaryRow[]> {
  const onlyMission =
    f.mission !== undefined &&
    f.status === undefined &&
    f.agent === undefined &&
    f.sprint === undefined &&
    f.visibleTo === undefined;
  const after = page.after ?? 0; // ids start at 1, so "after 0" is the first page
  const size = PAGE_ROWS.find((n) => n > page.limit);
  if (onlyMission && f.mission !== undefined && size !== undefined) {
    const statement = missionPageStatements[refKind(f.mission)].get(size)!;
    const found = (await statement(database, { mission: f.mission, after }))[0]!.rows;
    if (found.length > page.limit + 1) found.length = page.limit + 1;
    return withKeys(database, found);
  }
  const where = and(
    f.mission === undefined
      ? undefined
      : refersTo(tasks.missionId, missions, missions.id, missions.missionId, f.mission),
    f.status === undefined ? undefined : eq(tasks.status, f.status),
    f.agent === undefined ? undefined : refersTo(tasks.agentId, agents, agents.id, agents.agentId, f.agent),
    f.sprint === undefined ? undefined : refersTo(tasks.sprintId, sprints, sprints.id, sprints.sprintId, f.sprint),
    f.visibleTo === undefined ? undefined : visibleToAgent(database.db, f.visibleTo),
    gt(tasks.id, after),
  )!;
  const [{ rows } = { rows: [] }] = await runQuery<{ rows: TaskPageRow[] }>(
    database,
    summariesOfPage(pageOfTasks(where, sql`${tasks.id}`, sql`${page.limit + 1}`)),
  );
  return withKeys(database, rows);
}

export async function insertTask(exec: Executor, values: typeof tasks.$inferInsert) {
  const rows = await exec.insert(tasks).values(values).returning();
  return rows[0]!;
}

export async function updateTask(exec: Executor, id: number, set: Partial<typeof tasks.$inferInsert>) {
  const rows = await exec
    .update(tasks)
    .set({ ...set, updatedAt: sql`now()` })
    .where(eq(tasks.id, id))
    .returning();
  return rows[0]!;
}

/**
 * Conditional on the status the caller read: of two racing moves, exactly one finds its row. `outputs`
 * is shallow-merged into the stored outputs in the same statement (a report that moves and adds outputs).
 * `from === to` makes it a guarded touch: it still fails when someone else moved the task meanwhile.
 */
export async function moveTaskStatus(
  exec: Executor,
  id: number,
  from: TaskStatus,
  to: TaskStatus,
  outputs?: Record<string, unknown>,
) {
  const rows = await exec
    .update(tasks)
    .set({
      status: to,
      updatedAt: sql`now()`,
      ...(outputs && Object.keys(outputs).length > 0
        ? { outputs: sql`${tasks.outputs} || ${JSON.stringify(outputs)}::jsonb` }
        : {}),
    })
    .where(and(eq(tasks.id, id), eq(tasks.status, from)))
    .returning();
  return rows[0];
}

export async function setTaskRequirements(exec: Executor, taskId: number, requirementIds: number[]) {
  await exec.delete(taskRequirements).where(eq(taskRequirements.taskId, taskId));
  await addTaskRequirements(exec, taskId, requirementIds);
}

/** Links a task that has no links yet (a new one): no statement at all when there are none to add. */
export async function addTaskRequirements(exec: Executor, taskId: number, requirementIds: number[]) {
  if (requirementIds.length === 0) return;
  await exec.insert(taskRequirements).values(requirementIds.map((requirementId) => ({ taskId, requirementId })));
}

/** Appends log lines; they reach the live stream as `task.log` when the transaction commits (task-logs.live.ts). */
export async function insertLogs(exec: Executor, rows: Array<typeof taskLogs.$inferInsert>) {
  if (rows.length === 0) return;
  await exec.insert(taskLogs).values(rows);
  const byTask = new Map<number, typeof rows>();
  for (const r of rows) byTask.set(r.taskId, [...(byTask.get(r.taskId) ?? []), r]);
  for (const [taskId, lines] of byTask) {
    const chunks = liveLogChunks(
      lines.map((l) => ({ message: l.message, level: l.level, timestamp: l.timestamp ?? new Date() })),
    );
    await exec.execute(sql`SELECT ${notifyTaskLogsSql(taskId, chunks)} AS notified`);
  }
}

/** The latest `n` log lines, oldest first. */
export async function latestLogs(exec: Executor, taskId: number, n: number) {
  const rows = await exec
    .select()
    .from(taskLogs)
    .where(eq(taskLogs.taskId, taskId))
    .orderBy(desc(taskLogs.id))
    .limit(n);
  return rows.reverse();
}

export async function listLogs(exec: Executor, taskId: number, page: Page) {
  return exec
    .select()
    .from(taskLogs)
    .where(and(eq(taskLogs.taskId, taskId), page.after === null ? undefined : gt(taskLogs.id, page.after)))
    .orderBy(asc(taskLogs.id))
    .limit(page.limit + 1);
}

/** Resolves references (ids or keys) of one kind: id and key of each record found, in one statement. */
async function resolve(
  exec: Executor,
  table: typeof agents | typeof sprints | typeof requirements,
  keyCol: typeof agents.agentId | typeof sprints.sprintId | typeof requirements.requirementId,
  refs: Ref[],
): Promise<Array<{ id: number; key: string }>> {
  const ids = refs.filter((r): r is number => typeof r === "number");
  const keys = refs.filter((r): r is string => typeof r === "string");
  if (refs.length === 0) return [];
  return exec
    .select({ id: table.id, key: keyCol })
    .from(table)
    .where(
      or(ids.length > 0 ? inArray(table.id, ids) : undefined, keys.length > 0 ? inArray(keyCol, keys) : undefined),
    );
}

export const resolveAgents = (exec: Executor, refs: Ref[]) => resolve(exec, agents, agents.agentId, refs);
export const resolveSprints = (exec: Executor, refs: Ref[]) => resolve(exec, sprints, sprints.sprintId, refs);
export const resolveRequirements = (exec: Executor, refs: Ref[]) =>
  resolve(exec, requirements, requirements.requirementId, refs);
