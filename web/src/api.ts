// The console's access to the API: the generated typed client (src/client) with the token of this tab, the
// API's record types as the client declares them, and the helpers every screen uses (errors, paging).
import { createClient, type McClient, type paths } from "../../src/client/index.js";

const TOKEN_KEY = "mission-control.token";

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}
export function setToken(token: string) {
  sessionStorage.setItem(TOKEN_KEY, token);
}
export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

let unauthorized: () => void = () => undefined;
export function onUnauthorized(fn: () => void) {
  unauthorized = fn;
}

/** A client whose every request carries the token of the moment (it changes on sign in and sign out). */
export const api: McClient = createClient({
  baseUrl: location.origin,
  fetch: (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    const token = getToken();
    if (token) req.headers.set("authorization", `Bearer ${token}`);
    return fetch(req);
  },
});

type JsonOf<R> = R extends { content: { "application/json": infer B } } ? B : never;
type Ok<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends { responses: infer Rs }
  ? Rs extends { 200: infer R }
    ? JsonOf<R>
    : never
  : never;

export type Mission = Ok<"/api/missions/{id}", "get">["data"];
export type Task = Ok<"/api/tasks/{id}", "get">["data"];
export type TaskItem = Ok<"/api/missions/{mission_id}/tasks", "get">["data"][number];
export type LogLine = Task["logs"][number];
/** Live-status fields (status_reason, run, …) are rendered when the server sends them. */
export type Agent = Ok<"/api/agents/{id}", "get">["data"] & {
  status_reason?: string | null;
  status_since?: string | null;
  last_event?: { event: string; at: string } | null;
  run?: {
    task_id: string;
    pid: number | null;
    started_at: string;
    last_output_at: string | null;
    attempt: number;
  } | null;
};
export type TraceEntry = Ok<"/api/trace", "get">["data"][number];
export type Objective = Ok<"/api/objectives", "get">["data"][number];
export type Policy = Ok<"/api/policies", "get">["data"][number];
export type SearchHit = Ok<"/api/knowledge/search", "post">["data"][number];
export type Traceability = Ok<"/api/traceability", "get">["data"];
export type Dispatch = Ok<"/api/dispatches/{id}", "get">["data"];

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The message of an error body `{"errors": {...}}`, as one line a person can read. */
function describe(status: number, body: unknown): string {
  const errors = (body as { errors?: Record<string, unknown> } | null)?.errors;
  if (errors && typeof errors === "object") {
    const parts = Object.entries(errors).map(([k, v]) => {
      const msg = Array.isArray(v) ? v.join("; ") : String(v);
      return k === "detail" ? msg : `${k}: ${msg}`;
    });
    if (parts.length) return parts.join(" · ");
  }
  return `HTTP ${status}`;
}

/** Unwraps an openapi-fetch result: its data, or an ApiError with the server's message. */
export async function ok<T>(p: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let r: { data?: T; error?: unknown; response: Response };
  try {
    r = await p;
  } catch {
    throw new ApiError(0, "The server cannot be reached");
  }
  if (r.response.status === 401) {
    unauthorized();
    throw new ApiError(401, "Signed out: the token is not accepted");
  }
  if (r.error !== undefined || !r.response.ok)
    throw new ApiError(r.response.status, describe(r.response.status, r.error));
  return r.data as T;
}

/** Fetches every page of a list, handing each page over as it arrives (a big list shows while it loads). */
export async function pages<T>(
  fetchPage: (cursor: string | undefined) => Promise<{ data: T[]; meta: { next_cursor: string | null } }>,
  onPage: (items: T[]) => void,
  isCancelled: () => boolean = () => false,
  maxPages = Infinity,
): Promise<void> {
  let cursor: string | undefined;
  for (let n = 0; n < maxPages; n++) {
    const page = await fetchPage(cursor);
    if (isCancelled()) return;
    onPage(page.data);
    if (!page.meta.next_cursor) return;
    cursor = page.meta.next_cursor;
  }
}
