// Closing the server always ends: requests in flight get the grace period, then their connections are cut.
// A client that stalls halfway through a request (slowloris, a vanished peer) must not hold a shutdown forever.
import { afterEach, describe, expect, test } from "vitest";
import { createTestContext, type TestContext } from "../harness.js";
import { jsonRequestHead, rawConnection } from "../fixtures/raw-http.js";

let t: TestContext | null = null;
afterEach(async () => {
  await t?.db.drop();
  t = null;
});

describe("a close with a request that never completes", () => {
  const GRACE_MS = 500;
  test.each([
    [
      "the body stops halfway",
      () => `${jsonRequestHead(t!.url!, "POST", "/api/missions", t!.admin, 100)}{"goal":`,
      true,
    ],
    [
      "the headers never end",
      () => `GET /api/missions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t!.admin}\r\nX-Slow: `,
      false,
    ],
  ])("%s: the close waits the grace period, then cuts the connection", async (_n, head, routed) => {
    t = await createTestContext({}, { listen: true, shutdownGraceMs: GRACE_MS });
    const server = t.app.server;
    const request = new Promise<void>((resolve) => server.once("request", () => resolve()));
    const connection = new Promise<void>((resolve) => server.once("connection", () => resolve()));
    const client = rawConnection(t.url!, head());
    await client.connected;
    await connection;
    // The request is under way before the close begins: routed when its headers are complete, else its first
    // bytes read (same process, so one turn of the event loop after they were written).
    if (routed) await request;
    else await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    await t.app.close();
    await client.closed;
    // Waited for the request (an idle connection would have been closed at once), then cut it unanswered.
    expect(Date.now() - started).toBeGreaterThanOrEqual(GRACE_MS - 5);
    expect(client.received()).toBe("");
  });

  test("a request that finishes within the grace period is answered, and its connection closed", async () => {
    t = await createTestContext({}, { listen: true, shutdownGraceMs: 60_000 });
    const server = t.app.server;
    const request = new Promise<void>((resolve) => server.once("request", () => resolve()));
    const body = JSON.stringify({ goal: "finished during the close" });
    const head = jsonRequestHead(t.url!, "POST", "/api/missions", t.admin, body.length);
    const client = rawConnection(t.url!, head + body.slice(0, 5));
    await client.connected;
    await request;
    const closing = t.app.close();
    // The close has begun (the server no longer listens) before the rest of the body arrives.
    while (server.listening) await new Promise((r) => setTimeout(r, 5));
    client.socket.write(body.slice(5));
    await client.closed;
    await closing;
    expect(client.received()).toMatch(/^HTTP\/1\.1 201 /);
    expect(client.received()).toMatch(/\r\nconnection: close\r\n/i);
    const rows = await t.database.query<{ goal: string }>("select goal from missions");
    expect(rows).toEqual([{ goal: "finished during the close" }]);
  });
});
