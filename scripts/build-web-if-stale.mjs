#!/usr/bin/env node
/* global process, console */
// Builds the console (npm run build:web → web/dist) only when one of its inputs is newer than the last
// build, so `npm start` and the browser tests pay for a build only after a change. Inputs: web/ (but
// web/dist), the generated client it imports (src/client), the task state machine it shares
// (src/tasks/tasks.state.ts) and the locked dependency versions.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const output = path.join(root, "web/dist/index.html");
const inputs = ["web", "src/client", "src/tasks/tasks.state.ts", "package-lock.json"].map((p) => path.join(root, p));
const skip = new Set([path.join(root, "web/dist"), path.join(root, "web/node_modules")]);

function newest(p) {
  if (skip.has(p) || !fs.existsSync(p)) return 0;
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = 0;
  for (const e of fs.readdirSync(p)) m = Math.max(m, newest(path.join(p, e)));
  return m;
}

const built = fs.existsSync(output) ? fs.statSync(output).mtimeMs : 0;
const changed = Math.max(...inputs.map(newest));
if (built > 0 && built >= changed && !process.argv.includes("--force")) {
  if (!process.argv.includes("--quiet")) console.log("web/dist is up to date");
  process.exit(0);
}
console.log(built === 0 ? "building the console (web/dist is missing)" : "building the console (its sources changed)");
// Always React's production build, whatever NODE_ENV the caller has (vitest sets "test").
execFileSync(process.platform === "win32" ? "npm.cmd" : "npm", ["run", "-s", "build:web"], {
  cwd: root,
  stdio: "inherit",
  env: { ...process.env, NODE_ENV: "production" },
});
