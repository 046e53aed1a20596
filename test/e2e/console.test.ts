// The console end to end: a real server (this backend, scratch database) serving the built web/dist, and
// Debian's Chromium signing in and using it. Screenshots of the main screens go to docs/screenshots.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, waitFor, type TestContext } from "../harness.js";
import { ensureWebBuilt, launch, screenshot, signIn, type Browser } from "./browser.js";
import { startFakeGithub, type FakeGithub } from "../fixtures/fake-github/server.js";
import { githubEnv, REPO } from "../github/helpers.js";

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/agents");
/** The issue's bound for an event to show on screen. */
const LIVE_MS = 2_000;

let t: TestContext;
/** The GitHub the server merges approved pull requests on (approve-to-merge). */
let fake: FakeGithub;
let browser: Browser;
let page: Page;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mc-e2e-"));

beforeAll(async () => {
  ensureWebBuilt();
  fake = await startFakeGithub();
  fake.repo(REPO);
  t = await createTestContext(githubEnv(fake), { listen: true });
  browser = await launch();
  page = await browser.newPage();
  // Below the test timeout, so a wait that fails names its locator.
  page.setDefaultTimeout(10_000);
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await t?.close();
  await fake?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function api(method: string, url: string, body?: unknown) {
  const r = await t.json(method, url, body === undefined ? {} : { body });
  if (r.status >= 300) throw new Error(`${method} ${url} → ${r.status} ${JSON.stringify(r.body)}`);
  return r.body?.data;
}

async function createTask(mission: string, objective: string, extra: Record<string, unknown> = {}) {
  return (await api("POST", `/api/missions/${mission}/tasks`, { objective, ...extra })).task_id as string;
}

async function toReview(task: string) {
  await api("PATCH", `/api/tasks/${task}`, { status: "in_progress" });
  await api("POST", `/api/tasks/${task}/report`, {
    status: "pending_review",
    outputs: {
      branch: "feat/login",
      commit: "abc1234",
      cost_usd: 0.42,
      usage: { input_tokens: 1200, output_tokens: 340 },
      files_changed: 2,
      insertions: 10,
      deletions: 3,
      changed_files: ["src/login.ts", "src/login.test.ts"],
      pr_url: "https://git.example.com/acme/app/merge_requests/7",
      permission_denials: [{ tool_name: "Bash", tool_input: { command: "rm -rf /" } }],
    },
  });
}

describe("console", () => {
  test("the page is served with a CSP without inline script", async () => {
    const r = await fetch(`${t.url}/`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/^text\/html/);
    const csp = r.headers.get("content-security-policy")!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).not.toContain("unsafe-eval");
    const html = await r.text();
    // Every script is an external same-origin file.
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    const asset = html.match(/src="(\/assets\/[^"]+\.js)"/)![1]!;
    const js = await fetch(`${t.url}${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get("cache-control")).toContain("immutable");
    expect((await fetch(`${t.url}/assets/nope.js`)).status).toBe(404);
  });

  test("sign in: a wrong token is refused, the right one kept in sessionStorage only", async () => {
    await page.goto(t.url!);
    // The hint names what works while the server runs (the page is only ever seen then): the data directory's
    // token command is refused as long as a server holds the directory.
    const hint = await page.locator("p.hint").innerText();
    expect(hint).toContain("data/admin-token");
    expect(hint).toContain("mc tokens create --role member");
    expect(hint).not.toContain("npm run token");
    await page.getByLabel("Token").fill("mc_not_a_token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("This token is not valid.").waitFor();
    // The refused token's 401 is the one error this test expects the browser to log.
    expect(browser.errors).toEqual([
      "console: Failed to load resource: the server responded with a status of 401 (Unauthorized)",
    ]);
    browser.errors.length = 0;
    await screenshot(page, "sign-in");
    await signIn(page, t.url!, t.member);
    expect(await page.evaluate("Object.values(sessionStorage)")).toEqual([t.member]);
    expect(await page.evaluate("Object.values(localStorage)")).toEqual([]);
    expect(await page.evaluate("document.cookie")).toBe("");
    for (const name of ["Inbox", "Missions", "Agents", "Trace", "Knowledge", "Objectives", "Policies"]) {
      await page.getByRole("link", { name, exact: true }).waitFor();
    }
  });

  test("a task created through the API appears on the board without a reload", async () => {
    await api("POST", "/api/missions", { mission_id: "e2e-board", goal: "Ship the login page" });
    await api("POST", "/api/agents", { agent_id: "e2e-coder", name: "Coder", capabilities: ["coding"] });
    await api("POST", "/api/missions/e2e-board/agents", { agent_id: "e2e-coder" });
    const first = await createTask("e2e-board", "Write the login form", { agent_id: "e2e-coder" });
    await page.goto(`${t.url}/#/missions/e2e-board`);
    await page.getByRole("heading", { name: "Ship the login page" }).waitFor();
    await page.getByText("Write the login form").waitFor();
    await page.evaluate("window.__sameDocument = true");

    await createTask("e2e-board", "Add the password reset link", { agent_id: "e2e-coder" });
    await page.getByText("Add the password reset link").waitFor({ timeout: LIVE_MS });
    // A move shows in its column, as the server's status.
    const moved = await createTask("e2e-board", "Validate the email field");
    await page.getByText("Validate the email field").waitFor();
    await api("PATCH", `/api/tasks/${moved}`, { status: "in_progress" });
    await page.locator('section[aria-label="in_progress column"]').getByText("Validate the email field").waitFor();
    // Cost and the conflict marker on the card, as the task's outputs say.
    await api("POST", `/api/tasks/${moved}/report`, {
      outputs: { cost_usd: 0.42, conflicts: [{ task_id: first, files: ["src/login.ts"] }] },
    });
    const movedCard = page.locator("article.card", { hasText: "Validate the email field" });
    await movedCard.getByText("⚠ conflict").waitFor();
    await movedCard.getByText("$0.4200").waitFor();
    expect(await page.evaluate("window.__sameDocument")).toBe(true);
    // Only legal moves are offered: a pending task can go to in_progress, blocked or failed.
    const card = page.locator("article.card", { hasText: "Write the login form" });
    const options = await card.getByRole("combobox").locator("option").allTextContents();
    expect(options).toEqual(["Move to…", "in_progress", "blocked", "failed"]);
    await screenshot(page, "board");
  });

  test("an agent's activity changes its status on screen within 2 s", async () => {
    await page.goto(`${t.url}/#/agents`);
    const row = page.locator('tr[data-agent-id="e2e-coder"]');
    await row.waitFor();
    const task = await createTask("e2e-board", "Hook up the session cookie", { agent_id: "e2e-coder" });
    await api("POST", "/api/agents/e2e-coder/activity", { event: "task_start", context: { task_id: task } });
    const started = Date.now();
    await row.locator(".status", { hasText: "working" }).waitFor({ timeout: LIVE_MS });
    await row.getByRole("link", { name: task }).waitFor({ timeout: LIVE_MS });
    expect(Date.now() - started).toBeLessThanOrEqual(LIVE_MS);
    await api("POST", "/api/agents/e2e-coder/activity", { event: "waiting_for_input", context: { task_id: task } });
    await row.locator(".status", { hasText: "waiting_for_input" }).waitFor({ timeout: LIVE_MS });
    await screenshot(page, "agents");
    await api("POST", "/api/agents/e2e-coder/activity", { event: "task_complete", context: { task_id: task } });
    await row.locator(".status", { hasText: "idle" }).waitFor({ timeout: LIVE_MS });
  });

  test("approve and reject (with a comment) from the task page", async () => {
    await api("POST", "/api/requirements", { requirement_id: "e2e-req-errors", title: "Login errors are explained" });
    const good = await createTask("e2e-board", "Render the login errors", {
      agent_id: "e2e-coder",
      requirement_ids: ["e2e-req-errors"],
    });
    const bad = await createTask("e2e-board", "Store passwords in plain text", { agent_id: "e2e-coder" });
    await toReview(good);
    await toReview(bad);

    await page.goto(`${t.url}/#/tasks/${good}`);
    await page.getByRole("heading", { name: "Render the login errors", level: 1 }).waitFor();
    await page.getByText("feat/login", { exact: true }).waitFor();
    await page.getByText("1200 in / 340 out").waitFor();
    await page.getByText("2 file(s), +10 −3").waitFor();
    await page.getByText("src/login.test.ts", { exact: true }).waitFor();
    expect(
      await page.getByRole("link", { name: "https://git.example.com/acme/app/merge_requests/7" }).getAttribute("href"),
    ).toBe("https://git.example.com/acme/app/merge_requests/7");
    expect(await page.getByRole("button", { name: "Execute" }).count()).toBe(0);
    // The requirement it serves, by key and title.
    const requirements = page.locator("section.panel", { has: page.getByRole("heading", { name: "Requirements" }) });
    await requirements.locator("li", { hasText: "e2e-req-errors" }).getByText("Login errors are explained").waitFor();
    // The permission denials: how many, and what was denied.
    const kv = (name: string) => page.locator("dl.kv > div", { has: page.locator("dt", { hasText: name }) });
    expect(await kv("permission denials").locator("dd").textContent()).toBe("1");
    const denials = JSON.parse((await page.locator("pre.json").first().textContent())!);
    expect(denials).toEqual([{ tool_name: "Bash", tool_input: { command: "rm -rf /" } }]);
    // Its trace: every entry the API has for the task, in order, and the approval's entry arrives live.
    const traceEvents = () => page.locator("table.trace tbody tr td:nth-child(3)").allTextContents();
    const stored = (await api("GET", `/api/trace?task_id=${good}&limit=500`)) as Array<{ event: string }>;
    await expect.poll(traceEvents).toEqual(stored.map((e) => e.event));
    expect(stored.map((e) => e.event)).toEqual(
      expect.arrayContaining(["task.created", "task.status_changed", "task.reported"]),
    );
    await screenshot(page, "task");
    await page.getByRole("button", { name: "Approve" }).click();
    await page.locator(".facts .status", { hasText: "completed" }).first().waitFor();
    const afterApproval = (await api("GET", `/api/trace?task_id=${good}&limit=500`)) as Array<{ event: string }>;
    expect(afterApproval.length).toBeGreaterThan(stored.length);
    await expect.poll(traceEvents).toEqual(afterApproval.map((e) => e.event));
    expect((await api("GET", `/api/tasks/${good}`)).status).toBe("completed");
    expect(await page.getByRole("button", { name: "Approve" }).count()).toBe(0);

    await page.goto(`${t.url}/#/tasks/${bad}`);
    await page.getByRole("heading", { name: "Store passwords in plain text", level: 1 }).waitFor();
    const reject = page.getByRole("button", { name: "Reject" });
    expect(await reject.isDisabled()).toBe(true);
    await page.getByLabel("Comment").fill("Hash them with argon2id.");
    await reject.click();
    await page.locator(".facts .status", { hasText: "rejected" }).first().waitFor();
    const moves = await api("GET", `/api/trace?task_id=${bad}&event=task.status_changed`);
    expect(moves.at(-1).data).toMatchObject({
      from: "pending_review",
      to: "rejected",
      comment: "Hash them with argon2id.",
    });
    // Rejected work can be executed again; the button is offered now.
    await page.getByRole("button", { name: "Execute" }).waitFor();
  });

  test("a log line with HTML is shown as text and runs nothing, and new lines follow live", async () => {
    const task = await createTask("e2e-board", "Parse <b>user</b> input", { agent_id: "e2e-coder" });
    await api("PATCH", `/api/tasks/${task}`, { status: "in_progress" });
    await page.goto(`${t.url}/#/tasks/${task}`);
    await page.getByRole("heading", { name: "Parse <b>user</b> input", level: 1 }).waitFor();
    const evil = `<img src=x onerror="window.__xss=1;document.title='pwned'">`;
    await api("POST", `/api/tasks/${task}/report`, {
      logs: [
        { message: "starting", level: "info" },
        { message: evil, level: "warn" },
      ],
      outputs: { pr_url: "javascript:window.__xss=2", summary: evil },
    });
    await page.getByTestId("log").getByText(evil, { exact: true }).waitFor({ timeout: LIVE_MS });
    await page.waitForTimeout(300);
    expect(await page.evaluate("window.__xss")).toBeUndefined();
    expect(await page.title()).toBe("Mission Control");
    expect(await page.locator("img").count()).toBe(0);
    expect(await page.locator("h1 b").count()).toBe(0);
    // A pull-request "URL" that is not http(s) stays text, never a link.
    await page.getByText("javascript:window.__xss=2", { exact: true }).waitFor();
    expect(await page.locator('a[href^="javascript"]').count()).toBe(0);
  });

  test("a killed agent process shows the task failed and the agent's status with the reason", async () => {
    const pidFile = path.join(tmp, "hang.pids");
    await api("POST", "/api/missions", { mission_id: "e2e-run", goal: "Run a real agent process" });
    await api("POST", "/api/agents", {
      agent_id: "e2e-proc",
      adapter_module: "command",
      config: {
        command: [process.execPath, path.join(fixtures, "hang.mjs")],
        env: { PID_FILE: pidFile },
        timeout_s: 120,
      },
    });
    await api("POST", "/api/missions/e2e-run/agents", { agent_id: "e2e-proc" });
    await api("POST", "/api/missions/e2e-run/start");
    const task = await createTask("e2e-run", "Run until killed", { agent_id: "e2e-proc" });
    await page.goto(`${t.url}/#/tasks/${task}`);
    await page.getByRole("heading", { name: "Run until killed", level: 1 }).waitFor();
    await page.getByRole("button", { name: "Execute" }).click();
    await page.locator(".facts > .status", { hasText: "in_progress" }).waitFor({ timeout: 15_000 });
    const pid = await waitFor(() =>
      fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, "utf8").trim().split("\n")[0]) : 0,
    );
    await page.getByTestId("log").getByText(`hanging as ${pid}`).waitFor({ timeout: 10_000 });
    // The Agents page shows the run: its pid, its attempt and when it last wrote output.
    await page.goto(`${t.url}/#/agents`);
    const running = page.locator('tr[data-agent-id="e2e-proc"]');
    await running.getByText(new RegExp(`^pid ${pid} · attempt 1 · last output \\d+ s ago$`)).waitFor();
    await running.getByRole("link", { name: task }).waitFor();
    await page.goto(`${t.url}/#/tasks/${task}`);
    await page.getByRole("heading", { name: "Run until killed", level: 1 }).waitFor();
    await page.getByTestId("log").getByText(`hanging as ${pid}`).waitFor();
    process.kill(pid, "SIGKILL");
    await page.locator(".facts > .status", { hasText: "failed" }).waitFor({ timeout: 10_000 });
    const failed = await api("GET", `/api/tasks/${task}`);
    const reason = failed.logs.filter((l: any) => l.level === "error").at(-1).message as string;
    await page.getByTestId("log").getByText(reason, { exact: true }).waitFor();
    const agent = await waitFor(async () => {
      const a = await api("GET", "/api/agents/e2e-proc");
      return a.status === "working" ? null : a;
    });
    await page.goto(`${t.url}/#/agents`);
    const row = page.locator('tr[data-agent-id="e2e-proc"]');
    await row.locator(".status", { hasText: agent.status }).first().waitFor();
    if (agent.status_reason) await row.getByText(agent.status_reason).waitFor();
    await screenshot(page, "agents-after-kill");
    await page.goto(`${t.url}/#/tasks/${task}`);
    await page.getByTestId("log").getByText(reason, { exact: true }).waitFor();
    // A failed task can be retried from here.
    await page.getByRole("button", { name: "Execute" }).waitFor();
    await screenshot(page, "task-failed");
    // The runtime saw the kill: the agent is in error, and says why.
    expect(agent.status).toBe("error");
    expect(agent.status_reason).toContain("SIGKILL");
  });

  test("Reset on an agent's row, Start / Pause on a mission, a parked dispatch approved from the Inbox", async () => {
    await page.goto(`${t.url}/#/agents`);
    const row = page.locator('tr[data-agent-id="e2e-proc"]');
    await row.locator(".status", { hasText: "error" }).first().waitFor();
    await row.getByRole("button", { name: "Reset" }).click();
    const reset = await waitFor(async () => {
      const a = await api("GET", "/api/agents/e2e-proc");
      return a.status === "error" ? null : a;
    });
    await row.locator("td .status", { hasText: new RegExp(`^${reset.status}$`) }).waitFor({ timeout: LIVE_MS });

    await page.goto(`${t.url}/#/missions/e2e-board`);
    await page.getByRole("button", { name: "Start" }).click();
    await page.locator(".mission-head .status", { hasText: "active" }).waitFor();
    expect((await api("GET", "/api/missions/e2e-board")).status).toBe("active");
    await page.getByRole("button", { name: "Pause" }).click();
    await page.locator(".mission-head .status", { hasText: "paused" }).waitFor();
    expect((await api("GET", "/api/missions/e2e-board")).status).toBe("paused");

    await api("POST", "/api/missions", { mission_id: "e2e-gated", goal: "Dispatches need a person" });
    await api("POST", "/api/missions/e2e-gated/agents", { agent_id: "e2e-coder" });
    await api("POST", "/api/missions/e2e-gated/start");
    await api("POST", "/api/policies", {
      policy_id: "e2e-approve-dispatch",
      scope: "mission:e2e-gated",
      conditions: { action_type: "dispatch" },
      actions: [{ require_approval: "a person approves every dispatch here" }],
    });
    const gated = await createTask("e2e-gated", "Deploy to staging", { agent_id: "e2e-coder" });
    const parked = await api("POST", `/api/tasks/${gated}/execute`, {});
    expect(parked.status).toBe("awaiting_approval");
    // Opened afresh (not from its Execute), the task page finds its parked dispatch and what the policy said.
    await page.goto(`${t.url}/#/tasks/${gated}`);
    await page.getByRole("heading", { name: "Deploy to staging", level: 1 }).waitFor();
    await page
      .getByText("A policy requires approval before this runs: a person approves every dispatch here")
      .waitFor();
    await page.getByRole("button", { name: "Approve dispatch" }).waitFor();
    await page.goto(`${t.url}/#/inbox`);
    const section = page.locator("section.panel", { hasText: "Dispatches waiting for approval" });
    await section.getByText("a person approves every dispatch here").waitFor();
    await screenshot(page, "inbox");
    await section.getByRole("button", { name: "Approve dispatch" }).click();
    await section.waitFor({ state: "detached" });
    // Approved from the Inbox, it runs: the (manual) agent is handed the task.
    await waitFor(async () => (await api("GET", `/api/dispatches/${parked.id}`)).status === "delivered");
    const approvedEntries = await api("GET", `/api/trace?task_id=${gated}&event=dispatch.policy_approved`);
    expect(approvedEntries.map((e: { data: { dispatch_id: number } }) => e.data.dispatch_id)).toEqual([parked.id]);
  });

  test("the Inbox: tasks to review, unblock or retry, an agent in error, a budget about to stop a mission", async () => {
    await api("POST", "/api/missions", { mission_id: "e2e-inbox", goal: "Everything waits on you", budget_usd: 1 });
    await api("POST", "/api/missions/e2e-inbox/agents", { agent_id: "e2e-coder" });
    await api("POST", "/api/missions/e2e-inbox/start");
    const review = await createTask("e2e-inbox", "Inbox: review me", { agent_id: "e2e-coder" });
    await toReview(review); // costs $0.42
    const blocked = await createTask("e2e-inbox", "Inbox: unblock me", { agent_id: "e2e-coder" });
    await api("PATCH", `/api/tasks/${blocked}`, { status: "blocked" });
    const failed = await createTask("e2e-inbox", "Inbox: retry me", { agent_id: "e2e-coder" });
    await api("PATCH", `/api/tasks/${failed}`, { status: "failed" });
    // Spend is the sum of the tasks' outputs.cost_usd: $0.42 + $0.43 = 85 % of the $1 budget.
    await api("POST", `/api/tasks/${failed}/report`, { outputs: { cost_usd: 0.43 } });
    expect((await api("GET", "/api/missions/e2e-inbox")).spent_usd).toBeCloseTo(0.85);
    // An agent in error says why; it registers by reporting.
    await api("POST", "/api/agents/e2e-broken/activity", { event: "error", context: { message: "disk full" } });
    const broken = await api("GET", "/api/agents/e2e-broken");
    expect(broken.status).toBe("error");

    await page.goto(`${t.url}/#/inbox`);
    const tasks = page.locator("section.panel", { has: page.getByRole("heading", { name: /^Tasks \(/ }) });
    const item = (text: string) => tasks.locator("li", { hasText: text });
    // Each with its status as the server says it and the action it needs.
    await item("Inbox: review me")
      .locator(".status", { hasText: /^pending_review$/ })
      .waitFor();
    await item("Inbox: review me").getByRole("link", { name: "Review", exact: true }).waitFor();
    await item("Inbox: unblock me")
      .locator(".status", { hasText: /^blocked$/ })
      .waitFor();
    await item("Inbox: unblock me").getByRole("button", { name: "Execute" }).waitFor();
    await item("Inbox: retry me")
      .locator(".status", { hasText: /^failed$/ })
      .waitFor();
    await item("Inbox: retry me").getByRole("button", { name: "Retry" }).waitFor();
    expect(await item("Inbox: retry me").getByRole("button", { name: "Approve" }).count()).toBe(0);

    const agents = page.locator("section.panel", { has: page.getByRole("heading", { name: /^Agents \(/ }) });
    const brokenRow = agents.locator("li", { hasText: "e2e-broken" });
    await brokenRow.locator(".status", { hasText: /^error$/ }).waitFor();
    if (broken.status_reason) await brokenRow.getByText(broken.status_reason).waitFor();

    const budgets = page.locator("section.panel", { has: page.getByRole("heading", { name: /^Budgets \(/ }) });
    const budgetRow = budgets.locator("li", { hasText: "Everything waits on you" });
    await budgetRow.getByText("$0.8500 / $1.00").waitFor();
    // Missions under 80 % of their budget, or without one, are not there.
    expect(await budgets.locator("li").count()).toBe(1);
    await screenshot(page, "inbox-all");

    // The actions, right there.
    await item("Inbox: review me").getByRole("button", { name: "Approve" }).click();
    await item("Inbox: review me").waitFor({ state: "detached" });
    expect((await api("GET", `/api/tasks/${review}`)).status).toBe("completed");
    await item("Inbox: retry me").getByRole("button", { name: "Retry" }).click();
    await item("Inbox: retry me").waitFor({ state: "detached" });
    expect((await api("GET", `/api/tasks/${failed}`)).status).not.toBe("failed");
    await brokenRow.getByRole("button", { name: "Reset" }).click();
    await brokenRow.waitFor({ state: "detached" });
    expect((await api("GET", "/api/agents/e2e-broken")).status).not.toBe("error");
    await budgetRow.getByRole("button", { name: "Pause" }).click();
    await budgetRow.waitFor({ state: "detached" });
    expect((await api("GET", "/api/missions/e2e-inbox")).status).toBe("paused");
    expect(browser.errors).toEqual([]);
  });

  test("a mission run from the console alone: create an agent and a mission, add the agent, create a task, start, execute, approve", async () => {
    await page.getByRole("link", { name: "Agents", exact: true }).click();
    await page.getByLabel("Agent key").fill("e2e-worker");
    await page.getByLabel("Adapter").selectOption("command");
    // Settings that are not JSON are refused in the page; settings the adapter refuses show the server's reason.
    await page.getByLabel("Settings (JSON)").fill("{not json");
    await page.getByRole("button", { name: "Create agent" }).click();
    await page.getByText("Settings must be a JSON object").waitFor();
    await page.getByLabel("Settings (JSON)").fill(JSON.stringify({ command: "echo hi" }));
    await page.getByRole("button", { name: "Create agent" }).click();
    await page.locator(".error", { hasText: "config.command: must be array" }).waitFor();
    // Chromium logs the refused request; nothing else went wrong.
    expect(browser.errors).toEqual([
      "console: Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)",
    ]);
    browser.errors.length = 0;
    expect((await t.json("GET", "/api/agents/e2e-worker")).status).toBe(404);
    await page
      .getByLabel("Settings (JSON)")
      .fill(JSON.stringify({ command: [process.execPath, path.join(fixtures, "report-and-exit.mjs")] }));
    await page.getByRole("button", { name: "Create agent" }).click();
    await page.locator('tr[data-agent-id="e2e-worker"]').waitFor();
    expect((await api("GET", "/api/agents/e2e-worker")).adapter_module).toBe("command");
    await page.getByRole("link", { name: "Missions", exact: true }).click();
    await page.getByLabel("Goal").fill("Launch the beta");
    await page.getByLabel("Key").fill("e2e-ui");
    await page.getByRole("button", { name: "Create mission" }).click();
    await page.getByRole("link", { name: "Launch the beta" }).click();
    await page.getByRole("heading", { name: "Launch the beta" }).waitFor();
    await page.getByLabel("Agent to add").selectOption("e2e-worker");
    await page.getByRole("button", { name: "Add agent" }).click();
    await page.getByLabel("Assign to").locator('option[value="e2e-worker"]').waitFor({ state: "attached" });
    await page.getByLabel("New task").fill("Write the release notes");
    await page.getByLabel("Assign to").selectOption("e2e-worker");
    await page.getByRole("button", { name: "Create task" }).click();
    await page.getByRole("link", { name: "Write the release notes" }).waitFor();
    await page.getByRole("button", { name: "Start" }).click();
    await page.locator(".mission-head .status", { hasText: "active" }).waitFor();
    await page.getByRole("link", { name: "Write the release notes" }).click();
    await page.getByRole("heading", { name: "Write the release notes", level: 1 }).waitFor();
    await page.getByRole("button", { name: "Execute" }).click();
    await page.locator(".facts > .status", { hasText: "pending_review" }).waitFor({ timeout: 20_000 });
    await page.getByTestId("log").getByText("Tests passing").waitFor();
    await page.getByRole("button", { name: "Approve" }).click();
    await page.locator(".facts > .status", { hasText: "completed" }).waitFor();
    const [task] = await api("GET", "/api/missions/e2e-ui/tasks");
    expect(task).toMatchObject({ objective: "Write the release notes", status: "completed", agent_id: "e2e-worker" });
  });

  test("a person can run a mission from start to approved merge without curl; a merge GitHub refuses shows why", async () => {
    // An agent that opens a pull request: it reports the pull request's URL and head with its run token.
    const pr = fake.addPull(REPO);
    const agentScript = path.join(tmp, "pr-agent.mjs");
    fs.writeFileSync(
      agentScript,
      `const res = await fetch(process.env.MC_API_URL + "/api/tasks/" + process.env.MC_TASK_ID + "/report", {
        method: "POST",
        headers: { authorization: "Bearer " + process.env.MC_AGENT_TOKEN, "content-type": "application/json" },
        body: JSON.stringify({ progress: { outputs: ${JSON.stringify({ pr_url: `${fake.url}/${REPO}/pull/${pr.number}`, head_sha: pr.head_sha })} } }),
      });
      process.exit(res.ok ? 0 : 5);\n`,
    );
    await api("POST", "/api/agents", {
      agent_id: "e2e-pr-agent",
      adapter_module: "command",
      config: { command: [process.execPath, agentScript] },
    });
    await api("POST", "/api/missions", { mission_id: "e2e-merge", goal: "Merge through GitHub" });
    await api("POST", "/api/missions/e2e-merge/agents", { agent_id: "e2e-pr-agent" });
    const task = await createTask("e2e-merge", "Open the login pull request", { agent_id: "e2e-pr-agent" });

    await page.goto(`${t.url}/#/missions/e2e-merge`);
    await page.getByRole("button", { name: "Start" }).click();
    await page.locator(".mission-head .status", { hasText: "active" }).waitFor();
    await page.getByRole("link", { name: "Open the login pull request" }).click();
    await page.getByRole("heading", { name: "Open the login pull request", level: 1 }).waitFor();
    await page.getByRole("button", { name: "Execute" }).click();
    await page.locator(".facts > .status", { hasText: "pending_review" }).waitFor({ timeout: 20_000 });
    await page.getByRole("link", { name: `${fake.url}/${REPO}/pull/${pr.number}` }).waitFor();
    expect(fake.repo(REPO).merges).toEqual([]);
    await page.getByRole("button", { name: "Approve" }).click();
    await page.locator(".facts > .status", { hasText: "completed" }).waitFor();
    // GitHub saw the merge, of the head the agent reported; the task is completed.
    expect(fake.repo(REPO).merges).toEqual([{ number: pr.number, body: { merge_method: "squash", sha: pr.head_sha } }]);
    expect(pr.merged).toBe(true);
    expect((await api("GET", `/api/tasks/${task}`)).status).toBe("completed");

    // A pull request GitHub will not merge: the approve is refused with GitHub's reason, on the page.
    const stuck = fake.addPull(REPO, { mergeable: false });
    const refused = await createTask("e2e-merge", "Merge a conflicted branch");
    await api("PATCH", `/api/tasks/${refused}`, { status: "in_progress" });
    await api("POST", `/api/tasks/${refused}/report`, {
      status: "pending_review",
      outputs: { pr_url: `${fake.url}/${REPO}/pull/${stuck.number}`, head_sha: stuck.head_sha },
    });
    await page.goto(`${t.url}/#/tasks/${refused}`);
    await page.getByRole("heading", { name: "Merge a conflicted branch", level: 1 }).waitFor();
    await page.getByRole("button", { name: "Approve" }).click();
    await page
      .getByRole("alert")
      .getByText(`GitHub refused to merge ${REPO}#${stuck.number} (405): Pull Request is not mergeable`)
      .waitFor();
    expect((await api("GET", `/api/tasks/${refused}`)).status).toBe("pending_review");
    expect(await page.locator(".facts > .status").first().textContent()).toBe("pending_review");
    expect(stuck.merged).toBe(false);
    // Chromium logs the refused request; nothing else went wrong.
    expect(browser.errors).toEqual([
      "console: Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)",
    ]);
    browser.errors.length = 0;
  });

  test("every screen renders without console errors", async () => {
    await api("POST", "/api/objectives", { objective_id: "e2e-okr", title: "Users can sign in" });
    await api("POST", "/api/objectives/e2e-okr/key_results", {
      kr_id: "e2e-kr",
      title: "Login works in all browsers",
      target: 10,
      current: 4,
    });
    await api("POST", "/api/requirements", {
      requirement_id: "e2e-req",
      title: "Password login",
      objective_id: "e2e-okr",
      priority: "p0",
    });
    await createTask("e2e-board", "Accept username and password", { requirement_ids: ["e2e-req"] });
    await api("POST", "/api/policies", {
      policy_id: "e2e-no-force-push",
      description: "No force pushes",
      conditions: { command: { $regex: "push --force" } },
      actions: [{ block: "force push" }],
    });
    await api("POST", "/api/policies/evaluate", { action: { command: "git push --force" } });
    await api("POST", "/api/knowledge/documents", {
      title: "Login design",
      // Markup in a document is its text: the console shows it as written and highlights only the matches.
      content: "Sessions use secure cookies; <b>passwords</b> & <i>tokens</i> are hashed with argon2id.",
    });

    const screens: Array<[string | null, string, () => Promise<unknown>]> = [
      [null, "#/inbox", () => page.getByRole("heading", { name: "Needs you" }).waitFor()],
      ["missions", "#/missions", () => page.getByRole("link", { name: "Ship the login page" }).waitFor()],
      ["trace", "#/trace", () => page.locator("table.trace").waitFor()],
      ["objectives", "#/objectives", () => page.getByText("Login works in all browsers").waitFor()],
      ["policies", "#/policies", () => page.getByText("e2e-no-force-push").first().waitFor()],
    ];
    for (const [name, hash, ready] of screens) {
      await page.goto(`${t.url}/${hash}`);
      await ready();
      if (name) await screenshot(page, name);
    }
    // Objectives: the traceability coverage as the server computes it.
    const { stats } = await api("GET", "/api/traceability");
    expect(stats.linked_tasks).toBeGreaterThan(0);
    await page.goto(`${t.url}/#/objectives`);
    await page
      .getByText(`${stats.task_coverage_pct}% (${stats.linked_tasks}/${stats.total_tasks} tasks serve a requirement)`)
      .waitFor();
    await page
      .getByText(`${stats.requirement_coverage_pct}% (${stats.linked_requirements}/${stats.total_requirements})`)
      .waitFor();
    // Policies: the decision the evaluation above made, with its action.
    await page.goto(`${t.url}/#/policies`);
    const decisions = page.locator("section.panel", { has: page.getByRole("heading", { name: "Recent decisions" }) });
    await decisions
      .locator("tr", { hasText: '{"command":"git push --force"}' })
      .locator("strong", { hasText: /^block$/ })
      .waitFor();

    await page.goto(`${t.url}/#/trace`);
    await page.getByRole("button", { name: "Verify chain" }).click();
    await page.getByText(/Chain intact: \d+ entries verified\./).waitFor();
    await page.getByLabel("Mission").fill("e2e-board");
    // The event filter offers exactly the names the API declares; picking one lists only those entries.
    const offered = await page.getByLabel("Event").locator("option").allTextContents();
    expect(offered).toContain("mission.created");
    expect(offered).not.toContain("agent.heartbeat");
    await page.getByLabel("Event").selectOption("mission.created");
    await page.getByRole("button", { name: "Filter" }).click();
    await expect
      .poll(async () => {
        const cells = await page.locator("table.trace tbody tr td:nth-child(3)").allTextContents();
        return cells.length > 0 && cells.every((c) => c === "mission.created");
      })
      .toBe(true);
    await page.getByRole("button", { name: "Replay mission" }).click();
    await page.getByText('"chain_valid": true').waitFor();

    await page.goto(`${t.url}/#/knowledge`);
    await page.getByLabel("Search").fill("password hashing");
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByText("Login design").waitFor();
    const hit = page.locator("ol.hits li", { hasText: "Login design" });
    expect(await hit.locator("mark").allTextContents()).toEqual(["passwords", "hashed"]);
    expect(await hit.locator("p").textContent()).toContain("passwords</b> & <i>tokens</i> are hashed");
    expect(await hit.locator("b, i, script, img").count()).toBe(0);
    await screenshot(page, "knowledge");

    await page.goto(`${t.url}/#/missions`);
    await page.getByRole("link", { name: "Ship the login page" }).waitFor();
    expect(browser.errors).toEqual([]);
  });

  test("one event stream per tab, the token in its Authorization header and in no URL", async () => {
    const urls: string[] = [];
    const streams: Array<import("playwright-core").Request> = [];
    const onRequest = (r: import("playwright-core").Request) => {
      urls.push(r.url());
      if (new URL(r.url()).pathname === "/api/events") streams.push(r);
    };
    page.on("request", onRequest);
    await page.reload();
    await page.locator(".live", { hasText: "Live" }).waitFor();
    for (const name of ["Inbox", "Missions", "Agents", "Trace", "Knowledge", "Objectives", "Policies", "Missions"]) {
      await page.getByRole("link", { name, exact: true }).click();
      await page.locator(`nav a[aria-current="page"]`, { hasText: name }).waitFor();
    }
    await page.getByRole("link", { name: "Ship the login page" }).click();
    await page.getByRole("heading", { name: "Ship the login page" }).waitFor();
    page.off("request", onRequest);
    expect(streams).toHaveLength(1);
    expect(streams[0]!.url()).toBe(`${t.url}/api/events`);
    expect((await streams[0]!.allHeaders()).authorization).toBe(`Bearer ${t.member}`);
    expect(urls.filter((u) => u.includes(t.member))).toEqual([]);
    expect(browser.errors).toEqual([]);
  });

  test("sign out forgets the token", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Token").waitFor();
    expect(await page.evaluate("sessionStorage.length")).toBe(0);
    await page.reload();
    await page.getByLabel("Token").waitFor();
  });
});
