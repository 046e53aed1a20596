// The live stream under a broken connection: the browser reaches the server through a TCP proxy that the
// test cuts. While cut, the console says `Reconnecting`; changes made meanwhile all show once it is back
// (the stream resumes with Last-Event-ID, and the task page re-reads the log lines it could not hear).
import type { Page } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { createTestContext, type TestContext } from "../harness.js";
import { ensureWebBuilt, launch, signIn, startProxy, type Browser } from "./browser.js";

let t: TestContext;
let browser: Browser;
let proxy: Awaited<ReturnType<typeof startProxy>>;

beforeAll(async () => {
  ensureWebBuilt();
  t = await createTestContext({}, { listen: true });
  proxy = await startProxy(t.url!);
  browser = await launch();
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await proxy?.close();
  await t?.close();
});

async function api(method: string, url: string, body?: unknown) {
  const r = await t.json(method, url, body === undefined ? {} : { body });
  if (r.status >= 300) throw new Error(`${method} ${url} → ${r.status} ${JSON.stringify(r.body)}`);
  return r.body?.data;
}

const live = (page: Page, text: "Live" | "Reconnecting") =>
  page.locator(".live", { hasText: text }).waitFor({ timeout: 30_000 });

test("the stream drops and resumes with nothing missed", async () => {
  await api("POST", "/api/missions", { mission_id: "s-mission", goal: "Survive a flaky network" });
  const first = (await api("POST", "/api/missions/s-mission/tasks", { objective: "Task before the cut" })).task_id;
  const logged = (await api("POST", "/api/missions/s-mission/tasks", { objective: "Task that logs during the cut" }))
    .task_id;
  await api("PATCH", `/api/tasks/${logged}`, { status: "in_progress" });

  const board = await browser.newPage();
  board.setDefaultTimeout(15_000);
  await signIn(board, proxy.url, t.member);
  await board.goto(`${proxy.url}/#/missions/s-mission`);
  await board.getByText("Task before the cut").waitFor();
  // A second tab (its own single stream) on the task page, following the log.
  const taskPage = await browser.newPage();
  taskPage.setDefaultTimeout(15_000);
  // sessionStorage is per tab: a new tab signs in too.
  await signIn(taskPage, proxy.url, t.member);
  await taskPage.goto(`${proxy.url}/#/tasks/${logged}`);
  await taskPage.getByRole("heading", { name: "Task that logs during the cut" }).waitFor();
  await live(taskPage, "Live");
  await api("POST", `/api/tasks/${logged}/report`, { logs: [{ message: "line before the cut" }] });
  await taskPage.getByText("line before the cut").waitFor();

  proxy.refuse(true);
  proxy.cut();
  await live(board, "Reconnecting");
  await live(taskPage, "Reconnecting");

  const during = [];
  for (let i = 1; i <= 3; i++)
    during.push(
      (await api("POST", "/api/missions/s-mission/tasks", { objective: `Created during the cut ${i}` })).task_id,
    );
  await api("PATCH", `/api/tasks/${first}`, { status: "blocked" });
  // More lines than the task's own read returns (its latest 100): the page re-reads the log from where it was.
  const many = Array.from({ length: 150 }, (_, i) => ({ message: `cut line ${String(i + 1).padStart(3, "0")}` }));
  await api("POST", `/api/tasks/${logged}/report`, { logs: many });
  await api("POST", `/api/tasks/${logged}/report`, { logs: [{ message: "line during the cut" }] });

  proxy.refuse(false);
  await live(board, "Live");
  await live(taskPage, "Live");
  for (let i = 1; i <= 3; i++) await board.getByText(`Created during the cut ${i}`).waitFor();
  await board.locator('section[aria-label="blocked column"]').getByText("Task before the cut").waitFor();
  await taskPage.getByText("line during the cut").waitFor();
  // Every line once: 1 before the cut, 151 during it, none lost, none twice.
  await taskPage.getByRole("heading", { name: "Logs (152)", exact: true }).waitFor();
  // The log is virtualized: scroll it from the top and collect the line each position renders. (A string:
  // the tests are compiled without the DOM's types.)
  const held = (await taskPage.evaluate(`(async () => {
    const log = document.querySelector('[data-testid="log"]');
    const byPosition = new Map();
    for (let y = 0; y <= log.scrollHeight; y += log.clientHeight / 2) {
      log.scrollTop = y;
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      for (const row of log.querySelectorAll(".logline[style]"))
        byPosition.set(row.style.transform, row.querySelector(".msg")?.textContent ?? "");
    }
    log.scrollTop = log.scrollHeight;
    return [...byPosition.values()];
  })()`)) as string[];
  expect(held).toHaveLength(152);
  expect(held.filter((m) => m.startsWith("cut line "))).toEqual(many.map((l) => l.message));
  expect(held.filter((m) => m === "line before the cut")).toHaveLength(1);
  expect(held.filter((m) => m === "line during the cut")).toHaveLength(1);
  // Nothing twice: one card per task.
  expect(await board.locator("article.card").count()).toBe(5);

  // And live again after the resume.
  await api("POST", "/api/missions/s-mission/tasks", { objective: "Created after the resume" });
  await board.getByText("Created after the resume").waitFor();
  await api("POST", `/api/tasks/${logged}/report`, { logs: [{ message: "line after the resume" }] });
  await taskPage.getByText("line after the resume").waitFor();
  await taskPage.getByRole("heading", { name: "Logs (153)", exact: true }).waitFor();

  // The only errors are the network errors of the cut itself.
  expect(browser.errors.filter((e) => !/net::ERR_|Failed to fetch/.test(e))).toEqual([]);
}, 120_000);

test("a change between a screen's first read and the stream's start is not lost", async () => {
  await api("POST", "/api/missions", { mission_id: "s-race", goal: "Open the stream late" });
  await api("POST", "/api/missions/s-race/tasks", { objective: "Read by the first load" });
  const page = await browser.newPage();
  page.setDefaultTimeout(15_000);
  // The stream's request is held (a slow proxy), so the board reads the API before the stream is open.
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  await page.route("**/api/events", async (route) => {
    await held;
    await route.continue();
  });
  await page.goto(t.url!);
  await page.getByLabel("Token").fill(t.member);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.goto(`${t.url}/#/missions/s-race`);
  await page.getByText("Read by the first load").waitFor();
  await page.locator(".live", { hasText: "Reconnecting" }).waitFor();
  // Made after the board's read, before the stream opens: in neither, unless the board reads again.
  await api("POST", "/api/missions/s-race/tasks", { objective: "Made before the stream opened" });
  release();
  await live(page, "Live");
  await page.getByText("Made before the stream opened").waitFor();
  // And live from then on.
  await api("POST", "/api/missions/s-race/tasks", { objective: "Made once the stream was open" });
  await page.getByText("Made once the stream was open").waitFor();
  expect(await page.locator("article.card").count()).toBe(3);
  await page.close();
  expect(browser.errors.filter((e) => !/net::ERR_|Failed to fetch/.test(e))).toEqual([]);
}, 120_000);
