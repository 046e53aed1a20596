// Heartbeats are never stored in the trace, but a live-stream client sees them as `agent.heartbeat`.
import { afterAll, beforeAll, expect, test } from "vitest";
import { createTestContext, type TestContext } from "../harness.js";

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext({}, { listen: true });
});
afterAll(async () => {
  await t.close();
});

test("a heartbeat reaches GET /api/events as agent.heartbeat and is not in the trace", async () => {
  await t.json("POST", "/api/agents/hb-stream-agent/activity", { body: { event: "session_start" } });
  const controller = new AbortController();
  const res = await fetch(`${t.url}/api/events?agent_id=hb-stream-agent`, {
    headers: { authorization: `Bearer ${t.admin}` },
    signal: controller.signal,
  });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const beat = setInterval(
    () => void t.json("POST", "/api/agents/hb-stream-agent/activity", { body: { event: "heartbeat" } }),
    200,
  );
  try {
    const deadline = Date.now() + 10_000;
    while (!text.includes("agent.heartbeat") && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
  } finally {
    clearInterval(beat);
    controller.abort();
  }
  expect(text).toContain('"event":"agent.heartbeat"');
  expect(text).toContain('"agent_id":"hb-stream-agent"');
  const trace = await t.json("GET", "/api/trace", { query: { agent_id: "hb-stream-agent" } });
  expect(trace.body.data.map((e: any) => e.data?.event)).not.toContain("heartbeat");
});
