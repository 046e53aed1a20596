// The matrix as CSV for a spreadsheet (RFC 4180: comma-separated, CRLF line ends, fields quoted when they
// hold a comma, quote or line break). One row per objective → requirement → task path; a level that has
// nothing below it still gets its row, with the lower columns empty, so orphans at every level show up.
import type { MatrixApi } from "./traceability.service.js";

export const CSV_COLUMNS = [
  "objective_id",
  "objective_title",
  "objective_progress",
  "objective_health",
  "requirement_id",
  "requirement_title",
  "requirement_priority",
  "requirement_horizon",
  "requirement_status",
  "kr_id",
  "task_id",
  "task_objective",
  "task_status",
  "mission_id",
  "sprint_id",
  "agent_id",
] as const;

type Cell = string | number | null;

/**
 * A text cell that a spreadsheet would read as a formula (=, +, -, @, or a leading tab/CR) is prefixed with
 * an apostrophe, so a title like `=HYPERLINK(...)` stays text when the file is opened.
 */
function cell(v: Cell): string {
  if (v === null) return "";
  if (typeof v === "number") return String(v);
  const s = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

type Obj = MatrixApi["objectives"][number];
type Req = MatrixApi["unlinked_requirements"][number];
type Task = MatrixApi["unlinked_tasks"][number];

function row(o: Obj | null, r: Req | null, t: Task | null): string {
  return [
    o?.objective_id ?? null,
    o?.title ?? null,
    o?.progress ?? null,
    o?.health ?? null,
    r?.requirement_id ?? null,
    r?.title ?? null,
    r?.priority ?? null,
    r?.horizon ?? null,
    r?.status ?? null,
    r?.kr_id ?? null,
    t?.task_id ?? null,
    t?.objective ?? null,
    t?.status ?? null,
    t?.mission_id ?? null,
    t?.sprint_id ?? null,
    t?.agent_id ?? null,
  ]
    .map(cell)
    .join(",");
}

export function matrixToCsv(m: MatrixApi): string {
  const lines: string[] = [CSV_COLUMNS.join(",")];
  const requirementRows = (o: Obj | null, r: Req) => {
    if (r.tasks.length === 0) lines.push(row(o, r, null));
    for (const t of r.tasks) lines.push(row(o, r, t));
  };
  for (const o of m.objectives) {
    if (o.requirements.length === 0) lines.push(row(o, null, null));
    for (const r of o.requirements) requirementRows(o, r);
  }
  for (const r of m.unlinked_requirements) requirementRows(null, r);
  for (const t of m.unlinked_tasks) lines.push(row(null, null, t));
  return lines.map((l) => `${l}\r\n`).join("");
}
