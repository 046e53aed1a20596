// The console's pure pieces, without a browser: the SSE parser its one stream uses, and the log merge
// that keeps a task's lines free of duplicates however they arrive.
import { describe, expect, test } from "vitest";
import { SseParser } from "../../web/src/sse.js";
import { mergeLogs } from "../../web/src/logs.js";

describe("SseParser", () => {
  test("messages with ids, without ids, comments and retry, split anywhere", () => {
    const text =
      'retry: 2000\n\n: keep-alive\n\nid: 7\ndata: {"a":1}\n\ndata: {"event":"agent.heartbeat"}\n\nid: 8\ndata: x\ndata: y\n\n';
    for (let cut = 0; cut <= text.length; cut++) {
      const p = new SseParser();
      const got = [...p.push(text.slice(0, cut)), ...p.push(text.slice(cut))];
      expect(got).toEqual([
        { id: "7", data: '{"a":1}' },
        { id: null, data: '{"event":"agent.heartbeat"}' },
        { id: "8", data: "x\ny" },
      ]);
      expect(p.retryMs).toBe(2000);
    }
  });

  test("CRLF and CR line ends; a field without a colon; an incomplete message waits", () => {
    const p = new SseParser();
    expect(p.push("id: 1\r\ndata: a\r\n\r\nid: 2\rdata: b\r\r")).toEqual([
      { id: "1", data: "a" },
      { id: "2", data: "b" },
    ]);
    expect(p.push("data\n\n")).toEqual([{ id: null, data: "" }]);
    expect(p.push("id: 3\ndata: c\n")).toEqual([]);
    expect(p.push("\n")).toEqual([{ id: "3", data: "c" }]);
  });
});

describe("mergeLogs", () => {
  const l = (message: string, s: number) => ({
    message,
    timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString(),
  });

  test("appends only lines not seen, in arrival order", () => {
    const a = [l("one", 1), l("two", 2)];
    expect(mergeLogs(a, [l("two", 2), l("three", 3)])).toEqual([l("one", 1), l("two", 2), l("three", 3)]);
    expect(mergeLogs(a, [l("one", 1)])).toBe(a);
    expect(mergeLogs([], [l("x", 1), l("x", 1)])).toEqual([l("x", 1)]);
  });

  test("a re-read of the latest lines after a reconnect adds just the gap", () => {
    const all = Array.from({ length: 1000 }, (_, i) => l(`line ${i}`, i));
    const latest100 = Array.from({ length: 100 }, (_, i) => l(`line ${i + 950}`, i + 950));
    const merged = mergeLogs(all, latest100);
    expect(merged).toHaveLength(1050);
    expect(merged.at(-1)!.message).toBe("line 1049");
  });

  test("text is kept as it came (the view renders it as text)", () => {
    const evil = l('<img src=x onerror="alert(1)">', 1);
    expect(mergeLogs([], [evil])[0]!.message).toBe('<img src=x onerror="alert(1)">');
  });
});
