// textStream: a body sent while it is produced (the traceability matrix's answer). What it promises the route:
// the text arrives whole and in order, the first chunks leave before the producer is done, a failure before the
// first piece is an ordinary error, and one after it ends the body with an error instead of a complete-looking one.
import type { Readable } from "node:stream";
import Fastify from "fastify";
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
        for (const p of pieces) await write(p);
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
      await write("a".repeat(100_000));
      await held.opened;
      await write("b");
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
        await write("x".repeat(70_000));
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

  test("a producer that only awaits its writes lets the event loop run between chunks", async () => {
    let turns = 0;
    let producing = true;
    const spin = () => {
      turns++;
      if (producing) setImmediate(spin);
    };
    setImmediate(spin);
    let turnsWhileProducing = 0;
    const body = await textStream(async (write) => {
      for (let i = 0; i < 40; i++) await write("y".repeat(64 * 1024));
      turnsWhileProducing = turns;
      producing = false;
    });
    expect((await readAll(body)).length).toBe(40 * 64 * 1024);
    // Without a turn of the loop per chunk, the whole body would be built before the first spin.
    expect(turnsWhileProducing).toBeGreaterThanOrEqual(39);
  });

  test("once the body is closed (the client went away), the next write throws and the producer stops", async () => {
    let writesAfterClose = 0;
    let stoppedWith: unknown;
    const finished = gate();
    const body = await textStream(async (write) => {
      try {
        await write("z".repeat(70_000));
        body.destroy();
        for (let i = 0; i < 10; i++) {
          await write("z".repeat(70_000));
          writesAfterClose++;
        }
      } catch (err) {
        stoppedWith = err;
        throw err;
      } finally {
        finished.open();
      }
    });
    await finished.opened;
    expect(writesAfterClose).toBe(0);
    expect((stoppedWith as Error).message).toBe("the body was closed before it was complete");
  });
});

describe("textStream as a Fastify reply over HTTP", () => {
  async function serve(produce: Parameters<typeof textStream>[0]) {
    const app = Fastify();
    app.get("/", async (_req, reply) => {
      const body = await textStream(produce, { prefix: "[", suffix: "]" });
      return reply.type("application/json").send(body);
    });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const addr = app.server.address();
    return { app, url: `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}/` };
  }

  test("whole: chunked, every piece in order", async () => {
    const { app, url } = await serve(async (write) => {
      for (let i = 0; i < 5000; i++) await write(`${i === 0 ? "" : ","}"${"é".repeat(i % 40)}${i}"`);
    });
    try {
      const r = await fetch(url);
      expect(r.status).toBe(200);
      expect(r.headers.get("transfer-encoding")).toBe("chunked");
      const list = (await r.json()) as string[];
      expect(list).toHaveLength(5000);
      expect(list[4999]).toBe(`${"é".repeat(4999 % 40)}4999`);
    } finally {
      await app.close();
    }
  });

  test("a failure before the first piece is an error answer; after it, the body is cut off and the server goes on", async () => {
    let fail: "before" | "after" = "before";
    const { app, url } = await serve(async (write) => {
      if (fail === "before") throw new Error("no data");
      await write(`"${"w".repeat(200_000)}"`);
      await write(`,"${"w".repeat(200_000)}"`);
      throw new Error("lost the database");
    });
    try {
      const before = await fetch(url);
      expect(before.status).toBe(500);
      expect(await before.json()).toMatchObject({ statusCode: 500 });
      fail = "after";
      const after = await fetch(url);
      expect(after.status).toBe(200);
      await expect(after.text()).rejects.toThrow();
      fail = "before";
      expect((await fetch(url)).status).toBe(500);
    } finally {
      await app.close();
    }
  });
});
