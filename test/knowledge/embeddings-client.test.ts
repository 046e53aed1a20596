import net from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createEmbeddingsClient, EmbeddingsError } from "../../src/knowledge/knowledge.embeddings.js";
import { fakeVector, startFakeEmbeddings, type FakeEmbeddings } from "../fixtures/fake-embeddings.js";

let fake: FakeEmbeddings;
beforeAll(async () => {
  fake = await startFakeEmbeddings();
});
afterAll(async () => {
  await fake.close();
});

const cfg = () => ({ url: `${fake.url}/v1/embeddings`, model: "fake-embed-12", apiKey: "sk-k" });

/** A client whose endpoint answers `body` with `status`, for the malformed answers no real server should give. */
function answering(status: number, body: unknown) {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return createEmbeddingsClient(
    cfg(),
    async () => new Response(text, { status, headers: { "content-type": "application/json" } }),
  );
}

async function failure(p: Promise<unknown>): Promise<EmbeddingsError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(EmbeddingsError);
    return e as EmbeddingsError;
  }
  throw new Error("expected a failure");
}

describe("embeddings client", () => {
  test("one vector per input, in input order even when the answer is not, with the key as bearer token", async () => {
    fake.mode = "ok";
    const v = await createEmbeddingsClient(cfg()).embed(["first text", "second text", "third"]);
    expect(v).toEqual([fakeVector("first text", 12), fakeVector("second text", 12), fakeVector("third", 12)]);
    expect(fake.requests.at(-1)).toEqual({
      model: "fake-embed-12",
      input: ["first text", "second text", "third"],
      authorization: "Bearer sk-k",
    });
  });

  test("no key, no Authorization header", async () => {
    await createEmbeddingsClient({ ...cfg(), apiKey: null }).embed(["x"]);
    expect(fake.requests.at(-1)!.authorization).toBeUndefined();
  });

  const vec = (n: number, x = 0.5) => Array.from({ length: n }, () => x);
  const malformed: Array<[string, unknown, string]> = [
    ["too few items", { data: [{ index: 0, embedding: vec(3) }] }, 'embeddings response must have 2 item(s) in "data"'],
    ["no data", { object: "list" }, 'embeddings response must have 2 item(s) in "data"'],
    [
      "a non-number",
      {
        data: [
          { index: 0, embedding: [1, "2"] },
          { index: 1, embedding: vec(2) },
        ],
      },
      "embeddings response item 0 is not a vector of 1 to 16000 finite numbers",
    ],
    [
      "an empty vector",
      {
        data: [
          { index: 0, embedding: [] },
          { index: 1, embedding: vec(2) },
        ],
      },
      "embeddings response item 0 is not a vector of 1 to 16000 finite numbers",
    ],
    [
      "a zero vector",
      {
        data: [
          { index: 0, embedding: vec(2) },
          { index: 1, embedding: vec(2, 0) },
        ],
      },
      "embeddings response item 1 is a zero vector",
    ],
    [
      "mixed dimensions",
      {
        data: [
          { index: 0, embedding: vec(2) },
          { index: 1, embedding: vec(3) },
        ],
      },
      "embeddings response mixes vector dimensions",
    ],
    [
      "a repeated index",
      {
        data: [
          { index: 1, embedding: vec(2) },
          { index: 1, embedding: vec(2) },
        ],
      },
      "embeddings response repeats index 1",
    ],
    ["invalid JSON", "{nope", "embeddings endpoint answered with invalid JSON"],
  ];
  test.each(malformed)("%s → EmbeddingsError", async (_name, body, message) => {
    const e = await failure(answering(200, body).embed(["a", "b"]));
    expect(e.message).toBe(message);
  });

  test.each([
    [400, true],
    [413, true],
    [422, true],
    [401, false],
    [404, false],
    [408, false],
    [429, false],
    [500, false],
    [503, false],
  ])("HTTP %i → failure; rejected (the input's fault: retry items one by one): %s", async (status, rejected) => {
    const e = await failure(answering(status, { error: "x" }).embed(["a"]));
    expect(e.message).toBe(`embeddings endpoint answered ${status}`);
    expect(e.status).toBe(status);
    expect(e.rejected).toBe(rejected);
  });

  test("a hanging endpoint times out; a closed port is refused", async () => {
    fake.mode = "hang";
    const e = await failure(createEmbeddingsClient(cfg()).embed(["x"], { timeoutMs: 200 }));
    expect(e.message).toBe("embeddings request timed out");
    fake.mode = "ok";
    // A port that was just free: nothing listens there.
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", () => resolve()));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const r = await failure(
      createEmbeddingsClient({ ...cfg(), url: `http://127.0.0.1:${port}/v1/embeddings` }).embed(["x"]),
    );
    expect(r.message).toBe("embeddings request failed (ECONNREFUSED)");
    expect(r.status).toBeNull();
    expect(r.rejected).toBe(false);
  });

  test("no inputs, no request", async () => {
    const before = fake.requests.length;
    expect(await createEmbeddingsClient(cfg()).embed([])).toEqual([]);
    expect(fake.requests.length).toBe(before);
  });
});
