// The GitHub REST client: Octokit with its retry and throttling plugins, and the few calls this module makes.
// Every failure leaves here as a GithubError of a known kind, so callers decide by kind (refused → 422,
// unreachable → 502, rate limited → wait or resume later) and never by parsing messages. Messages carry
// GitHub's own reason and never the token (Octokit redacts it from errors; nothing here logs a request).
import { randomUUID } from "node:crypto";
import { Octokit } from "@octokit/rest";
import { retry } from "@octokit/plugin-retry";
import { throttling } from "@octokit/plugin-throttling";
import type { FastifyBaseLogger } from "fastify";
import { assertNever } from "../core/assert-never.js";

const GitHubOctokit = Octokit.plugin(retry, throttling);
type OctokitClient = InstanceType<typeof GitHubOctokit>;
/** What the throttling plugin tells its handlers about the request (our `maxWaitS` rides in `request`). */
type LimitOptions = { method?: string; url?: string; request?: Record<string, unknown> };

/** Longest rate-limit wait a background sync sits out inside a request (longer: the run resumes later). */
export const SYNC_MAX_WAIT_S = 60;
/** Someone is waiting for an approve: wait out only short limits, else answer 502 with Retry-After. */
export const INTERACTIVE_MAX_WAIT_S = 10;
/** One attempt of one request; a timed-out attempt counts as unreachable and is retried by the retry plugin. */
const ATTEMPT_TIMEOUT_MS = 30_000;

export type GithubErrorKind = "unreachable" | "rate_limited" | "unauthorized" | "refused" | "upstream" | "aborted";

export class GithubError extends Error {
  constructor(
    readonly kind: GithubErrorKind,
    /** GitHub's HTTP status; null when it was not reached. */
    readonly status: number | null,
    /** GitHub's reason (its `message`), or what went wrong on the way. */
    readonly reason: string,
    /** For `rate_limited`: when GitHub will take requests again. */
    readonly resumeAt: Date | null = null,
  ) {
    super(reason);
    this.name = "GithubError";
  }

  /** One line for a sync run's error, a trace entry or a 502 body. */
  describe(): string {
    switch (this.kind) {
      case "unreachable":
        return `GitHub could not be reached (${this.reason})`;
      case "rate_limited":
        return `GitHub rate limit exceeded until ${this.resumeAt?.toISOString() ?? "later"}`;
      case "unauthorized":
        return this.status === 401
          ? `GitHub rejected GITHUB_TOKEN (401: ${this.reason})`
          : `GitHub refused access with GITHUB_TOKEN (${this.status}: ${this.reason})`;
      case "aborted":
        return "the request to GitHub was cancelled (server shutting down)";
      case "refused":
      case "upstream":
        return `GitHub answered ${this.status}: ${this.reason}`;
      default:
        return assertNever(this.kind);
    }
  }
}

type Headers = Record<string, string | number | undefined>;

interface HttpErrorLike {
  status?: unknown;
  name?: unknown;
  message?: unknown;
  response?: { headers?: Headers; data?: unknown };
}

function headerOf(h: Headers | undefined, name: string): string | undefined {
  const v = h?.[name];
  return v === undefined ? undefined : String(v);
}

/** When a 403/429 is a rate limit, when GitHub will accept requests again; else null. */
export function rateLimitResume(status: number, headers: Headers | undefined, now = Date.now()): Date | null {
  if (status !== 403 && status !== 429) return null;
  const retryAfter = headerOf(headers, "retry-after");
  if (retryAfter !== undefined && /^\d+$/.test(retryAfter.trim()))
    return new Date(now + Number(retryAfter.trim()) * 1000);
  if (headerOf(headers, "x-ratelimit-remaining") === "0") {
    const reset = Number(headerOf(headers, "x-ratelimit-reset"));
    // One second after the reset, as GitHub advises; a missing reset means "in a minute".
    return new Date(Number.isFinite(reset) && reset > 0 ? Math.max(reset * 1000 + 1000, now) : now + 60_000);
  }
  // A secondary limit without retry-after: GitHub says to wait at least a minute.
  if (status === 429) return new Date(now + 60_000);
  return null;
}

function reasonOf(data: unknown, fallback: string): string {
  const m = data && typeof data === "object" ? (data as { message?: unknown }).message : undefined;
  const text = typeof m === "string" && m.trim() !== "" ? m.trim() : fallback;
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}

/** Any failure of a client call, as a GithubError. */
export function toGithubError(err: unknown): GithubError {
  if (err instanceof GithubError) return err;
  const e = (err ?? {}) as HttpErrorLike;
  if (e.name === "AbortError") return new GithubError("aborted", null, "aborted");
  const status = typeof e.status === "number" ? e.status : null;
  // Octokit reports a failed fetch (refused, reset, DNS, timeout) as a 500 without a response.
  if (status === null || e.response === undefined) {
    const msg = typeof e.message === "string" && e.message !== "" ? e.message : "no response";
    return new GithubError("unreachable", null, msg.length > 300 ? msg.slice(0, 300) : msg);
  }
  const reason = reasonOf(e.response.data, `HTTP ${status}`);
  const resumeAt = rateLimitResume(status, e.response.headers);
  if (resumeAt) return new GithubError("rate_limited", status, reason, resumeAt);
  if (status === 401 || status === 403) return new GithubError("unauthorized", status, reason);
  if (status >= 400 && status < 500) return new GithubError("refused", status, reason);
  return new GithubError("upstream", status, reason);
}

export interface GhPull {
  number: number;
  state: string;
  merged: boolean;
  merge_commit_sha: string | null;
  head_sha: string | null;
}

export type IssuePage =
  { notModified: true } | { notModified: false; items: unknown[]; etag: string | null; next: string | null };

export interface GithubClientOptions {
  token: string | null;
  apiUrl: string;
  log?: FastifyBaseLogger;
}

export interface CallOptions {
  signal?: AbortSignal;
  /**
   * Someone is waiting for the answer (an approve): one retry of a failed attempt instead of three, and only
   * rate-limit waits up to INTERACTIVE_MAX_WAIT_S (else up to SYNC_MAX_WAIT_S).
   */
  interactive?: boolean;
}

export type GithubClient = ReturnType<typeof createGithubClient>;

export function createGithubClient(opts: GithubClientOptions) {
  const apiOrigin = new URL(opts.apiUrl).origin;
  const log = opts.log;
  const make = (retries: number): OctokitClient =>
    new GitHubOctokit({
      auth: opts.token ?? undefined,
      baseUrl: opts.apiUrl,
      userAgent: "mission-control",
      // Octokit's own warnings (deprecations, limit notices) go to the app log; its debug chatter nowhere.
      log: {
        debug: () => {},
        info: () => {},
        warn: (msg: string) => log?.warn({ github: msg }, "GitHub client warning"),
        error: (msg: string) => log?.error({ github: msg }, "GitHub client error"),
      },
      request: {
        // A per-attempt timeout: a hung GitHub is an unreachable one, retried like a refused connection.
        fetch: (url: string, init: RequestInit) =>
          fetch(url, {
            ...init,
            signal: init.signal
              ? AbortSignal.any([init.signal, AbortSignal.timeout(ATTEMPT_TIMEOUT_MS)])
              : AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
          }),
      },
      // Refusals are answers, not glitches: retrying a 405/409 would only delay the same answer. 403/429 are
      // the throttling plugin's (rate limits); what it does not retry is the caller's to handle.
      // (The retry count is per client, not per request: the retry plugin retries every failure of a request
      // whose options carry a count.)
      retry: { retries, doNotRetry: [400, 401, 403, 404, 405, 409, 410, 422, 429, 451] },
      throttle: {
        // Each client its own limiter (the plugin's groups are process-wide and keyed by this id).
        id: `mission-control-${randomUUID()}`,
        onRateLimit: (retryAfter: number, options: LimitOptions, _o: unknown, retryCount: number) =>
          waitOrGiveUp("rate limit", retryAfter, options, retryCount),
        onSecondaryRateLimit: (retryAfter: number, options: LimitOptions, _o: unknown, retryCount: number) =>
          waitOrGiveUp("secondary rate limit", retryAfter, options, retryCount),
      },
    });
  const background = make(3);
  const interactive = make(1);

  /** Tells the throttling plugin whether to sit out a limit (true) or let the request fail as rate limited. */
  function waitOrGiveUp(what: string, retryAfter: number, options: LimitOptions, retryCount: number) {
    const maxWait = typeof options.request?.maxWaitS === "number" ? options.request.maxWaitS : SYNC_MAX_WAIT_S;
    const wait = retryCount < 2 && retryAfter <= maxWait;
    log?.warn(
      { method: options.method, url: options.url, retryAfterS: retryAfter, waiting: wait },
      `GitHub ${what} hit`,
    );
    return wait;
  }

  const request = (o: CallOptions) => ({
    signal: o.signal,
    maxWaitS: o.interactive ? INTERACTIVE_MAX_WAIT_S : SYNC_MAX_WAIT_S,
  });
  const pick = (o: CallOptions) => (o.interactive ? interactive : background);

  async function call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toGithubError(err);
    }
  }

  function nextLink(link: string | undefined): string | null {
    if (!link) return null;
    const m = /<([^>]+)>\s*;\s*rel="next"/.exec(link);
    if (!m) return null;
    // The token goes with every request: never follow a link off the configured API.
    if (new URL(m[1]!).origin !== apiOrigin) {
      throw new GithubError("upstream", null, "GitHub sent a pagination link to another host");
    }
    return m[1]!;
  }

  function pageOf(r: { data: unknown; headers: Headers }): IssuePage {
    if (!Array.isArray(r.data)) throw new GithubError("upstream", 200, "GitHub sent an issue list that is not a list");
    return {
      notModified: false,
      items: r.data as unknown[],
      etag: headerOf(r.headers, "etag") ?? null,
      next: nextLink(headerOf(r.headers, "link")),
    };
  }

  return {
    /**
     * The first page of a repository's issues (and pull requests, which the issues API includes) updated
     * at or after `since`, most recently updated first: a change anywhere in the set changes this page, so
     * its ETag answers "anything new?" for the price of a 304, which GitHub does not count against the limit.
     */
    async listIssues(
      owner: string,
      repo: string,
      q: { since: Date | null; etag: string | null },
      o: CallOptions = {},
    ): Promise<IssuePage> {
      try {
        const r = await pick(o).rest.issues.listForRepo({
          owner,
          repo,
          state: "all",
          sort: "updated",
          direction: "desc",
          per_page: 100,
          ...(q.since ? { since: q.since.toISOString() } : {}),
          headers: q.etag ? { "if-none-match": q.etag } : {},
          request: request(o),
        });
        return pageOf(r as unknown as { data: unknown; headers: Headers });
      } catch (err) {
        if ((err as HttpErrorLike).status === 304) return { notModified: true };
        throw toGithubError(err);
      }
    },

    /** A later page, by the `Link: rel="next"` URL of the previous one. */
    async nextPage(url: string, o: CallOptions = {}): Promise<IssuePage> {
      const r = await call(() => pick(o).request({ method: "GET", url, request: request(o) }));
      return pageOf(r as unknown as { data: unknown; headers: Headers });
    },

    async mergePull(
      owner: string,
      repo: string,
      number: number,
      body: { merge_method: "merge" | "squash" | "rebase"; sha?: string },
      o: CallOptions = {},
    ): Promise<{ sha: string | null; message: string | null }> {
      const r = await call(() =>
        pick(o).rest.pulls.merge({ owner, repo, pull_number: number, ...body, request: request(o) }),
      );
      const d = r.data as { sha?: unknown; message?: unknown };
      return {
        sha: typeof d.sha === "string" ? d.sha : null,
        message: typeof d.message === "string" ? d.message : null,
      };
    },

    async getPull(owner: string, repo: string, number: number, o: CallOptions = {}): Promise<GhPull> {
      const r = await call(() => pick(o).rest.pulls.get({ owner, repo, pull_number: number, request: request(o) }));
      const d = r.data as {
        number: number;
        state: string;
        merged?: boolean | null;
        merge_commit_sha?: string | null;
        head?: { sha?: string };
      };
      return {
        number: d.number,
        state: d.state,
        merged: d.merged === true,
        merge_commit_sha: d.merge_commit_sha ?? null,
        head_sha: d.head?.sha ?? null,
      };
    },

    async createComment(
      owner: string,
      repo: string,
      number: number,
      body: string,
      o: CallOptions = {},
    ): Promise<{ html_url: string | null }> {
      const r = await call(() =>
        pick(o).rest.issues.createComment({ owner, repo, issue_number: number, body, request: request(o) }),
      );
      const d = r.data as { html_url?: unknown };
      return { html_url: typeof d.html_url === "string" ? d.html_url : null };
    },
  };
}
