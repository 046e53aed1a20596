// The console at scale, in Chromium: a mission of 10,000 tasks and a task of 100,000 log lines load page
// by page and render through virtualized lists (a bounded number of elements in the page), and the log
// follows new lines unless the reader scrolled up. The rows are inserted in bulk by SQL: what is tested
// is the console, not the API's write path.
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, expect, test } from "vitest";
import { createTestContext, type TestContext } from "../harness.js";
import { ensureWebBuilt, launch, signIn, type Browser } from "./browser.js";

const TASKS = 10_000;
const LINES = 100_000;

let t: TestContext;
let browser: Browser;

beforeAll(async () => {
  ensureWebBuilt();
  t = await createTestContext({}, { listen: true });
  browser = await launch();
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

async function api(method: string, url: string, body?: unknown) {
  const r = await t.json(method, url, body === undefined ? {} : { body });
  if (r.status >= 300) throw new Error(`${method} ${url} → ${r.status} ${JSON.stringify(r.body)}`);
  return r.body?.data;
}

test("10,000 tasks on the board and 100,000 log lines in a task", async () => {
  const mission = await api("POST", "/api/missions", { mission_id: "big", goal: "A very large mission" });
  const logged = await api("POST", "/api/missions/big/tasks", { objective: "The chatty task" });
  await api("PATCH", `/api/tasks/${logged.task_id}`, { status: "in_progress" });
  const db = t.database.db;
  await db.execute(sql`
    INSERT INTO tasks (task_id, mission_id, objective, status)
    SELECT 'bulk-' || n, ${mission.id}, 'Bulk task ' || n, 'pending' FROM generate_series(1, ${TASKS}) AS n`);
  await db.execute(sql`
    INSERT INTO task_logs (task_id, message, level, timestamp)
    SELECT ${logged.id}, 'log line ' || n, 'info', now() - interval '1 hour' + n * interval '1 millisecond'
    FROM generate_series(1, ${LINES}) AS n`);

  const page = await browser.newPage();
  page.setDefaultTimeout(60_000);
  await signIn(page, t.url!, t.member);
  await page.goto(`${t.url}/#/missions/big`);
  const pending = page.locator('section[aria-label="pending column"]');
  await pending.locator(".count", { hasText: String(TASKS) }).waitFor();
  await page
    .getByText(`${TASKS + 1}/${TASKS + 1}`, { exact: false })
    .or(page.getByText(`0/${TASKS + 1} completed`))
    .first()
    .waitFor();
  expect(await page.locator("article.card").count()).toBeLessThan(100);
  await pending.locator(".column-scroll").evaluate((el: any) => {
    el.scrollTop = el.scrollHeight;
  });
  await pending.getByText(`Bulk task ${TASKS}`, { exact: true }).waitFor();
  expect(await page.locator("article.card").count()).toBeLessThan(100);

  await page.goto(`${t.url}/#/tasks/${logged.task_id}`);
  await page.getByRole("heading", { name: `Logs (${LINES})` }).waitFor();
  const log = page.getByTestId("log");
  // Following: the newest line is on screen; only a window of lines is in the page.
  await log.getByText(`log line ${LINES}`, { exact: true }).waitFor();
  expect(await page.locator(".logline").count()).toBeLessThan(200);

  // Scrolled up, the view stays put when a line arrives; "Follow new lines" brings it back.
  await log.evaluate((el: any) => {
    el.scrollTop = 0;
  });
  await page.getByRole("button", { name: "Follow new lines" }).waitFor();
  await api("POST", `/api/tasks/${logged.task_id}/report`, { logs: [{ message: "a new line at the end" }] });
  await page.getByRole("heading", { name: `Logs (${LINES + 1})` }).waitFor();
  await log.getByText("log line 1", { exact: true }).waitFor();
  expect(await log.getByText("a new line at the end").count()).toBe(0);
  await page.getByRole("button", { name: "Follow new lines" }).click();
  await log.getByText("a new line at the end").waitFor();
  expect(browser.errors).toEqual([]);
}, 240_000);
