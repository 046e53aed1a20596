// Dispatch latency: from sending POST /api/tasks/:id/execute to the moment the command agent's process is
// running (it connects back to the benchmark), against the same command spawned directly by the benchmark
// (same spawn options as the runtime: its own process group, piped stdio). The command is a bash one-liner
// that writes $MC_TASK_ID to a TCP socket, so the timing includes nothing but starting a small process.
import { spawn } from "node:child_process";
import net from "node:net";
import { percentile } from "./load.js";

export interface DispatchResult {
  samples: number;
  bareP50: number;
  bareP99: number;
  dispatchP50: number;
  dispatchP99: number;
  /** Median of dispatch latency minus median of the bare spawn. */
  overheadP50: number;
  errors: number;
}

interface Api {
  (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
}

/** A TCP listener that resolves waiters by the id a process sends. */
async function listener() {
  const waiting = new Map<string, (at: number) => void>();
  const early = new Map<string, number>();
  const server = net.createServer((sock) => {
    let buf = "";
    sock.on("data", (d) => {
      const at = performance.now();
      buf += d.toString();
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      const id = buf.slice(0, nl).trim();
      buf = "";
      const w = waiting.get(id);
      if (w) {
        waiting.delete(id);
        w(at);
      } else early.set(id, at);
      sock.end();
    });
    sock.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    wait(id: string, timeoutMs = 30_000): Promise<number> {
      const e = early.get(id);
      if (e !== undefined) {
        early.delete(id);
        return Promise.resolve(e);
      }
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`no connection from ${id} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.set(id, (at) => {
          clearTimeout(t);
          resolve(at);
        });
      });
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export function agentCommand(port: number): string[] {
  return ["bash", "-c", `exec 3<>/dev/tcp/127.0.0.1/${port}; echo "$MC_TASK_ID" >&3`];
}

export async function measureDispatch(api: Api, samples: number, log: (m: string) => void): Promise<DispatchResult> {
  const l = await listener();
  const cmd = agentCommand(l.port);
  let errors = 0;
  try {
    // The bare spawn: as the runtime spawns (detached process group, stdin written, stdout/stderr read).
    const bare: number[] = [];
    for (let i = 0; i < samples + 3; i++) {
      const id = `bare-${i}`;
      const t0 = performance.now();
      const p = spawn(cmd[0]!, cmd.slice(1), {
        detached: true,
        stdio: ["pipe", "pipe", "pipe"],
        env: { PATH: process.env.PATH ?? "", MC_TASK_ID: id },
      });
      // Listened for from the start: the process may exit before its connection is seen.
      const exited = new Promise((r) => p.once("exit", r));
      p.stdin!.on("error", () => {}); // a process that exits before reading it: a broken pipe, not a failure
      p.stdin!.end("{}");
      p.stdout!.resume();
      p.stderr!.resume();
      const at = await l.wait(id);
      await exited;
      if (i >= 3) bare.push(at - t0);
    }

    // The same command as a `command` agent on an active mission.
    const agent = await api("POST", "/api/agents", {
      agent_id: "bench-cmd",
      adapter_module: "command",
      config: { command: cmd, max_concurrency: 1 },
    });
    if (agent.status !== 201)
      throw new Error(`creating the command agent: ${agent.status} ${JSON.stringify(agent.body)}`);
    const mission = await api("POST", "/api/missions", { mission_id: "bench-dispatch", goal: "Dispatch latency" });
    if (mission.status !== 201) throw new Error(`creating the dispatch mission: ${mission.status}`);
    await api("POST", "/api/missions/bench-dispatch/agents", { agent_id: "bench-cmd" });
    const started = await api("POST", "/api/missions/bench-dispatch/start");
    if (started.status !== 200)
      throw new Error(`starting the dispatch mission: ${started.status} ${JSON.stringify(started.body)}`);

    const dispatched: number[] = [];
    for (let i = 0; i < samples + 3; i++) {
      const key = `bench-dispatch-${i}`;
      const t = await api("POST", "/api/missions/bench-dispatch/tasks", {
        task_id: key,
        objective: "Start and exit",
        agent_id: "bench-cmd",
      });
      if (t.status !== 201) throw new Error(`creating a dispatch task: ${t.status} ${JSON.stringify(t.body)}`);
      const t0 = performance.now();
      const r = await api("POST", `/api/tasks/${key}/execute`);
      if (r.status !== 202) {
        errors++;
        log(`  dispatch: execute answered ${r.status} ${JSON.stringify(r.body)}`);
        continue;
      }
      let at: number;
      try {
        at = await l.wait(key);
      } catch (err) {
        errors++;
        log(`  dispatch: ${String(err)}`);
        continue;
      }
      if (i >= 3) dispatched.push(at - t0);
      // The agent runs one task at a time: wait for this run to be recorded before the next.
      const deadline = Date.now() + 30_000;
      for (;;) {
        const s = await api("GET", `/api/tasks/${key}`);
        if (s.body?.data?.status && s.body.data.status !== "in_progress" && s.body.data.status !== "pending") break;
        if (Date.now() > deadline) throw new Error(`task ${key} stuck in ${s.body?.data?.status}`);
        await new Promise((res) => setTimeout(res, 20));
      }
    }
    await api("POST", "/api/missions/bench-dispatch/pause");
    bare.sort((a, b) => a - b);
    dispatched.sort((a, b) => a - b);
    return {
      samples: dispatched.length,
      bareP50: percentile(bare, 50),
      bareP99: percentile(bare, 99),
      dispatchP50: percentile(dispatched, 50),
      dispatchP99: percentile(dispatched, 99),
      overheadP50: percentile(dispatched, 50) - percentile(bare, 50),
      errors,
    };
  } finally {
    await l.close();
  }
}
