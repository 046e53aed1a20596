// scripts/build-if-stale.mjs (what `npm start`, `npm run token` and `npm run migrate` run first) on a small
// copy of the project's layout with the real TypeScript compiler: it builds when dist/ is missing or a
// source's content changed, not when only an mtime did; it copies the migrations; it prints only to stderr;
// without TypeScript it still runs a fresh dist/ and says in one line why it cannot rebuild a stale one; a
// failed build is never taken as done; and it hands the console to scripts/build-web-if-stale.mjs.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeEach, describe, expect, test, vi } from "vitest";

vi.setConfig({ testTimeout: 300_000 }); // several real tsc runs per test on a busy machine

const SCRIPT = path.resolve("scripts/build-if-stale.mjs");
const NODE_MODULES = path.resolve("node_modules");
let root: string;
const roots: string[] = [];
afterAll(() => {
  for (const d of roots) fs.rmSync(d, { recursive: true, force: true });
});

function write(rel: string, text: string) {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.writeFileSync(path.join(root, rel), text);
}

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "mc-build-"));
  roots.push(root);
  fs.mkdirSync(path.join(root, "scripts"));
  fs.copyFileSync(SCRIPT, path.join(root, "scripts/build-if-stale.mjs"));
  fs.symlinkSync(NODE_MODULES, path.join(root, "node_modules"));
  write(
    "tsconfig.json",
    JSON.stringify({
      // lib ES5: the project's tsc without the default lib (ES2022 + DOM) to parse: ~0.75 s of CPU per build
      // instead of ~4.5 s, and these tests run about a dozen builds. The sources here need no more.
      compilerOptions: {
        target: "ES2022",
        lib: ["ES5"],
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        types: [],
      },
    }),
  );
  write(
    "tsconfig.build.json",
    JSON.stringify({
      extends: "./tsconfig.json",
      compilerOptions: { outDir: "dist", rootDir: "src" },
      include: ["src"],
    }),
  );
  write("package-lock.json", "{}\n");
  write("src/main.ts", 'export const version: string = "one";\n');
  write("src/db/migrations/0000_init.sql", "CREATE TABLE t (id int);\n");
});

/**
 * dist/ as a first build of the project beforeEach writes leaves it, built once for the file: for the tests
 * whose subject is what happens after that build (each build is a real tsc run).
 */
let firstBuild: Promise<string> | null = null;
/** A copy of root's dist/, which must be the first build of what beforeEach wrote. */
function saveDist(): string {
  const saved = fs.mkdtempSync(path.join(os.tmpdir(), "mc-build-dist-"));
  roots.push(saved);
  fs.cpSync(path.join(root, "dist"), saved, { recursive: true });
  return saved;
}
async function builtOnce(): Promise<void> {
  firstBuild ??= (async () => {
    expect(await build()).toMatchObject({ code: 0 });
    return saveDist();
  })();
  fs.cpSync(await firstBuild, path.join(root, "dist"), { recursive: true });
  expect((await build("--server-only")).stderr).toBe("dist/ is up to date\n");
}

function build(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(root, "scripts/build-if-stale.mjs"), ...args],
      { cwd: root },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}
const dist = (rel: string) => fs.readFileSync(path.join(root, "dist", rel), "utf8");

describe("the server", () => {
  test("builds when dist/ is missing, then not again until a source's content changes", async () => {
    expect(await build()).toEqual({ code: 0, stdout: "", stderr: "building the server (dist/ is missing)\n" });
    expect(dist("main.js")).toContain('"one"');
    expect(dist("db/migrations/0000_init.sql")).toBe("CREATE TABLE t (id int);\n");
    firstBuild ??= Promise.resolve(saveDist());
    const builtAt = fs.statSync(path.join(root, "dist/main.js")).mtimeMs;

    expect(await build()).toEqual({ code: 0, stdout: "", stderr: "dist/ is up to date\n" });
    expect(await build("--quiet")).toEqual({ code: 0, stdout: "", stderr: "" });

    // A newer mtime with the same content (a checkout, a touch) is not a change.
    const future = new Date(Date.now() + 60_000);
    fs.utimesSync(path.join(root, "src/main.ts"), future, future);
    expect((await build()).stderr).toBe("dist/ is up to date\n");
    expect(fs.statSync(path.join(root, "dist/main.js")).mtimeMs).toBe(builtAt);

    write("src/main.ts", 'export const version: string = "two";\n');
    expect((await build()).stderr).toBe("building the server (its sources changed)\n");
    expect(dist("main.js")).toContain('"two"');

    write("src/db/migrations/0001_more.sql", "ALTER TABLE t ADD COLUMN x int;\n");
    expect((await build()).stderr).toBe("building the server (its sources changed)\n");
    expect(dist("db/migrations/0001_more.sql")).toBe("ALTER TABLE t ADD COLUMN x int;\n");

    write("package-lock.json", '{"lockfileVersion": 3}\n');
    expect((await build()).stderr).toBe("building the server (its sources changed)\n");

    expect((await build("--force")).stderr).toBe("building the server\n");
  });

  test("a deleted dist/main.js is rebuilt even with the stamp in place", async () => {
    await builtOnce();
    fs.rmSync(path.join(root, "dist/main.js"));
    expect((await build()).stderr).toBe("building the server (dist/ is missing)\n");
    expect(dist("main.js")).toContain('"one"');
  });

  test("a failed build exits 1 and is not taken as done: the next run builds again", async () => {
    write("src/main.ts", "export const version: number = 'not a number';\n");
    const r = await build();
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("error TS2322");
    expect(r.stderr.trimEnd().split("\n").at(-1)).toBe("the server's build failed (see above)");
    expect(fs.existsSync(path.join(root, "dist/.build-stamp"))).toBe(false);
    expect((await build()).code).toBe(1);
    write("src/main.ts", 'export const version: string = "fixed";\n');
    expect(await build()).toMatchObject({ code: 0 });
    expect((await build()).stderr).toBe("dist/ is up to date\n");
  });

  test("without TypeScript (no dev dependencies): a fresh dist/ runs, a stale or missing one is one line, exit 1", async () => {
    const noDev = () => {
      fs.rmSync(path.join(root, "node_modules"));
      fs.mkdirSync(path.join(root, "node_modules"));
    };
    await builtOnce();
    noDev();
    expect(await build()).toEqual({ code: 0, stdout: "", stderr: "dist/ is up to date\n" });
    write("src/main.ts", 'export const version: string = "three";\n');
    expect(await build()).toEqual({
      code: 1,
      stdout: "",
      stderr:
        "dist/ is older than src/ and TypeScript is not installed (a dev dependency): run npm install, then npm run build\n",
    });
    fs.rmSync(path.join(root, "dist"), { recursive: true });
    expect(await build()).toEqual({
      code: 1,
      stdout: "",
      stderr:
        "dist/ is missing and TypeScript is not installed (a dev dependency): run npm install, then npm run build\n",
    });
  });
});

describe("the console hook", () => {
  // Stands in for the console's own script: records that it ran and with which flags.
  const fakeWebScript = `import fs from "node:fs"; fs.appendFileSync(new URL("../web-runs.txt", import.meta.url), JSON.stringify(process.argv.slice(2)) + "\\n");`;

  test("when web/ exists, scripts/build-web-if-stale.mjs decides after the server; --server-only skips it", async () => {
    write("scripts/build-web-if-stale.mjs", fakeWebScript);
    const runs = () =>
      fs.existsSync(path.join(root, "web-runs.txt")) ? fs.readFileSync(path.join(root, "web-runs.txt"), "utf8") : "";
    await build();
    expect(runs()).toBe(""); // no web/ yet
    write("web/index.html", "<!doctype html>");
    await build();
    await build("--quiet");
    await build("--server-only");
    expect(runs()).toBe('[]\n["--quiet"]\n');
  });

  test("a failing console build fails the whole command", async () => {
    await builtOnce();
    write("web/index.html", "<!doctype html>");
    write("scripts/build-web-if-stale.mjs", "process.exit(3);");
    const r = await build();
    expect(r.code).toBe(1);
    expect(r.stderr.trimEnd().split("\n").at(-1)).toBe("the console's build failed (see above)");
  });
});

describe("scripts/build-web-if-stale.mjs (the console)", () => {
  const WEB_SCRIPT = path.resolve("scripts/build-web-if-stale.mjs");
  // A console build that only writes its output, so the test sees when the script decides to build.
  const setUp = () => {
    fs.copyFileSync(WEB_SCRIPT, path.join(root, "scripts/build-web-if-stale.mjs"));
    write(
      "package.json",
      JSON.stringify({
        name: "web-build-test",
        private: true,
        scripts: {
          "build:web":
            "node -e \"require('fs').mkdirSync('web/dist',{recursive:true});require('fs').writeFileSync('web/dist/index.html','x')\"",
        },
      }),
    );
    write("web/src/main.tsx", 'import { TASK } from "../../src/tasks/tasks.state.js";\nexport const t = TASK;\n');
    write(
      "src/tasks/tasks.state.ts",
      'import { assertNever } from "../core/assert-never.js";\nexport const TASK = 1;\n',
    );
    write("src/core/assert-never.ts", "export function assertNever() {}\n");
    write("src/tasks/tasks.service.ts", "export const notShared = 1;\n");
    write("src/client/index.ts", "export const client = 1;\n");
  };
  const webBuild = () =>
    new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(process.execPath, [path.join(root, "scripts/build-web-if-stale.mjs")], { cwd: root }, (err, stdout) =>
        resolve({ code: err ? 1 : 0, stdout }),
      );
    });
  /** Every source an hour old, so a touched one is newer than any build made after setUp. */
  const age = () => {
    const t = new Date(Date.now() - 3_600_000);
    for (const rel of [
      "package.json",
      "package-lock.json",
      "web/src/main.tsx",
      "src/tasks/tasks.state.ts",
      "src/core/assert-never.ts",
      "src/tasks/tasks.service.ts",
      "src/client/index.ts",
    ])
      fs.utimesSync(path.join(root, rel), t, t);
  };
  const later = (rel: string) => {
    const t = new Date(Date.now() - 1_800_000);
    fs.utimesSync(path.join(root, rel), t, t);
    const older = new Date(Date.now() - 2_400_000);
    fs.utimesSync(path.join(root, "web/dist/index.html"), older, older);
  };

  test("rebuilds when a server file the console imports, even indirectly, changes; not for other server files", async () => {
    setUp();
    age();
    expect((await webBuild()).stdout).toContain("web/dist is missing");
    expect((await webBuild()).stdout).toContain("up to date");
    later("src/tasks/tasks.service.ts");
    expect((await webBuild()).stdout).toContain("up to date");
    later("src/core/assert-never.ts"); // imported by tasks.state.ts, which the console imports
    expect((await webBuild()).stdout).toContain("its sources changed");
    expect((await webBuild()).stdout).toContain("up to date");
  });
});
