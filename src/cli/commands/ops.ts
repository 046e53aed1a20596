// mc status · events · trace verify|export|replay · kb search · policy eval · tokens create|list|revoke
import type { Command } from "commander";
import {
  action,
  api,
  CliError,
  EXIT,
  parseJsonObject,
  parseLimit,
  printPage,
  unreachable,
  UsageError,
} from "../context.js";
import { snippetText } from "../../client/index.js";
import { liveEvents } from "../sse.js";
import { TOKEN_ROLES } from "../../tokens/tokens.state.js";

type Row = Record<string, unknown>;
type Page = { data: Row[]; meta: { next_cursor: string | null } };

export function statusCommand(program: Command) {
  program
    .command("status")
    .description("is the server up, is the token good, and what is going on")
    .addHelpText("after", "\nExample:\n  mc status\n  MC_URL=http://ci:4000 mc status --json")
    .action(
      action(async ({ conn, out }) => {
        const ready = await api<Row>(conn.client.GET("/readyz"), conn);
        const status: Row = { url: conn.url, server: ready.status ?? "ready" };
        if (conn.token === null)
          throw new CliError("no token: pass --token, set MC_TOKEN or run mc login", EXIT.refused);
        // Every role may list tasks (an agent sees its own): this is also the token check.
        const tasks = await api<Page>(conn.client.GET("/api/tasks", { params: { query: { limit: 500 } } }), conn);
        status.tasks = countBy(tasks.data, "status");
        // Counts are of the first page (500): more than that is said, not hidden.
        const truncated: string[] = tasks.meta.next_cursor ? ["tasks"] : [];
        const missions = await conn.client
          .GET("/api/missions", { params: { query: { limit: 500 } } })
          .catch((e: unknown) => {
            throw unreachable(conn, e);
          });
        // An agent token may not list missions or agents (403): then it simply sees less.
        if (missions.response.ok) {
          status.missions = countBy((missions.data as Page).data, "status");
          if ((missions.data as Page).meta.next_cursor) truncated.push("missions");
        }
        const agents = await conn.client
          .GET("/api/agents", { params: { query: { limit: 500 } } })
          .catch((e: unknown) => {
            throw unreachable(conn, e);
          });
        if (agents.response.ok) {
          status.agents = countBy((agents.data as Page).data, "status");
          if ((agents.data as Page).meta.next_cursor) truncated.push("agents");
        }
        if (truncated.length > 0) status.counted_first_500 = truncated;
        if (out.json) return out.data(status);
        out.text(`${out.paint("server", "bold")}    ${conn.url} ${out.paint(String(status.server), "green")}`);
        for (const k of ["missions", "tasks", "agents"] as const) {
          if (!status[k]) continue;
          const counts = Object.entries(status[k] as Record<string, number>).map(
            ([s, n]) => `${n} ${out.paint(s, "dim")}`,
          );
          const more = truncated.includes(k) ? out.paint(" (first 500)", "dim") : "";
          out.text(`${out.paint(k.padEnd(8), "bold")}  ${counts.length > 0 ? counts.join(", ") : "none"}${more}`);
        }
      }),
    );
}

function countBy(rows: Row[], key: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rows) out[String(r[key])] = (out[String(r[key])] ?? 0) + 1;
  return out;
}

export function eventsCommand(program: Command) {
  program
    .command("events")
    .description("tail the live event stream (resumes after a drop); --json prints one object per line")
    .option("--mission <mission>", "only this mission's events")
    .option("--task <task>", "only this task's events")
    .option("--agent <agent>", "only this agent's events")
    .option("--event <event>", "only this kind, e.g. task.status_changed")
    .addHelpText("after", "\nExample:\n  mc events --mission checkout\n  mc events --json | jq .event")
    .action(
      action(async ({ conn, out }, o: { mission?: string; task?: string; agent?: string; event?: string }) => {
        const ac = new AbortController();
        const stop = () => ac.abort();
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
        const query = { mission_id: o.mission, task_id: o.task, agent_id: o.agent, event: o.event };
        for await (const e of liveEvents(conn, {
          query,
          signal: ac.signal,
          onReconnect: (why) => out.note(`stream dropped (${why}); reconnecting`),
        })) {
          if (out.json) {
            out.line(e.data);
            continue;
          }
          const d = e.data;
          const at = typeof d.at === "string" ? d.at : new Date().toISOString();
          const who = [d.mission_id, d.task_id, d.agent_id].filter((x) => typeof x === "string").join(" ");
          const detail =
            d.event === "task.log"
              ? (d.lines as Array<{ message: string }>).map((l) => l.message).join(" | ")
              : d.data !== undefined
                ? JSON.stringify(d.data)
                : "";
          out.text(`${out.paint(at, "dim")} ${out.paint(String(d.event), "bold")} ${who} ${detail}`.trimEnd());
        }
      }),
    );
}

export function traceCommand(program: Command) {
  const trace = program.command("trace").description("the tamper-evident trace: verify, export, replay");
  trace.addHelpText("after", "\nExample:\n  mc trace verify --mission checkout\n  mc trace export > trace.jsonl");

  trace
    .command("verify")
    .description("recompute the hash chain (a mission's, or all of them); exit 1 when it is broken")
    .option("--mission <mission>", "only this mission's chain")
    .addHelpText("after", "\nExample:\n  mc trace verify --mission checkout")
    .action(
      action(async ({ conn, out }, o: { mission?: string }) => {
        const r = await api<{ data: Row }>(
          conn.client.GET("/api/trace/verify", { params: { query: { mission_id: o.mission } } }),
          conn,
        );
        if (out.json) out.data(r.data);
        else out.record(r.data);
        if (r.data.valid === false) process.exitCode = EXIT.refused;
      }),
    );

  trace
    .command("export")
    .description("write the trace as JSON Lines on stdout (re-verifiable offline)")
    .option("--mission <mission>", "only this mission's chain")
    .addHelpText("after", "\nExample:\n  mc trace export --mission checkout > checkout.jsonl")
    .action(
      action(async ({ conn }, o: { mission?: string }) => {
        const body = await api<ReadableStream<Uint8Array>>(
          conn.client.GET("/api/trace/export", { params: { query: { mission_id: o.mission } }, parseAs: "stream" }),
          conn,
        );
        try {
          for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
            if (!process.stdout.write(chunk)) await new Promise((r) => process.stdout.once("drain", r));
          }
        } catch (err) {
          throw unreachable(conn, err);
        }
      }),
    );

  trace
    .command("replay <mission>")
    .description("rebuild a mission's state from its trace and compare it with the stored state")
    .option("--until <timestamp>", "rebuild the state as it was at this moment")
    .addHelpText("after", "\nExample:\n  mc trace replay checkout")
    .action(
      action(async ({ conn, out }, mission: string, o: { until?: string }) => {
        const r = await api<{ data: Row }>(
          conn.client.POST("/api/missions/{mission_id}/replay", {
            params: { path: { mission_id: mission } },
            body: (o.until !== undefined ? { until: o.until } : {}) as never,
          }),
          conn,
        );
        if (out.json) return out.data(r.data);
        out.record(r.data, ["mission", "events_replayed", "chain_valid", "consistent"]);
        out.table((r.data.tasks as Row[]) ?? [], ["task_id", "status", "agent_id"]);
      }),
    );
}

export function kbCommand(program: Command) {
  const kb = program.command("kb").description("the knowledge base");
  kb.addHelpText("after", "\nExample:\n  mc kb search 'deploy runbook' --limit 3");
  kb.command("search <query>")
    .description("search documents, best first")
    .option("--limit <n>", "at most this many (1–50)", parseLimit)
    .addHelpText("after", "\nExample:\n  mc kb search 'deploy runbook' --limit 3")
    .action(
      action(async ({ conn, out }, query: string, o: { limit?: number }) => {
        const r = await api<{ data: Row[] }>(
          conn.client.POST("/api/knowledge/search", {
            body: { query, ...(o.limit !== undefined ? { limit: o.limit } : {}) } as never,
          }),
          conn,
        );
        if (out.json) return out.data(r.data);
        // The snippet is HTML (escaped text, matches in <mark>) for pages; a terminal gets the plain text.
        const rows = r.data.map((d) => ({
          ...d,
          score: Number(d.score).toFixed(3),
          snippet: snippetText(String(d.snippet)),
        }));
        out.table(rows, ["document_id", "score", "title", "snippet"]);
      }),
    );
}

export function policyCommand(program: Command) {
  const policy = program.command("policy").description("guardrail policies");
  policy.addHelpText(
    "after",
    `\nExample:\n  mc policy eval --action '{"action_type":"git_push","force":true,"branch":"main"}' --mission checkout`,
  );
  policy
    .command("eval")
    .description("ask the policies about an action; exit 1 when it is blocked")
    .requiredOption("--action <json>", "the action, as a JSON object")
    .option("--mission <mission>", "evaluate for this mission")
    .option("--agent <agent>", "evaluate for this agent")
    .option("--task <task>", "evaluate for this task")
    .addHelpText(
      "after",
      `\nExample:\n  mc policy eval --action '{"action_type":"git_push","force":true,"branch":"main"}'`,
    )
    .action(
      action(async ({ conn, out }, o: { action: string; mission?: string; agent?: string; task?: string }) => {
        const body = {
          action: parseJsonObject(o.action, "--action"),
          ...(o.mission !== undefined ? { mission_id: o.mission } : {}),
          ...(o.agent !== undefined ? { agent_id: o.agent } : {}),
          ...(o.task !== undefined ? { task_id: o.task } : {}),
        };
        const r = await api<{ data: Row }>(conn.client.POST("/api/policies/evaluate", { body: body as never }), conn);
        if (out.json) out.data(r.data);
        else
          out.record(
            r.data,
            ["decision", "messages", "matched", "decision_id"].filter((k) => k in r.data),
          );
        if (r.data.decision === "block") process.exitCode = EXIT.refused;
      }),
    );
}

export function tokensCommand(program: Command) {
  const tokens = program.command("tokens").description("API tokens (admin)");
  tokens.addHelpText("after", "\nExample:\n  mc tokens create --role agent --agent claude-1 --name laptop");

  tokens
    .command("create")
    .description("create a token; its secret is printed once")
    .requiredOption("--role <role>", "admin, member or agent")
    .option("--agent <agent>", "the agent an agent token acts for")
    .option("--name <name>", "a label")
    .addHelpText("after", "\nExample:\n  mc tokens create --role member --name ci")
    .action(
      action(async ({ conn, out }, o: { role: string; agent?: string; name?: string }) => {
        if (!(TOKEN_ROLES as readonly string[]).includes(o.role))
          throw new UsageError(`--role must be admin, member or agent, got "${o.role}"`);
        const body = {
          role: o.role,
          ...(o.agent !== undefined ? { agent_id: o.agent } : {}),
          ...(o.name !== undefined ? { name: o.name } : {}),
        };
        const r = await api<{ data: Row }>(conn.client.POST("/api/tokens", { body: body as never }), conn);
        if (out.json) return out.data(r.data);
        out.text(String(r.data.token));
        out.note(
          `token ${String(r.data.id)} (${String(r.data.role)}${r.data.agent_id ? `, agent ${String(r.data.agent_id)}` : ""}) created; the secret is shown only now`,
        );
      }),
    );

  tokens
    .command("list")
    .description("list tokens (never their secrets)")
    .option("--limit <n>", "page size", parseLimit)
    .option("--cursor <cursor>", "the next page")
    .addHelpText("after", "\nExample:\n  mc tokens list --limit 20\n  mc tokens list --json")
    .action(
      action(async ({ conn, out }, o: { limit?: number; cursor?: string }) => {
        const page = await api<Page>(
          conn.client.GET("/api/tokens", { params: { query: { limit: o.limit, cursor: o.cursor } } }),
          conn,
        );
        printPage(out, page, ["id", "role", "agent_id", "name", "last_used_at"]);
      }),
    );

  tokens
    .command("revoke <id>")
    .description("revoke a token (its id, from tokens list)")
    .addHelpText("after", "\nExample:\n  mc tokens revoke 7")
    .action(
      action(async ({ conn, out }, id: string) => {
        await api(conn.client.DELETE("/api/tokens/{id}", { params: { path: { id } } }), conn);
        if (out.json) out.data({ id: Number(id), revoked: true });
        else out.text(`revoked token ${id}`);
      }),
    );
}
