// `npm install -g` of the package as npm would publish it: the tarball `npm pack` makes from this checkout
// (package.json `files` and `bin`), installed globally into a scratch prefix, and its `mc` run from outside the
// checkout against a real server. The build is the one `npm start` uses (scripts/build-if-stale.mjs: nothing to
// do when dist/ is current); npm takes the dependencies from its cache when it has them (--prefer-offline).
// About 25 s with dist/ current (pack 3 s, install 20 s), plus the build on a fresh checkout. Run on the
// embedded-database pass only: nothing here depends on the backend, and the install is the cost.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, type TestContext } from "../harness.js";
import { createMission } from "../tasks/helpers.js";
import { ROOT } from "../mcp/helpers.js";

const run = promisify(execFile);

describe.skipIf(!!process.env.TEST_DATABASE_URL)("npm install -g of the packed tarball", () => {
  let dir: string;
  let prefix: string;
  let t: TestContext;
  let packed: { filename: string; files: Array<{ path: string }> };

  /** The machine's global npmrc, read where a user's npm reads it (before `--prefix` moves it). */
  let globalconfig: string;

  /**
   * Only what npm and node need: no MC_* of the machine, none of the npm_* variables a surrounding `npm test`
   * sets (its prefix among them) but the registry, cache, certificate and proxy settings this machine's npm
   * uses. `--global --prefix <dir>` makes npm read its global config from `<dir>/etc/npmrc`, so the machine's
   * own (where a registry's certificate authority may be set: `cafile`) is named explicitly.
   */
  function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const keep = Object.entries(process.env).filter(([k]) =>
      /^(npm_config_(registry|cache|userconfig|cafile|strict_ssl)|https?_proxy|no_proxy|node_extra_ca_certs)$/i.test(k),
    );
    return {
      ...Object.fromEntries(keep),
      ...(globalconfig ? { npm_config_globalconfig: globalconfig } : {}),
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? os.homedir(),
      NO_COLOR: "1",
      ...extra,
    };
  }

  beforeAll(async () => {
    globalconfig = (await run("npm", ["config", "get", "globalconfig"], { cwd: ROOT })).stdout.trim();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mc-npm-install-"));
    prefix = path.join(dir, "prefix");
    // Serialized with any other build of this checkout started the same way.
    await run(
      "flock",
      ["/tmp/mission-control-build.lock", process.execPath, "scripts/build-if-stale.mjs", "--server-only", "--quiet"],
      {
        cwd: ROOT,
        env: env(),
      },
    );
    const pack = await run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", dir], {
      cwd: ROOT,
      env: env(),
    });
    packed = (JSON.parse(pack.stdout) as Array<typeof packed>)[0]!;
    await run(
      "npm",
      [
        "install",
        "--global",
        "--prefix",
        prefix,
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        path.join(dir, packed.filename),
      ],
      { cwd: dir, env: env() },
    );
    t = await createTestContext({}, { listen: true });
  }, 300_000);

  afterAll(async () => {
    await t?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test("the tarball carries the built server and CLI, not the sources", () => {
    const files = packed.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(["package.json", "dist/cli/main.js", "dist/main.js"]));
    expect(files.some((f) => f.startsWith("dist/db/migrations/"))).toBe(true);
    expect(files.filter((f) => /^(src|test|scripts)\//.test(f))).toEqual([]);
  });

  test("the globally installed mc runs outside the checkout: --help, and missions list against a server", async () => {
    const mc = path.join(prefix, "bin", "mc");
    expect(fs.realpathSync(mc)).toBe(
      path.join(prefix, "lib", "node_modules", "mission-control", "dist", "cli", "main.js"),
    );

    const help = await run(mc, ["--help"], { cwd: dir, env: env() });
    expect(help.stdout).toMatch(/^Usage: mc /);
    for (const command of ["missions", "tasks", "mcp", "serve", "completion"]) expect(help.stdout).toContain(command);

    const mission = await createMission(t);
    const list = await run(mc, ["missions", "list", "--json"], {
      cwd: dir,
      env: env({ MC_URL: t.url!, MC_TOKEN: t.member }),
    });
    const missions = JSON.parse(list.stdout) as Array<{ mission_id: string }>;
    expect(missions.map((m) => m.mission_id)).toContain(mission.mission_id);
  });

  test("the installed server's offline token command works with the production dependencies alone", async () => {
    const server = path.join(prefix, "bin", "mission-control");
    expect(fs.realpathSync(server)).toBe(
      path.join(prefix, "lib", "node_modules", "mission-control", "dist", "main.js"),
    );
    // No dev dependency was installed with it (tsx, typescript, vitest are dev-only).
    const installed = path.join(prefix, "lib", "node_modules", "mission-control", "node_modules");
    for (const dev of ["tsx", "typescript", "vitest"]) expect(fs.existsSync(path.join(installed, dev))).toBe(false);
    const dataDir = path.join(dir, "data");
    const created = await run(server, ["token", "create", "--role", "member", "--name", "from-the-tarball"], {
      cwd: dir,
      env: env({ MC_DATA_DIR: dataDir }),
    });
    expect(created.stdout.trim()).toMatch(/^mc_[A-Za-z0-9_-]{20,}$/);
    const listed = await run(server, ["token", "list"], { cwd: dir, env: env({ MC_DATA_DIR: dataDir }) });
    expect(listed.stdout).toContain("from-the-tarball");
    expect(listed.stdout).not.toContain(created.stdout.trim());
  }, 120_000);
});
