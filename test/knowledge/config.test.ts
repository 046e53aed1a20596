import { describe, expect, test } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";

describe("MC_EMBEDDINGS_*", () => {
  test("not configured by default", () => {
    expect(loadConfig({}).embeddings).toBeNull();
  });

  test.each([
    ["http://localhost:11434", "http://localhost:11434/v1/embeddings"],
    ["http://localhost:11434/", "http://localhost:11434/v1/embeddings"],
    ["https://api.openai.com/v1", "https://api.openai.com/v1/embeddings"],
    ["https://api.openai.com/v1/", "https://api.openai.com/v1/embeddings"],
    ["http://127.0.0.1:8080/v1/embeddings", "http://127.0.0.1:8080/v1/embeddings"],
    ["https://gw.example.com/openai/embeddings", "https://gw.example.com/openai/embeddings"],
    ["https://gw.example.com/llm", "https://gw.example.com/llm/v1/embeddings"],
  ])("URL %s → endpoint %s", (url, endpoint) => {
    const c = loadConfig({ MC_EMBEDDINGS_URL: url, MC_EMBEDDINGS_MODEL: "nomic-embed-text" });
    expect(c.embeddings).toEqual({ url: endpoint, model: "nomic-embed-text", apiKey: null });
  });

  test("API key is optional and kept as given", () => {
    const c = loadConfig({
      MC_EMBEDDINGS_URL: "https://api.openai.com/v1",
      MC_EMBEDDINGS_MODEL: "text-embedding-3-small",
      MC_EMBEDDINGS_API_KEY: "sk-abc",
    });
    expect(c.embeddings).toEqual({
      url: "https://api.openai.com/v1/embeddings",
      model: "text-embedding-3-small",
      apiKey: "sk-abc",
    });
  });

  const bad: Array<[Record<string, string>, string]> = [
    [
      { MC_EMBEDDINGS_MODEL: "m" },
      "Invalid configuration: MC_EMBEDDINGS_URL must be set when MC_EMBEDDINGS_MODEL is set",
    ],
    [
      { MC_EMBEDDINGS_API_KEY: "k" },
      "Invalid configuration: MC_EMBEDDINGS_URL must be set when MC_EMBEDDINGS_API_KEY is set",
    ],
    [
      { MC_EMBEDDINGS_URL: "http://localhost:11434" },
      "Invalid configuration: MC_EMBEDDINGS_MODEL must be set to a model name (no spaces, at most 200 characters) when MC_EMBEDDINGS_URL is set",
    ],
    [
      { MC_EMBEDDINGS_URL: "http://x", MC_EMBEDDINGS_MODEL: "two words" },
      "Invalid configuration: MC_EMBEDDINGS_MODEL must be set to a model name (no spaces, at most 200 characters) when MC_EMBEDDINGS_URL is set",
    ],
    [
      { MC_EMBEDDINGS_URL: "localhost:11434", MC_EMBEDDINGS_MODEL: "m" },
      "Invalid configuration: MC_EMBEDDINGS_URL must be an absolute http:// or https:// URL",
    ],
    [
      { MC_EMBEDDINGS_URL: "not a url", MC_EMBEDDINGS_MODEL: "m" },
      "Invalid configuration: MC_EMBEDDINGS_URL must be an absolute http:// or https:// URL",
    ],
    [
      { MC_EMBEDDINGS_URL: "ftp://h/v1", MC_EMBEDDINGS_MODEL: "m" },
      "Invalid configuration: MC_EMBEDDINGS_URL must be an absolute http:// or https:// URL",
    ],
    [
      { MC_EMBEDDINGS_URL: "https://user:secret@h/v1", MC_EMBEDDINGS_MODEL: "m" },
      "Invalid configuration: MC_EMBEDDINGS_URL must not carry credentials; use MC_EMBEDDINGS_API_KEY",
    ],
  ];
  test.each(bad)("%j fails fast", (env, message) => {
    let err: unknown;
    try {
      loadConfig(env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(message);
    // A secret in the URL never reaches the message.
    expect((err as Error).message).not.toContain("secret");
  });
});
