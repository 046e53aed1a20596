// mc tasks list|get|create|execute|approve|reject|logs [--follow]
import type { Command } from "commander";
import { action, api, parseJsonObject, parseLimit, printPage, type Connection, type Out } from "../context.js";
import { liveEvents } from "../sse.js";
import { TASK } from "../../tasks/tasks.state.js";

const COLUMNS = ["task_id", "mission_id", "status", "agent_id", "objective"];
const FIELDS = [
  "task_id",
  "mission_id",
  "status",
  "agent_id",
  "objective",
  "sprint_id",
  "requirement_ids",
  "priority",
  "outputs",
  "inserted_at",
  "updated_at",
];
/** `logs --follow` ends when the task reaches one of these: no agent works on it any more. */
const FOLLOW_ENDS = new Set<string>([TASK.completed, TASK.failed]);

type Row = Record<string, unknown>;
interface LogLine {
  message: string;
  timestamp: string;
  level?: string;
}

function printTask(out: Out, t: Row) {
  if (out.json) return out.data(t);
  out.record(t, FIELDS);
  const logs = (t.logs as LogLine[] | undefined) ?? [];
  if (logs.length > 0) {
    out.text("");
    for (const l of logs.slice(-10)) printLog(out, l);
  }
}

function printLog(out: Out, l: LogLine) {
  if (out.json) return out.line(l);
  const level = l.level ? ` ${l.level}` : "";
  out.text(
    `${out.paint(l.timestamp, "dim")}${level === "" ? "" : out.paint(level, l.level === "error" ? "red" : "dim")} ${l.message}`,
  );
}

async function allLogs(conn: Connection, id: string): Promise<LogLine[]> {
  const lines: LogLine[] = [];
  let cursor: string | undefined;
  do {
    const page = await api<{ data: LogLine[]; meta: { next_cursor: string | null } }>(
      conn.client.GET("/api/tasks/{id}/logs", { params: { path: { id }, query: { limit: 500, cursor } } }),
      conn,
    );
    lines.push(...page.data);
    cursor = page.meta.next_cursor ?? undefined;
  } while (cursor);
  return lines;
}

export function tasksCommand(program: Command) {
  const tasks = program.command("tasks").description("tasks: list, read, create, execute, review, logs");
  tasks.addHelpText(
    "after",
    "\nExample:\n  mc tasks create --mission checkout --objective 'Add the payment form' --agent claude-1\n  mc tasks logs task-12 --follow",
  );

  tasks
    .command("list")
    .description("list tasks, oldest first")
    .option("--mission <mission>", "only this mission's tasks")
    .option("--status <status>", "pending, in_progress, blocked, pending_review, rejected, completed, failed")
    .option("--agent <agent>", "only tasks assigned to this agent")
    .option("--limit <n>", "page size", parseLimit)
    .option("--cursor <cursor>", "the next page")
    .addHelpText("after", "\nExample:\n  mc tasks list --mission checkout --status pending_review")
    .action(
      action(
        async (
          { conn, out },
          o: { mission?: string; status?: string; agent?: string; limit?: number; cursor?: string },
        ) => {
          const query = { status: o.status as never, agent_id: o.agent, limit: o.limit, cursor: o.cursor };
          const page = await api<{ data: Row[]; meta: { next_cursor: string | null } }>(
            o.mission !== undefined
              ? conn.client.GET("/api/missions/{mission_id}/tasks", {
                  params: { path: { mission_id: o.mission }, query },
                })
              : conn.client.GET("/api/tasks", { params: { query } }),
            conn,
          );
          printPage(out, page, COLUMNS);
        },
      ),
    );

  tasks
    .command("get <task>")
    .description("show a task with its latest logs")
    .addHelpText("after", "\nExample:\n  mc tasks get task-12 --json")
    .action(
      action(async ({ conn, out }, id: string) => {
        const r = await api<{ data: Row }>(conn.client.GET("/api/tasks/{id}", { params: { path: { id } } }), conn);
        printTask(out, r.data);
      }),
    );

  tasks
    .command("create")
    .description("create a pending task in a mission")
    .requiredOption("--mission <mission>", "the mission (id or key)")
    .requiredOption("--objective <text>", "what to do")
    .option("--agent <agent>", "assign it to this agent (id or key)")
    .option("--id <key>", "the task's key; generated when omitted")
    .addHelpText(
      "after",
      "\nExample:\n  mc tasks create --mission checkout --objective 'Add the payment form' --agent claude-1",
    )
    .action(
      action(async ({ conn, out }, o: { mission: string; objective: string; agent?: string; id?: string }) => {
        const body = {
          objective: o.objective,
          ...(o.agent !== undefined ? { agent_id: o.agent } : {}),
          ...(o.id !== undefined ? { task_id: o.id } : {}),
        };
        const r = await api<{ data: Row }>(
          conn.client.POST("/api/missions/{mission_id}/tasks", {
            params: { path: { mission_id: o.mission } },
            body: body as never,
          }),
          conn,
        );
        if (out.json) out.data(r.data);
        else
          out.text(`created task ${String(r.data.task_id)} in ${String(r.data.mission_id)} (${String(r.data.status)})`);
      }),
    );

  tasks
    .command("execute <task>")
    .description("dispatch a task to its agent (the mission must be active)")
    .addHelpText("after", "\nExample:\n  mc tasks execute task-12 && mc tasks logs task-12 --follow")
    .action(
      action(async ({ conn, out }, id: string) => {
        const r = await api<{ data: Row }>(
          conn.client.POST("/api/tasks/{id}/execute", { params: { path: { id } }, body: {} }),
          conn,
        );
        if (out.json) out.data(r.data);
        else
          out.text(
            `dispatched ${String(r.data.task_id)} to ${String(r.data.agent_id)} (dispatch ${String(r.data.id)}, ${String(r.data.status)})`,
          );
      }),
    );

  for (const verb of ["approve", "reject"] as const) {
    const cmd = tasks
      .command(`${verb} <task>`)
      .description(
        verb === "approve"
          ? "approve a task in pending_review (completes it)"
          : "reject a task in pending_review, saying why",
      )
      .addHelpText(
        "after",
        `\nExample:\n  mc tasks ${verb} task-12 --comment '${verb === "approve" ? "Looks good" : "Needs tests"}'`,
      );
    if (verb === "approve") cmd.option("--comment <text>", "kept in the trace");
    else cmd.requiredOption("--comment <text>", "why (the agent reads it)");
    cmd.action(
      action(async ({ conn, out }, id: string, o: { comment?: string }) => {
        const body = o.comment !== undefined ? { comment: o.comment } : {};
        const path = verb === "approve" ? ("/api/tasks/{id}/approve" as const) : ("/api/tasks/{id}/reject" as const);
        // The API answers an approve once the task's pull request is merged (or GitHub said why not), which a
        // slow GitHub delays (the server bounds it); the answer is awaited, and a person told what it waits for.
        const slow =
          verb === "approve"
            ? setTimeout(
                () => out.note(`waiting for the server: approving ${id} merges its pull request first…`),
                3_000,
              )
            : undefined;
        const r = await api<{ data: Row }>(conn.client.POST(path, { params: { path: { id } }, body }), conn).finally(
          () => clearTimeout(slow),
        );
        if (out.json) out.data(r.data);
        else
          out.text(
            `${verb === "approve" ? "approved" : "rejected"} ${String(r.data.task_id)} (${String(r.data.status)})`,
          );
      }),
    );
  }

  // For agents (their run has MC_API_URL and MC_AGENT_TOKEN): the same reports as the MCP tools
  // report_progress and submit_for_review.
  tasks
    .command("report <task>")
    .description("report progress on a task: a log line, outputs (merged), optionally a new status")
    .option("--message <text>", "one log line")
    .option("--status <status>", "move the task (in_progress, blocked, pending_review, …)")
    .option("--outputs <json>", "a JSON object merged into the task's outputs")
    .addHelpText(
      "after",
      `\nExample:\n  mc tasks report "$MC_TASK_ID" --message 'tests pass' --outputs '{"files_changed":3}'`,
    )
    .action(
      action(async ({ conn, out }, id: string, o: { message?: string; status?: string; outputs?: string }) => {
        const body = {
          ...(o.status !== undefined ? { status: o.status } : {}),
          ...(o.outputs !== undefined ? { outputs: parseJsonObject(o.outputs, "--outputs") } : {}),
          ...(o.message !== undefined ? { logs: [{ message: o.message }] } : {}),
        };
        const r = await api<{ data: Row }>(
          conn.client.POST("/api/tasks/{id}/report", { params: { path: { id } }, body: body as never }),
          conn,
        );
        if (out.json) out.data(r.data);
        else out.text(`reported on ${String(r.data.task_id)} (${String(r.data.status)})`);
      }),
    );

  tasks
    .command("submit <task>")
    .description("submit a task for review (pending_review) with a summary, and a PR URL and evidence in its outputs")
    .requiredOption("--summary <text>", "what was done")
    .option("--pr-url <url>", "the pull request")
    .option("--evidence <json>", "a JSON object, e.g. test results")
    .addHelpText(
      "after",
      `\nExample:\n  mc tasks submit "$MC_TASK_ID" --summary 'Login endpoint with tests' --pr-url https://github.com/o/r/pull/7`,
    )
    .action(
      action(async ({ conn, out }, id: string, o: { summary: string; prUrl?: string; evidence?: string }) => {
        const outputs = {
          summary: o.summary,
          ...(o.prUrl !== undefined ? { pr_url: o.prUrl } : {}),
          ...(o.evidence !== undefined ? { evidence: parseJsonObject(o.evidence, "--evidence") } : {}),
        };
        const body = {
          status: TASK.pending_review,
          outputs,
          logs: [{ message: `Submitted for review: ${o.summary}` }],
        };
        const r = await api<{ data: Row }>(
          conn.client.POST("/api/tasks/{id}/report", { params: { path: { id } }, body: body as never }),
          conn,
        );
        if (out.json) out.data(r.data);
        else out.text(`submitted ${String(r.data.task_id)} for review (${String(r.data.status)})`);
      }),
    );

  tasks
    .command("logs <task>")
    .description("print a task's logs; --follow keeps printing new lines until the task completes or fails")
    .option("-f, --follow", "keep following (member or admin token: it reads the live event stream)")
    .addHelpText("after", "\nExample:\n  mc tasks logs task-12 --follow")
    .action(
      action(async ({ conn, out }, id: string, o: { follow?: boolean }) => {
        if (!o.follow) {
          const lines = await allLogs(conn, id);
          if (out.json) return out.data(lines);
          for (const l of lines) printLog(out, l);
          return;
        }
        await follow(conn, out, id);
      }),
    );
}

/**
 * Subscribes first and reads the stored lines second, so nothing written in between is lost; lines the
 * stream repeats from the stored ones are skipped (same timestamp and message).
 */
async function follow(conn: Connection, out: Out, id: string) {
  const task = await api<{ data: Row }>(conn.client.GET("/api/tasks/{id}", { params: { path: { id } } }), conn);
  const key = String(task.data.task_id);
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  const stream = liveEvents(conn, {
    query: { task_id: key },
    signal: ac.signal,
    onReconnect: (why) => out.note(`stream dropped (${why}); reconnecting`),
  });
  const first = stream.next();
  // A refusal of the stream (an agent's token may read the logs but not the stream) is reported when its turn
  // comes, after the stored lines: until then it must not count as an unhandled rejection.
  first.catch(() => undefined);
  try {
    const stored = await allLogs(conn, key);
    const seen = new Set(stored.map((l) => `${l.timestamp}\u0000${l.message}`));
    const last = stored.at(-1)?.timestamp ?? "";
    for (const l of stored) printLog(out, l);
    if (FOLLOW_ENDS.has(String(task.data.status))) return;
    let next = first;
    for (;;) {
      const r = await next;
      if (r.done) break;
      const e = r.value.data;
      if (e.event === "task.log" && Array.isArray(e.lines)) {
        for (const l of e.lines as LogLine[]) {
          if (l.timestamp < last || seen.has(`${l.timestamp}\u0000${l.message}`)) continue;
          printLog(out, l);
        }
      } else if (e.event === "task.status_changed") {
        const to = String((e.data as Row | undefined)?.to ?? "");
        if (!out.json) out.note(out.paint(`status → ${to}`, "dim"));
        if (FOLLOW_ENDS.has(to)) break;
      }
      next = stream.next();
    }
  } finally {
    ac.abort();
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}
