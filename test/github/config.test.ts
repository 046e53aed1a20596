import { describe, expect, test } from "vitest";
import { loadConfig } from "../../src/config.js";
import { parseIssueRef, parsePullUrl } from "../../src/github/github.refs.js";
import { rateLimitResume, toGithubError } from "../../src/github/github.client.js";
import { verifySignature, signatureOf } from "../../src/github/github.webhook.js";
import { objectiveOf } from "../../src/github/github.service.js";

const base = { MC_DATA_DIR: "/tmp/mc-test-unused" };
const load = (env: Record<string, string>) => loadConfig({ ...base, ...env });

describe("GitHub configuration", () => {
  test("defaults: not configured, public API, squash, every 300 s, no comments", () => {
    expect(load({}).github).toEqual({
      token: null,
      repos: [],
      apiUrl: "https://api.github.com",
      webhookSecret: null,
      syncIntervalS: 300,
      mergeMethod: "squash",
      commentOnComplete: false,
    });
  });

  test("everything set; repositories lower-cased and deduplicated; the API URL without its trailing slash", () => {
    const c = load({
      GITHUB_TOKEN: "ghp_x",
      GITHUB_REPOS: " Octo/Hello, octo/hello ,octo/my.repo_2 ,",
      GITHUB_API_URL: "https://ghe.example.com/api/v3/",
      GITHUB_WEBHOOK_SECRET: "s3cret",
      GITHUB_SYNC_INTERVAL_S: "0",
      GITHUB_MERGE_METHOD: "Rebase",
      GITHUB_COMMENT_ON_COMPLETE: "yes",
    }).github;
    expect(c).toEqual({
      token: "ghp_x",
      repos: ["octo/hello", "octo/my.repo_2"],
      apiUrl: "https://ghe.example.com/api/v3",
      webhookSecret: "s3cret",
      syncIntervalS: 0,
      mergeMethod: "rebase",
      commentOnComplete: true,
    });
  });

  test.each([
    [{ GITHUB_REPOS: "octo/hello" }, "Invalid configuration: GITHUB_TOKEN must be set when GITHUB_REPOS is set"],
    [
      { GITHUB_TOKEN: "t", GITHUB_REPOS: "octo" },
      'Invalid configuration: GITHUB_REPOS must be a comma-separated list of owner/name (got "octo")',
    ],
    [
      { GITHUB_TOKEN: "t", GITHUB_REPOS: "octo/hello/x" },
      'Invalid configuration: GITHUB_REPOS must be a comma-separated list of owner/name (got "octo/hello/x")',
    ],
    [
      { GITHUB_TOKEN: "t", GITHUB_REPOS: "octo/.." },
      'Invalid configuration: GITHUB_REPOS must be a comma-separated list of owner/name (got "octo/..")',
    ],
    [{ GITHUB_TOKEN: "a b" }, "Invalid configuration: GITHUB_TOKEN must not contain whitespace"],
    [
      { GITHUB_API_URL: "api.github.com" },
      'Invalid configuration: GITHUB_API_URL must be an absolute http:// or https:// URL (got "api.github.com")',
    ],
    [
      { GITHUB_API_URL: "ftp://x" },
      'Invalid configuration: GITHUB_API_URL must be an absolute http:// or https:// URL (got "ftp://x")',
    ],
    [
      { GITHUB_API_URL: "https://u:p@ghe.example.com" },
      "Invalid configuration: GITHUB_API_URL must not carry credentials; use GITHUB_TOKEN",
    ],
    [
      { GITHUB_API_URL: "https://ghe.example.com/api?x=1" },
      "Invalid configuration: GITHUB_API_URL must not have a query or fragment",
    ],
    [
      { GITHUB_SYNC_INTERVAL_S: "-1" },
      'Invalid configuration: GITHUB_SYNC_INTERVAL_S must be an integer from 0 to 604800 (got "-1")',
    ],
    [
      { GITHUB_SYNC_INTERVAL_S: "5m" },
      'Invalid configuration: GITHUB_SYNC_INTERVAL_S must be an integer from 0 to 604800 (got "5m")',
    ],
    [
      { GITHUB_MERGE_METHOD: "fast-forward" },
      'Invalid configuration: GITHUB_MERGE_METHOD must be one of merge, squash, rebase (got "fast-forward")',
    ],
    [
      { GITHUB_COMMENT_ON_COMPLETE: "sometimes" },
      'Invalid configuration: GITHUB_COMMENT_ON_COMPLETE must be true or false (got "sometimes")',
    ],
  ] as Array<[Record<string, string>, string]>)("%j fails fast with one line naming the variable", (env, message) => {
    expect(() => load(env)).toThrow(message);
  });

  test("a bad token is never echoed", () => {
    try {
      load({ GITHUB_TOKEN: "ghp_secret value" });
      expect.unreachable();
    } catch (err) {
      expect(String(err)).not.toContain("ghp_secret");
    }
  });
});

describe("references", () => {
  test.each([
    ["12", { id: 12 }],
    ["octo/hello#7", { repo: "octo/hello", number: 7 }],
    ["Octo/Hello.js#7", { repo: "octo/hello.js", number: 7 }],
    ["octo/hello#0", null],
    ["octo/hello#", null],
    ["octo/hello", null],
    ["octo#7", null],
    ["0", null],
    ["99999999999", null],
    ["-octo/hello#7", null],
  ])("issue ref %s", (raw, expected) => {
    expect(parseIssueRef(raw)).toEqual(expected);
  });

  test.each([
    ["https://github.com/Octo/Hello/pull/42", { repo: "octo/hello", owner: "Octo", name: "Hello", number: 42 }],
    [
      "https://ghe.example.com/octo/hello/pull/42/files?w=1#diff",
      { repo: "octo/hello", owner: "octo", name: "hello", number: 42 },
    ],
    ["http://127.0.0.1:9/octo/hello/pull/1", { repo: "octo/hello", owner: "octo", name: "hello", number: 1 }],
  ])("pull URL %s", (raw, expected) => {
    expect(parsePullUrl(raw)).toEqual({ ...expected, url: raw });
  });

  test.each([
    "https://github.com/octo/hello/issues/42",
    "https://github.com/octo/hello/pull/0",
    "https://github.com/octo/hello/pull/abc",
    "https://github.com/octo/pull/42",
    "https://github.com/x/octo/hello/pull/42",
    "ftp://github.com/octo/hello/pull/42",
    "github.com/octo/hello/pull/42",
    "",
  ])("not a pull URL: %s", (raw) => {
    expect(parsePullUrl(raw)).toBeNull();
  });
  test("non-strings are not pull URLs", () => {
    for (const v of [null, undefined, 42, { url: "https://github.com/o/r/pull/1" }]) expect(parsePullUrl(v)).toBeNull();
  });

  test("objective: title, blank line, body; a blank body is left out", () => {
    expect(objectiveOf("T", "B\n")).toBe("T\n\nB");
    expect(objectiveOf("T", "  ")).toBe("T");
    expect(objectiveOf("T", null)).toBe("T");
  });
});

describe("signatures", () => {
  const raw = Buffer.from('{"zen":"Practicality beats purity."}');
  test("verifies sha256=<hex> of the exact bytes under the secret", () => {
    const sig = signatureOf("k", raw);
    expect(sig).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifySignature("k", raw, sig)).toBe(true);
    expect(verifySignature("k", raw, sig.toUpperCase().replace("SHA256=", "sha256="))).toBe(true);
    expect(verifySignature("other", raw, sig)).toBe(false);
    expect(verifySignature("k", Buffer.concat([raw, Buffer.from(" ")]), sig)).toBe(false);
    expect(verifySignature(null, raw, sig)).toBe(false);
    for (const bad of [undefined, 42, "", "sha256=", sig.slice(0, -1), `${sig}00`, ["x"]])
      expect(verifySignature("k", raw, bad)).toBe(false);
  });
});

describe("rate limits and errors", () => {
  const now = 1_800_000_000_000;
  test("retry-after, reset, and the secondary-limit minute", () => {
    expect(rateLimitResume(429, { "retry-after": "30" }, now)).toEqual(new Date(now + 30_000));
    expect(rateLimitResume(403, { "retry-after": "5" }, now)).toEqual(new Date(now + 5_000));
    expect(
      rateLimitResume(403, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(now / 1000 + 100) }, now),
    ).toEqual(new Date(now + 101_000));
    expect(rateLimitResume(429, {}, now)).toEqual(new Date(now + 60_000));
    expect(rateLimitResume(403, { "x-ratelimit-remaining": "12" }, now)).toBeNull();
    expect(rateLimitResume(404, { "retry-after": "5" }, now)).toBeNull();
  });

  test("kinds", () => {
    const http = (status: number, data: unknown = {}, headers = {}) => ({
      status,
      name: "HttpError",
      response: { status, data, headers },
    });
    expect(toGithubError(http(401, { message: "Bad credentials" }))).toMatchObject({
      kind: "unauthorized",
      status: 401,
      reason: "Bad credentials",
    });
    expect(toGithubError(http(403, { message: "Resource not accessible" }))).toMatchObject({ kind: "unauthorized" });
    expect(toGithubError(http(403, {}, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1" }))).toMatchObject({
      kind: "rate_limited",
    });
    expect(toGithubError(http(405, { message: "Pull Request is not mergeable" }))).toMatchObject({
      kind: "refused",
      reason: "Pull Request is not mergeable",
    });
    expect(toGithubError(http(502, "<html>"))).toMatchObject({ kind: "upstream", reason: "HTTP 502" });
    expect(
      toGithubError({ status: 500, name: "HttpError", message: "connect ECONNREFUSED 127.0.0.1:1" }),
    ).toMatchObject({
      kind: "unreachable",
      status: null,
      reason: "connect ECONNREFUSED 127.0.0.1:1",
    });
    expect(toGithubError(Object.assign(new Error("x"), { name: "AbortError" }))).toMatchObject({ kind: "aborted" });
  });
});
