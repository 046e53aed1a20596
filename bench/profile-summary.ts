// Summarizes V8 CPU profiles (`node --cpu-prof`, e.g. BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=…"):
// self time by function and by where the code comes from (a package under node_modules, src/, node's own
// internals, the garbage collector), and total (inclusive) time of the functions named on the command line.
// Usage: tsx bench/profile-summary.ts <file.cpuprofile>… [--top N] [--inclusive name1,name2]
import fs from "node:fs";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
  hitCount?: number;
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function origin(url: string, fn: string): string {
  if (fn === "(garbage collector)") return "(gc)";
  if (fn === "(idle)" || fn === "(program)" || fn === "(root)") return fn;
  if (!url) return "(native/v8)";
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + "node_modules/".length).split("/");
    return rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith("node:")) return "node:internal";
  const src = url.search(/\/(dist|src)\//);
  if (src >= 0)
    return `mc:${url
      .slice(src + 1)
      .split("/")
      .slice(0, 2)
      .join("/")}`;
  return url;
}

const args = process.argv.slice(2);
const top = Number(args[args.indexOf("--top") + 1]) || 25;
const inclusiveNames = args.includes("--inclusive") ? args[args.indexOf("--inclusive") + 1]!.split(",") : [];
const files = args.filter((a, i) => a.endsWith(".cpuprofile") && args[i - 1] !== "--top");

for (const file of files) {
  const p = JSON.parse(fs.readFileSync(file, "utf8")) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const totalUs = [...self.values()].reduce((a, b) => a + b, 0);
  const idle = [...self.entries()]
    .filter(([id]) => byId.get(id)!.callFrame.functionName === "(idle)")
    .reduce((a, [, v]) => a + v, 0);
  const busy = totalUs - idle;
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1)}%`;
  const ms = (us: number) => `${(us / 1000).toFixed(0)} ms`;

  const byFn = new Map<string, number>();
  const byOrigin = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const { functionName, url, lineNumber } = n.callFrame;
    if (functionName === "(idle)") continue;
    const key = `${functionName || "(anonymous)"} ${origin(url, functionName)}:${lineNumber + 1}`;
    byFn.set(key, (byFn.get(key) ?? 0) + us);
    const o = origin(url, functionName);
    byOrigin.set(o, (byOrigin.get(o) ?? 0) + us);
    // Inclusive time of the named functions: each sample counted once per name on its stack.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const name = byId.get(cur)!.callFrame.functionName;
      if (inclusiveNames.includes(name) && !seen.has(name)) {
        seen.add(name);
        inclusive.set(name, (inclusive.get(name) ?? 0) + us);
      }
    }
  }
  const sorted = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  console.log(`\n# ${file}\nbusy ${ms(busy)} of ${ms(totalUs)} sampled (${ms(idle)} idle)`);
  console.log("\n## self time by origin");
  for (const [k, v] of sorted(byOrigin).slice(0, top)) console.log(`${pct(v).padStart(6)}  ${ms(v).padStart(8)}  ${k}`);
  console.log("\n## self time by function");
  for (const [k, v] of sorted(byFn).slice(0, top)) console.log(`${pct(v).padStart(6)}  ${ms(v).padStart(8)}  ${k}`);
  if (inclusive.size) {
    console.log("\n## inclusive time");
    for (const [k, v] of sorted(inclusive)) console.log(`${pct(v).padStart(6)}  ${ms(v).padStart(8)}  ${k}`);
  }
}
