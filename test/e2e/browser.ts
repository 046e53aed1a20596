// End-to-end fixtures: the console built once (when its sources changed), Debian's Chromium driven by
// playwright-core (its own browser download cannot work here), and a TCP proxy that can cut the browser
// off from the server to test the live stream's resume.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
// The tests always take their screenshots; `npm run screenshots` keeps them in docs/screenshots (the README's
// pictures), any other run in a scratch folder, so a test run leaves the working tree as it found it.
export const SCREENSHOTS = process.env.MC_SCREENSHOTS_DIR
  ? path.resolve(root, process.env.MC_SCREENSHOTS_DIR)
  : path.join(os.tmpdir(), "mission-control-screenshots");
export const CHROMIUM = process.env.MC_CHROMIUM ?? "/usr/bin/chromium";

/** Builds web/dist if a source is newer; serialised across test files running at once. */
export function ensureWebBuilt() {
  execFileSync(
    "flock",
    [
      path.join(os.tmpdir(), "mission-control-web-build.lock"),
      process.execPath,
      "scripts/build-web-if-stale.mjs",
      "--quiet",
    ],
    {
      cwd: root,
      stdio: "inherit",
    },
  );
}

export interface Browser {
  context: BrowserContext;
  /** Console errors and uncaught exceptions of every page, as text. */
  errors: string[];
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

export async function launch(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not at ${CHROMIUM}: apt-get install -y chromium (Debian), or set MC_CHROMIUM to its binary`,
    );
  }
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "mc-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1440, height: 900 },
  });
  const errors: string[] = [];
  const watch = (page: Page) => {
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`console: ${m.text()}`);
    });
    page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  };
  context.on("page", watch);
  for (const p of context.pages()) watch(p);
  return {
    context,
    errors,
    newPage: () => context.newPage(),
    async close() {
      await context.close();
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Opens the console and signs in with `token`. */
export async function signIn(page: Page, url: string, token: string) {
  await page.goto(url);
  await page.getByLabel("Token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("status").filter({ hasText: "Live" }).waitFor({ timeout: 15_000 });
}

export async function screenshot(page: Page, name: string) {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
}

/** A TCP proxy in front of the server: `cut()` drops every connection, `refuse()` refuses new ones. */
export async function startProxy(target: string) {
  const t = new URL(target);
  const sockets = new Set<net.Socket>();
  let refusing = false;
  const server = net.createServer((client) => {
    if (refusing) return client.destroy();
    const upstream = net.connect(Number(t.port), t.hostname);
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    refuse(on: boolean) {
      refusing = on;
    },
    cut() {
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
