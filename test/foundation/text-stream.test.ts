// textStream: a body sent while it is produced (the traceability matrix's answer). What it promises the route:
// the text arrives whole and in order, the first chunks leave before the producer is done, a failure before the
// first piece is an ordinary error, and one after it ends the body with an error instead of a complete-looking one.
import type { Readable } from "node:stream";
import { describe, expect, test } from "vitest";
import { textStream } from "../../src/http/text-stream.js";

async function readAll(body: Readable): Promise<string> {
  let out = "";
  for await (const chunk of body) out += String(chunk);
  return out;
}

/** A promise and its resolve, to hold a producer at a point the test chooses. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe("textStream", () => {
  test("prefix, pieces in order, suffix", async () => {
    const pieces = Array.from({ length: 3000 }, (_, i) => `{"n":${i},"pad":"${"é".repeat(i % 50)}"},`);
    const body = await textStream(
      async (write) => {
        for (const p of pieces) write(p);
      },
      { prefix: "[", suffix: "null]" },
    );
    const text = await readAll(body);
    expect(text).toBe(`[${pieces.join("")}null]`);
    expect(JSON.parse(text)).toHaveLength(3001);
  });

  test("the first chunk can be read while the producer is still working", async () => {
    const held = gate();
    let finished = false;
    const body = await textStream(async (write) => {
      write("a".repeat(100_000));
      await held.opened;
      write("b");
      finished = true;
    });
    const reader = body[Symbol.asyncIterator]();
    const first = await reader.next();
    expect(String(first.value)).toMatch(/^a+$/);
    expect(finished).toBe(false);
    held.open();
    let rest = String(first.value);
    for (let r = await reader.next(); !r.done; r = await reader.next()) rest += String(r.value);
    expect(rest).toBe(`${"a".repeat(100_000)}b`);
    expect(finished).toBe(true);
  });

  test("nothing written: the body is the prefix and suffix", async () => {
    const body = await textStream(async () => {}, { prefix: "{", suffix: "}" });
    expect(await readAll(body)).toBe("{}");
  });

  test("a failure before the first piece rejects, so the route answers it as an error", async () => {
    const err = new Error("read failed");
    await expect(
      textStream(
        async () => {
          throw err;
        },
        { prefix: "{" },
      ),
    ).rejects.toBe(err);
  });

  test("a failure after the first piece ends the body with that error, never with the suffix", async () => {
    const err = new Error("connection lost");
    const held = gate();
    const body = await textStream(
      async (write) => {
        write("x".repeat(70_000));
        await held.opened;
        throw err;
      },
      { prefix: "[", suffix: "]" },
    );
    let got = "";
    const read = (async () => {
      for await (const c of body) got += String(c);
    })();
    held.open();
    await expect(read).rejects.toBe(err);
    expect(got.endsWith("]")).toBe(false);
  });
});
