// The routes under test come from the served OpenAPI document (GET /openapi.json), never from a list kept by
// hand: a route added to the server is in the access matrix and the bad-input fuzzing the moment it exists.
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { Database } from "../../src/db/client.js";

export interface Param {
  in: "path" | "query" | "header";
  name: string;
  required: boolean;
  schema: Record<string, any>;
}

export interface Operation {
  /** `METHOD /openapi/{path}`: the key of the access table. */
  key: string;
  method: string;
  path: string;
  params: Param[];
  body: Record<string, any> | null;
  /** Declares no security requirement (`security: []`). */
  public: boolean;
}

/** The schema with every `$ref` into the document replaced by its target (named schemas live in components). */
function deref(doc: any, schema: any, seen: Set<string> = new Set()): any {
  if (Array.isArray(schema)) return schema.map((s) => deref(doc, s, seen));
  if (schema === null || typeof schema !== "object") return schema;
  if (typeof schema.$ref === "string" && schema.$ref.startsWith("#/")) {
    if (seen.has(schema.$ref)) return {};
    const target = schema.$ref
      .slice(2)
      .split("/")
      .reduce((o: any, k: string) => o?.[k.replace(/~1/g, "/").replace(/~0/g, "~")], doc);
    const { $ref: _ref, ...rest } = schema;
    return { ...deref(doc, target, new Set([...seen, schema.$ref])), ...rest };
  }
  const out: any = {};
  for (const [k, v] of Object.entries(schema)) out[k] = deref(doc, v, seen);
  return out;
}

/** A body that may come bare or wrapped (`oneOf: [bare, {"<key>": bare}]`): the bare form. */
const bareBody = (schema: any) =>
  Array.isArray(schema?.oneOf) && schema.oneOf[0]?.type === "object" ? schema.oneOf[0] : schema;

export function operationsOf(doc: any): Operation[] {
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries<Record<string, any>>(doc.paths ?? {})) {
    for (const [m, op] of Object.entries<any>(item)) {
      if (!["get", "post", "put", "patch", "delete"].includes(m)) continue;
      const method = m.toUpperCase();
      ops.push({
        key: `${method} ${path}`,
        method,
        path,
        params: (op.parameters ?? []).map((p: any) => ({
          in: p.in,
          name: p.name,
          required: !!p.required,
          schema: deref(doc, p.schema ?? {}),
        })),
        body: bareBody(deref(doc, op.requestBody?.content?.["application/json"]?.schema ?? null)),
        public: Array.isArray(op.security) && op.security.length === 0,
      });
    }
  }
  return ops;
}

/** The path with each `{name}` replaced by its value, percent-encoded. */
export function fillPath(path: string, values: Record<string, string>): string {
  return path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const v = values[name];
    if (v === undefined) throw new Error(`no value for path parameter ${name} of ${path}`);
    return encodeURIComponent(v);
  });
}

export function queryString(q: Record<string, string | string[]>): string {
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) for (const x of Array.isArray(v) ? v : [v]) sp.append(k, x);
  const s = sp.toString();
  return s === "" ? "" : `?${s}`;
}

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

export interface SendOptions {
  token?: string | null;
  /** The whole Authorization header (wins over `token`). */
  authorization?: string;
  body?: unknown;
  /** Sent as is. */
  raw?: string;
  contentType?: string;
  headers?: Record<string, string>;
  /** Give up (and fail) after this long: a request must never hang. */
  timeoutMs?: number;
  /** Connection pool (default: Node's global agent). */
  agent?: http.Agent;
}

/**
 * One request over real HTTP (node:http, so the path goes out exactly as given and any method may carry a
 * body). A streaming answer (server-sent events) is cut off once its head arrived: the status and headers
 * are what the caller checks. Fails when no answer comes within `timeoutMs`.
 */
export function send(base: string, method: string, url: string, opts: SendOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.authorization !== undefined) headers.authorization = opts.authorization;
  else if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let payload: string | undefined = opts.raw;
  if (payload === undefined && opts.body !== undefined) payload = JSON.stringify(opts.body);
  if (payload !== undefined) {
    headers["content-type"] = opts.contentType ?? "application/json";
    // Explicit: Node's client would otherwise send a GET or DELETE body without any framing.
    headers["content-length"] = String(Buffer.byteLength(payload));
  }
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const u = new URL(base);
  return new Promise<Reply>((resolve, reject) => {
    let answered = false;
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`${method} ${url.slice(0, 200)} did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const req = http.request(
      { host: u.hostname, port: u.port, method, path: url, headers, agent: opts.agent },
      (res) => {
        answered = true;
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers))
          for (const x of Array.isArray(v) ? v : v === undefined ? [] : [v]) h.append(k, x);
        const done = (text: string) => {
          clearTimeout(timer);
          let json: any = null;
          if ((h.get("content-type") ?? "").includes("application/json") && text !== "") {
            try {
              json = JSON.parse(text);
            } catch {
              json = undefined; // not JSON although it says so: the caller's checks fail on it
            }
          }
          resolve({ status: res.statusCode ?? 0, headers: h, text, json });
        };
        if ((h.get("content-type") ?? "").startsWith("text/event-stream")) {
          res.destroy();
          done("");
          return;
        }
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => done(Buffer.concat(chunks).toString("utf8")));
        res.on("error", (err) => {
          clearTimeout(timer);
          reject(err);
        });
      },
    );
    req.on("error", (err) => {
      // A server may answer (413) and close before it has read a large body: the answer is what counts.
      if (answered) return;
      clearTimeout(timer);
      reject(err);
    });
    req.end(payload);
  });
}

/** The contract's error shape: `{"errors": {...}}` with something in it (and `policy_decision` for a policy). */
export function isErrorShape(json: any): boolean {
  if (json === null || typeof json !== "object" || Array.isArray(json)) return false;
  const keys = Object.keys(json);
  if (!keys.includes("errors") || keys.some((k) => k !== "errors" && k !== "policy_decision")) return false;
  const e = json.errors;
  if (e === null || typeof e !== "object" || Array.isArray(e) || Object.keys(e).length === 0) return false;
  return Object.entries(e).every(([k, v]) =>
    k === "detail"
      ? typeof v === "string" && v !== ""
      : Array.isArray(v) && v.length > 0 && v.every((m) => typeof m === "string"),
  );
}

/** Tables that background work writes on its own (leases, caches, derived search data): not fingerprinted. */
const VOLATILE = new Set([
  "mission_leases",
  "idempotency_keys",
  "knowledge_chunks",
  "knowledge_terms",
  "github_repo_state",
  "__drizzle_migrations",
]);

/**
 * A cheap fingerprint of what the API can change: each table's row count and latest `updated_at`, and the
 * newest trace entry. Equal before and after a refused request means it changed nothing.
 */
export async function fingerprint(database: Database): Promise<string> {
  const cols = await database.query<{ table_name: string; has_updated: boolean }>(
    `SELECT table_name, bool_or(column_name = 'updated_at') AS has_updated
       FROM information_schema.columns
      WHERE table_schema = current_schema()
      GROUP BY table_name ORDER BY table_name`,
  );
  const parts = cols
    .filter((c) => !VOLATILE.has(c.table_name))
    .map((c) => {
      const t = `"${c.table_name.replace(/"/g, '""')}"`;
      return `'${c.table_name}:' || (SELECT count(*) FROM ${t})::text${c.has_updated ? ` || ':' || coalesce((SELECT max(updated_at) FROM ${t})::text, '-')` : ""}`;
    });
  parts.push(`'trace:' || coalesce((SELECT max(id) FROM trace_entries)::text, '-')`);
  const rows = await database.query<{ fp: string }>(`SELECT ${parts.join(" || ' ' || ")} AS fp`);
  return rows[0]!.fp;
}

/** Waits until the fingerprint holds still (background work started by a success has settled). */
export async function settledFingerprint(database: Database, pauseMs = 50, maxTries = 40): Promise<string> {
  let prev = await fingerprint(database);
  for (let i = 0; i < maxTries; i++) {
    await new Promise((r) => setTimeout(r, pauseMs));
    const next = await fingerprint(database);
    if (next === prev) return next;
    prev = next;
  }
  return prev;
}

export const uniq = (prefix: string) => `${prefix}-${randomBytes(4).toString("hex")}`;
