// `mc events` survives a dropped connection: it reconnects with Last-Event-ID and prints what happened while
// it was away, once. The drop is real: a TCP proxy between mc and the server cuts every connection and
// refuses new ones for a while.
import net from "node:net";
import { afterAll, beforeAll, expect, test, vi } from "vitest";
import { createTestContext, waitFor, type TestContext } from "../harness.js";
import { createMission, createTask } from "../tasks/helpers.js";
import { baseEnv, follow, scratchHome } from "./helpers.js";

vi.setConfig({ testTimeout: 180_000 });

let t: TestContext;
let proxy: net.Server;
let proxyUrl: string;
let refusing = false;
const open = new Set<net.Socket>();

beforeAll(async () => {
  t = await createTestContext({}, { listen: true });
  const upstream = new URL(t.url!);
  proxy = net.createServer((client) => {
    if (refusing) return client.destroy();
    const server = net.connect(Number(upstream.port), upstream.hostname);
    open.add(client).add(server);
    const close = () => {
      client.destroy();
      server.destroy();
      open.delete(client);
      open.delete(server);
    };
    client.pipe(server).pipe(client);
    client.on("error", close).on("close", close);
    server.on("error", close).on("close", close);
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
});

afterAll(async () => {
  for (const s of open) s.destroy();
  await new Promise((r) => proxy?.close(r));
  await t?.close();
});

test("mc events resumes after a drop with Last-Event-ID: what happened meanwhile arrives, once", async () => {
  const mission = (await createMission(t)).mission_id;
  const f = follow(
    ["events", "--mission", mission, "--json"],
    baseEnv(scratchHome(), { MC_URL: proxyUrl, MC_TOKEN: t.admin }),
  );
  const created = () =>
    f.lines
      .map((l) => JSON.parse(l))
      .filter((e) => e.event === "task.created")
      .map((e) => e.task_id as string);
  // Tasks are created until one shows: then the stream is live.
  const tried: string[] = [];
  const before = await waitFor(
    async () => {
      const seen = created().find((k) => tried.includes(k));
      if (seen) return seen;
      tried.push((await createTask(t, mission, { objective: "before" })).task_id);
      return null;
    },
    60_000,
    "the stream to be live",
  );

  refusing = true;
  for (const s of open) s.destroy();
  const during = await createTask(t, mission, { objective: "while disconnected" });
  await new Promise((r) => setTimeout(r, 1_000));
  refusing = false;

  await waitFor(() => created().includes(during.task_id), 60_000, "the missed event after the reconnect");
  const after = await createTask(t, mission, { objective: "after" });
  await waitFor(() => created().includes(after.task_id), 60_000, "live events after the reconnect");
  f.child.kill("SIGINT");
  expect(await f.exited).toBe(0);

  const ids = f.lines
    .map((l) => JSON.parse(l))
    .filter((e) => typeof e.id === "number")
    .map((e) => e.id as number);
  expect(new Set(ids).size).toBe(ids.length);
  expect([...ids].sort((a, b) => a - b)).toEqual(ids);
  expect(created().filter((k) => k === before)).toHaveLength(1);
  expect(f.stderr()).toMatch(/stream dropped .*reconnecting/);
});
