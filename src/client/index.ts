// The one typed client of the Mission Control API, generated from its OpenAPI document (schema.ts) and used
// by everything that talks to the server from outside: the CLI, the MCP stdio bridge, the console and the
// tests that make real HTTP calls.
import createFetchClient, { type Client } from "openapi-fetch";
import type { paths } from "./schema.js";

export type { paths, components, operations } from "./schema.js";
export type McClient = Client<paths>;
export { snippetParts, snippetText, type SnippetPart } from "./snippet.js";

export interface ClientOptions {
  baseUrl: string;
  token?: string | null;
  fetch?: typeof fetch;
  headers?: Record<string, string>;
}

export function createClient(opts: ClientOptions): McClient {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  return createFetchClient<paths>({
    baseUrl: opts.baseUrl.replace(/\/+$/, ""),
    headers,
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
  });
}
