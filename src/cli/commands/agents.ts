// mc agents list|get|reset
import type { Command } from "commander";
import { action, api, parseLimit, printPage } from "../context.js";

const COLUMNS = ["agent_id", "status", "current_task_id", "adapter_module", "status_reason"];
const FIELDS = [
  "agent_id",
  "name",
  "status",
  "status_reason",
  "status_since",
  "current_task_id",
  "last_seen_at",
  "last_event",
  "run",
  "adapter_module",
  "capabilities",
  "config",
];

type Row = Record<string, unknown>;

export function agentsCommand(program: Command) {
  const agents = program.command("agents").description("agents: list, read, reset");
  agents.addHelpText("after", "\nExample:\n  mc agents list --status error\n  mc agents reset claude-1");

  agents
    .command("list")
    .description("list agents with their live status")
    .option("--status <status>", "only agents in this status")
    .option("--limit <n>", "page size", parseLimit)
    .option("--cursor <cursor>", "the next page")
    .addHelpText("after", "\nExample:\n  mc agents list --json")
    .action(
      action(async ({ conn, out }, o: { status?: string; limit?: number; cursor?: string }) => {
        const page = await api<{ data: Row[]; meta: { next_cursor: string | null } }>(
          conn.client.GET("/api/agents", {
            params: { query: { status: o.status as never, limit: o.limit, cursor: o.cursor } },
          }),
          conn,
        );
        printPage(out, page, COLUMNS);
      }),
    );

  agents
    .command("get <agent>")
    .description("show an agent and why it has its status")
    .addHelpText("after", "\nExample:\n  mc agents get claude-1")
    .action(
      action(async ({ conn, out }, id: string) => {
        const r = await api<{ data: Row }>(conn.client.GET("/api/agents/{id}", { params: { path: { id } } }), conn);
        if (out.json) out.data(r.data);
        else
          out.record(
            r.data,
            FIELDS.filter((f) => f in r.data),
          );
      }),
    );

  agents
    .command("reset <agent>")
    .description("clear an agent's error: it becomes idle (offline if never heard from) and takes work again")
    .addHelpText("after", "\nExample:\n  mc agents reset claude-1")
    .action(
      action(async ({ conn, out }, agentId: string) => {
        const r = await api<{ data: Row }>(
          conn.client.POST("/api/agents/{agent_id}/reset", { params: { path: { agent_id: agentId } } }),
          conn,
        );
        if (out.json) out.data(r.data);
        else out.text(`reset ${String(r.data.agent_id)} (${String(r.data.status)})`);
      }),
    );
}
