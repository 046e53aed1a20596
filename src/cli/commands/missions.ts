// mc missions list|get|create|start|pause
import type { Command } from "commander";
import { action, api, parseLimit, printPage } from "../context.js";

const COLUMNS = ["mission_id", "status", "goal", "updated_at"];
const FIELDS = ["mission_id", "status", "goal", "description", "metadata", "runtime", "inserted_at", "updated_at"];

type Row = Record<string, unknown>;

export function missionsCommand(program: Command) {
  const missions = program.command("missions").description("missions: list, read, create, start, pause");
  missions.addHelpText(
    "after",
    "\nExample:\n  mc missions create --id checkout --goal 'Ship the new checkout'\n  mc missions start checkout",
  );

  missions
    .command("list")
    .description("list missions, oldest first")
    .option(
      "--status <status>",
      "only missions in this status (planning, active, paused, completed, failed, cancelled)",
    )
    .option("--limit <n>", "page size", parseLimit)
    .option("--cursor <cursor>", "the next page (printed after a full page)")
    .addHelpText("after", "\nExample:\n  mc missions list --status active --json")
    .action(
      action(async ({ conn, out }, o: { status?: string; limit?: number; cursor?: string }) => {
        const page = await api<{ data: Row[]; meta: { next_cursor: string | null } }>(
          conn.client.GET("/api/missions", {
            params: { query: { status: o.status as never, limit: o.limit, cursor: o.cursor } },
          }),
          conn,
        );
        printPage(out, page, COLUMNS);
      }),
    );

  missions
    .command("get <mission>")
    .description("show a mission (id or key)")
    .addHelpText("after", "\nExample:\n  mc missions get checkout")
    .action(
      action(async ({ conn, out }, id: string) => {
        const r = await api<{ data: Row }>(conn.client.GET("/api/missions/{id}", { params: { path: { id } } }), conn);
        if (out.json) out.data(r.data);
        else out.record(r.data, FIELDS);
      }),
    );

  missions
    .command("create")
    .description("create a mission (status planning)")
    .option("--id <key>", "the mission's key; generated when omitted")
    .requiredOption("--goal <text>", "what the mission is for")
    .option("--description <text>", "longer description")
    .addHelpText("after", "\nExample:\n  mc missions create --id checkout --goal 'Ship the new checkout'")
    .action(
      action(async ({ conn, out }, o: { id?: string; goal: string; description?: string }) => {
        const body = {
          goal: o.goal,
          ...(o.id !== undefined ? { mission_id: o.id } : {}),
          ...(o.description !== undefined ? { description: o.description } : {}),
        };
        const r = await api<{ data: Row }>(conn.client.POST("/api/missions", { body: body as never }), conn);
        if (out.json) out.data(r.data);
        else out.text(`created mission ${String(r.data.mission_id)} (${String(r.data.status)})`);
      }),
    );

  for (const [verb, path, done] of [
    ["start", "/api/missions/{id}/start", "started"],
    ["pause", "/api/missions/{id}/pause", "paused"],
  ] as const) {
    missions
      .command(`${verb} <mission>`)
      .description(verb === "start" ? "start a mission (planning or paused → active)" : "pause an active mission")
      .addHelpText("after", `\nExample:\n  mc missions ${verb} checkout`)
      .action(
        action(async ({ conn, out }, id: string) => {
          const r = await api<{ data: Row }>(conn.client.POST(path, { params: { path: { id } } }), conn);
          if (out.json) out.data(r.data);
          else out.text(`${done} mission ${String(r.data.mission_id)} (${String(r.data.status)})`);
        }),
      );
  }
}
