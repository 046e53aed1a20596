#!/usr/bin/env node
/* global process, console */
// Builds the console (npm run build:web → web/dist) only when one of its inputs is newer than the last
// build, so `npm start` and the browser tests pay for a build only after a change. Inputs: web/ (but
// web/dist), every file of src/ the console imports (found by following relative imports from web/src, so a
// server file the console starts to share is watched without being listed here; src/client whole) and the
// locked dependency versions.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const output = path.join(root, "web/dist/index.html");
const IMPORT_RE = /(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g;

/** The files of src/ reachable from web/src through relative imports (`.js` specifiers name `.ts`/`.tsx` files). */
function serverFilesOfConsole() {
  const seen = new Set();
  const queue = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|tsx)$/.test(e.name)) queue.push(p);
    }
  };
  walk(path.join(root, "web/src"));
  const resolveImport = (from, spec) => {
    const base = path.resolve(path.dirname(from), spec);
    const stem = base.replace(/\.js$/, "");
    for (const c of [base, `${stem}.ts`, `${stem}.tsx`, path.join(base, "index.ts")])
      if (fs.existsSync(c) && fs.statSync(c).isFile()) return c;
    return null;
  };
  const src = new Set();
  while (queue.length > 0) {
    const file = queue.pop();
    if (seen.has(file)) continue;
    seen.add(file);
    for (const m of fs.readFileSync(file, "utf8").matchAll(IMPORT_RE)) {
      const target = resolveImport(file, m[1]);
      if (!target) continue;
      if (target.startsWith(path.join(root, "src") + path.sep)) src.add(target);
      queue.push(target);
    }
  }
  return [...src];
}

const inputs = [
  ...["web", "src/client", "package-lock.json"].map((p) => path.join(root, p)),
  ...serverFilesOfConsole(),
];
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
