#!/usr/bin/env node
/* global process, console */
// Builds what `npm start` (and `npm run token`/`migrate`) run, only when its sources changed since the last
// build, so a restart costs no compile. Usage: node scripts/build-if-stale.mjs [--force] [--server-only] [--quiet]
//
// The server (dist/): the build's inputs are hashed (content, not mtimes: a checkout or `touch` that changes
// nothing costs nothing, and a change is never missed because a clock or an archive kept an old mtime); the
// hash of the last successful build is kept in dist/.build-stamp. Inputs: src/** (migrations included),
// the tsconfig files and package-lock.json (a new TypeScript or a new typing can change the output).
// The console (web/): when web/ exists, scripts/build-web-if-stale.mjs decides and builds it (npm run build:web).
//
// Everything this prints goes to stderr, so `$(npm run -s token -- create …)` captures the token alone.
// Without dev dependencies (npm ci --omit=dev) a fresh dist/ just runs; a stale one is an error that says so.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = new Set(process.argv.slice(2));
const force = args.has("--force");
const quiet = args.has("--quiet");
const say = (msg) => quiet || process.stderr.write(`${msg}\n`);
const stampFile = path.join(root, "dist/.build-stamp");
const INPUTS = ["src", "tsconfig.json", "tsconfig.build.json", "package-lock.json"];

function files(p) {
  if (!fs.existsSync(p)) return [];
  if (!fs.statSync(p).isDirectory()) return [p];
  return fs
    .readdirSync(p)
    .sort()
    .flatMap((e) => files(path.join(p, e)));
}

function sourcesHash() {
  const h = createHash("sha256");
  for (const f of INPUTS.flatMap((i) => files(path.join(root, i)))) {
    h.update(`${path.relative(root, f)}\0`);
    h.update(fs.readFileSync(f));
    h.update("\0");
  }
  return h.digest("hex");
}

function run(cmd, argv) {
  // stdout to stderr: see above.
  execFileSync(cmd, argv, { cwd: root, stdio: ["ignore", 2, 2] });
}

function buildServer() {
  const hash = sourcesHash();
  const built =
    fs.existsSync(path.join(root, "dist/main.js")) && fs.existsSync(stampFile)
      ? fs.readFileSync(stampFile, "utf8").trim()
      : null;
  if (!force && built === hash) {
    say("dist/ is up to date");
    return;
  }
  const tsc = path.join(root, "node_modules/typescript/bin/tsc");
  if (!fs.existsSync(tsc)) {
    console.error(
      built === null
        ? "dist/ is missing and TypeScript is not installed (a dev dependency): run npm install, then npm run build"
        : "dist/ is older than src/ and TypeScript is not installed (a dev dependency): run npm install, then npm run build",
    );
    process.exit(1);
  }
  say(
    built === null
      ? "building the server (dist/ is missing)"
      : force
        ? "building the server"
        : "building the server (its sources changed)",
  );
  fs.rmSync(stampFile, { force: true }); // a build that fails half-way must not look done
  try {
    run(process.execPath, [tsc, "-p", "tsconfig.build.json"]);
  } catch {
    console.error("the server's build failed (see above)");
    process.exit(1);
  }
  fs.rmSync(path.join(root, "dist/db/migrations"), { recursive: true, force: true });
  fs.cpSync(path.join(root, "src/db/migrations"), path.join(root, "dist/db/migrations"), { recursive: true });
  fs.writeFileSync(stampFile, `${hash}\n`);
}

function buildWeb() {
  const script = path.join(root, "scripts/build-web-if-stale.mjs");
  if (!fs.existsSync(path.join(root, "web")) || !fs.existsSync(script)) return;
  try {
    run(process.execPath, [script, ...(quiet ? ["--quiet"] : [])]);
  } catch {
    console.error("the console's build failed (see above)");
    process.exit(1);
  }
}

buildServer();
if (!args.has("--server-only")) buildWeb();
