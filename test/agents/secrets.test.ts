// Redaction of agent configs at every depth (arrays, nested objects, objects under secret keys), as pure
// functions: the route tests use configs valid for their adapter, which today hold secrets only at the top
// level (webhook `secret`) and under `env`; these shapes keep the deeper cases covered.
import { describe, expect, test } from "vitest";
import { REDACTED, redactConfig, restoreRedacted } from "../../src/agents/agents.secrets.js";

const DEEP = {
  model: "opus",
  api_key: "sk-live-111",
  Token: "tok-222",
  nested: { db_password: "pw-333", retries: 3, deeper: [{ client_secret: "cs-444", region: "eu" }] },
  headers: [{ name: "x", AUTH_TOKEN: "tok-555" }],
  keyring: { whatever: "kr-666" },
};
const DEEP_REDACTED = {
  model: "opus",
  api_key: REDACTED,
  Token: REDACTED,
  nested: { db_password: REDACTED, retries: 3, deeper: [{ client_secret: REDACTED, region: "eu" }] },
  headers: [{ name: "x", AUTH_TOKEN: REDACTED }],
  keyring: REDACTED,
};

describe("redactConfig", () => {
  test.each([
    ["every depth", DEEP, DEEP_REDACTED],
    ["nothing secret", { command: ["a"], env: { REGION: "eu" } }, { command: ["a"], env: { REGION: "eu" } }],
    [
      "any value type under a secret key",
      { password: 1, secret: null, tokens: [1, 2] },
      { password: REDACTED, secret: REDACTED, tokens: REDACTED },
    ],
    ["empty", {}, {}],
  ])("%s", (_name, config, expected) => {
    expect(redactConfig(config)).toEqual(expected);
    for (const v of ["sk-live-111", "tok-222", "pw-333", "cs-444", "tok-555", "kr-666"])
      expect(JSON.stringify(redactConfig(config))).not.toContain(v);
  });
});

describe("restoreRedacted", () => {
  test("a redacted read sent back restores every secret at every depth", () => {
    expect(restoreRedacted({ ...DEEP_REDACTED, model: "haiku" }, DEEP)).toEqual({ ...DEEP, model: "haiku" });
  });
  test("a marker where nothing was stored is dropped; a new value replaces the stored one", () => {
    expect(
      restoreRedacted({ model: "haiku", api_key: "sk-new", Token: REDACTED, fresh_token: REDACTED }, DEEP),
    ).toEqual({
      model: "haiku",
      api_key: "sk-new",
      Token: "tok-222",
    });
  });
  test("a key named like an Object.prototype member finds nothing inherited", () => {
    expect(restoreRedacted({ toString: { api_key: REDACTED } }, {})).toEqual({ toString: {} });
  });
});
