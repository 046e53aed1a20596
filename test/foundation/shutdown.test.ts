// Closing the server always ends: requests in flight get the grace period, then their connections are cut.
// A client that stalls halfway through a request (slowloris, a vanished peer) must not hold a shutdown forever.
import net from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import { createTestContext, type TestContext } from "../harness.js";

let t: TestContext | null = null;
afterEach(async () => {
  await t?.db.drop();
  t = null;
});

/** A raw connection that sends `head` and then nothing; resolves `closed` when the server hangs up. */
function stall(url: string, head: string) {
  const socket = net.connect(Number(new URL(url).port), "127.0.0.1");
  let received = "";
  socket.on("data", (d) => (received += d));
  socket.on("error", () => {});
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  const connected = new Promise<void>((resolve) => socket.on("connect", () => resolve()));
  return { socket, closed, connected: connected.then(() => void socket.write(head)), received: () => received };
}

describe("a close with a request that never completes", () => {
  const auth = () => `Authorization: Bearer ${t!.admin}\r\n`;
  test.each([
    [
      "the body stops halfway",
      () =>
        `POST /api/missions HTTP/1.1\r\nHost: x\r\n${auth()}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"goal":`,
    ],
    ["the headers never end", () => `GET /api/missions HTTP/1.1\r\nHost: x\r\n${auth()}X-Slow: `],
  ])("%s: the close ends after the grace period, cuts the connection, and nothing was written", async (_n, head) => {
    t = await createTestContext({}, { listen: true, shutdownGraceMs: 300 });
    const client = stall(t.url!, head());
    await client.connected;
    // The server has the connection (and, for the body case, the request) before the close begins.
    await new Promise((r) => setTimeout(r, 200));
    const before = await t.database.query<{ n: number }>("select count(*)::int as n from missions");
    await t.app.close();
    await client.closed;
    // Cut, not answered: no response was half-sent.
    expect(client.received()).toBe("");
    const after = await t.database.query<{ n: number }>("select count(*)::int as n from missions");
    expect(after).toEqual(before);
  });

  test("a request that finishes within the grace period is answered, and its connection closed", async () => {
    t = await createTestContext({}, { listen: true, shutdownGraceMs: 60_000 });
    const body = JSON.stringify({ goal: "finished during the close" });
    const head = `POST /api/missions HTTP/1.1\r\nHost: x\r\n${auth()}Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const client = stall(t.url!, head + body.slice(0, 5));
    await client.connected;
    await new Promise((r) => setTimeout(r, 200));
    const closing = t.app.close();
    await new Promise((r) => setTimeout(r, 200));
    client.socket.write(body.slice(5));
    await client.closed;
    await closing;
    expect(client.received()).toMatch(/^HTTP\/1\.1 201 /);
    expect(client.received()).toMatch(/\r\nconnection: close\r\n/i);
    const rows = await t.database.query<{ goal: string }>("select goal from missions");
    expect(rows).toEqual([{ goal: "finished during the close" }]);
  });
});
