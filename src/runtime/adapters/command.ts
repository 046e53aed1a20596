// `command`: runs config.command (an argv list) with the task in its environment and as JSON on stdin.
// Each output line becomes a task log (stderr at level warn); exit 0 is success.
import { describeExit, runProcess } from "../process.js";
import type { Adapter, RunContext, RunOutcome } from "./types.js";

function stringArray(v: unknown): string[] | null {
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "string") ? (v as string[]) : null;
}

function stringRecord(v: unknown): Record<string, string> {
  if (!v || typeof v !== "object" || Array.isArray(v)) return {};
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) if (typeof x === "string" || typeof x === "number") out[k] = String(x);
  return out;
}

/** The environment every agent process gets: the server's PATH and locale, never its secrets. */
export function agentEnv(ctx: RunContext, extra: Record<string, string> = {}): Record<string, string> {
  const base: Record<string, string> = {};
  for (const k of ["PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ", "USER", "SHELL"]) {
    const v = process.env[k];
    if (v !== undefined) base[k] = v;
  }
  return {
    ...base,
    ...stringRecord(ctx.agent.config.env),
    ...extra,
    MC_TASK_ID: ctx.task.task_id,
    MC_TASK_OBJECTIVE: ctx.task.objective,
    MC_MISSION_ID: ctx.mission.mission_id,
    MC_AGENT_ID: ctx.agent.agent_id,
    MC_API_URL: ctx.apiUrl,
    MC_AGENT_TOKEN: ctx.agentToken,
    MC_DISPATCH_ID: String(ctx.dispatchId),
    MC_ATTEMPT: String(ctx.attempt),
  };
}

export function taskPayload(ctx: RunContext) {
  return {
    task: ctx.task,
    mission: ctx.mission,
    agent_id: ctx.agent.agent_id,
    dispatch_id: ctx.dispatchId,
    attempt: ctx.attempt,
  };
}

export function timeoutOf(config: Record<string, unknown>): number | undefined {
  const t = config.timeout_s;
  return typeof t === "number" && t > 0 ? t : undefined;
}

export const commandAdapter: Adapter = {
  kind: "process",
  start(ctx) {
    const argv = stringArray(ctx.agent.config.command);
    if (!argv) {
      const done = Promise.resolve<RunOutcome>({
        ok: false,
        reason: "agent config.command must be a non-empty list of strings",
      });
      return { done, stop: async () => {} };
    }
    const cwd = typeof ctx.agent.config.cwd === "string" ? ctx.agent.config.cwd : undefined;
    const proc = runProcess({
      argv,
      cwd,
      env: agentEnv(ctx),
      stdin: JSON.stringify(taskPayload(ctx)),
      timeoutS: timeoutOf(ctx.agent.config),
      onLine: (stream, line) => ctx.log(stream === "stderr" ? "warn" : "info", line),
    });
    const done = proc.done.then<RunOutcome>((r) =>
      r.kind === "exit" && r.code === 0 ? { ok: true } : { ok: false, reason: `agent process ${describeExit(r)}` },
    );
    return { pid: proc.pid, done, stop: async (g) => void (await proc.stop(g)) };
  },
};
