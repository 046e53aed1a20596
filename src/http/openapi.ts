// The OpenAPI document as a contract a generated client can trust. Routes declare what is theirs (summary,
// tags, parameters, body, their success answer and any error only they can give); what every route shares is
// added here, in one place, so a route registered later gets it too:
// - transformRoute (@fastify/swagger's per-route transform): the error answers the route's access level,
//   method and inputs can produce (one shared `Error` schema), the headers each answer carries, a stable
//   operationId, `security: []` on public routes. Only the document gets these: at run time errors are
//   serialized by the one error handler, and compiling a serializer for each standard error of every route
//   would triple the start-up time for nothing.
// - transformDocument (transformObject, the whole document): named schemas hoisted into components.schemas,
//   the standard headers and error answers shared in components, wrapped body forms, optional bodies not
//   required, read-only fields out of request bodies, path parameters as id-or-key, non-standard keywords
//   renamed to `x-` extensions, meaningful response descriptions.
import type { FastifyInstance, RouteOptions } from "fastify";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { ErrorBody, COMPONENT } from "../core/envelope.js";
import { KEY_PATTERN } from "../core/ids.js";
import { REPLAYED_HEADER } from "./idempotency.js";

type Json = Record<string, any>;

const HEADERS = {
  requestId: {
    "x-request-id": {
      type: "string",
      description:
        "The request's id (the caller's own `x-request-id` when it was valid, else a new UUID); logs name it",
    },
  },
  retryAfter: { "retry-after": { type: "integer", minimum: 1, description: "Seconds to wait before retrying" } },
  authenticate: { "www-authenticate": { type: "string", description: "`Bearer`" } },
  location: { location: { type: "string", description: "The path of the created record" } },
  replayed: {
    [REPLAYED_HEADER]: {
      type: "string",
      enum: ["true"],
      description: "Present when this is the stored answer to an earlier request with the same Idempotency-Key",
    },
  },
};

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "Malformed JSON in the request body, or a malformed URL",
  401: "No bearer token, or one the server does not know (or revoked)",
  403: "The token's role may not do this, an agent token touched another agent's work, or a policy blocks the action (then with `policy_decision`)",
  404: "No record with this id or key (or the path cannot name one)",
  409: "A request with this Idempotency-Key is still being processed; retry after `Retry-After` seconds",
  413: "The request body is larger than the server accepts",
  414: "A path parameter is longer than the server accepts",
  415: "The request body is not `application/json`",
  422: "Invalid input, an invalid state transition or a duplicate key: `errors` names each field with its messages; nothing was changed",
  429: "This token's rate limit is used up; retry after `Retry-After` seconds",
  502: "An upstream service (GitHub) failed or could not be reached; nothing was changed",
  503: "The server is busy, overloaded or shutting down; retry after `Retry-After` seconds. Nothing was changed",
};

const WITH_BODY = new Set(["POST", "PUT", "PATCH"]);
/** Never refused by the rate limit (src/http/limits.ts). */
const UNLIMITED = new Set(["/healthz", "/readyz"]);

const methodsOf = (route: { method: string | string[] }) =>
  Array.isArray(route.method) ? route.method : [route.method];
const isApi = (url: string) => url.startsWith("/api");
const accessOf = (route: { config?: unknown; url: string }) =>
  (route.config as { access?: string } | undefined)?.access ?? (isApi(route.url) ? "member" : "public");

/** The error statuses every route of this kind can answer, whatever its handler does. */
function standardErrors(route: RouteOptions): number[] {
  const methods = methodsOf(route);
  const authenticated = isApi(route.url) && accessOf(route) !== "public";
  // 400: a malformed URL escape (any route) or malformed JSON; 422: a query value no column can store (any route).
  const out = new Set<number>([400, 422, 503]);
  if (!UNLIMITED.has(route.url)) out.add(429);
  if (authenticated) out.add(401).add(403);
  // 414: a path parameter longer than the router accepts.
  if (route.url.includes(":")) out.add(404).add(414);
  // A query parameter naming a record (`mission_id`…) that names none is a 404 too.
  const query = ((route.schema ?? {}) as Json).querystring as Json | undefined;
  if (Object.keys(query?.properties ?? {}).some((k) => /_id$/.test(k))) out.add(404);
  if (methods.some((m) => WITH_BODY.has(m))) out.add(413).add(415);
  if (authenticated && methods.includes("POST")) out.add(409);
  return [...out];
}

function headersFor(status: number, route: RouteOptions): Json {
  const h: Json = { ...HEADERS.requestId };
  if (status === 401) Object.assign(h, HEADERS.authenticate);
  if (status === 409 || status === 429 || status === 503) Object.assign(h, HEADERS.retryAfter);
  if (status === 201) Object.assign(h, HEADERS.location);
  // Answers below 500 to an authenticated POST are kept for Idempotency-Key replays (src/http/idempotency.ts).
  if (status < 500 && methodsOf(route).includes("POST") && isApi(route.url) && accessOf(route) !== "public") {
    Object.assign(h, HEADERS.replayed);
  }
  return h;
}

/** The route's own answers plus the standard error answers, each with the headers it carries. */
function responsesOf(route: RouteOptions, declared: Json | undefined): Json {
  const response: Json = { ...(declared ?? {}) };
  for (const status of standardErrors(route))
    response[status] ??= { ...ErrorBody, description: ERROR_DESCRIPTIONS[status] };
  for (const [code, s] of Object.entries(response)) {
    const status = Number(code);
    if (!Number.isInteger(status) || s === null || typeof s !== "object") continue;
    // A copy: response schemas are shared objects (ErrorBody is every route's).
    response[code] = { ...s, headers: { ...headersFor(status, route), ...(s.headers ?? {}) } };
  }
  return response;
}

// --- operationId ---------------------------------------------------------------------------------------

const ACTIONS = new Set([
  "start",
  "pause",
  "execute",
  "approve",
  "reject",
  "report",
  "replay",
  "verify",
  "export",
  "evaluate",
  "search",
  "sync",
  "reset",
]);

const pascal = (s: string) =>
  s
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join("");

function singular(word: string): string {
  if (/ies$/.test(word)) return word.slice(0, -3) + "y";
  if (/(ch|sh|ss|x)es$/.test(word)) return word.slice(0, -2);
  if (/[^s]s$/.test(word)) return word.slice(0, -1);
  return word;
}

/**
 * `listTasks`, `getTask`, `createMissionTask`, `approveTask`…: from the method and the path, so every route
 * has a stable one without declaring it (a route may still set `schema.operationId`).
 */
export function operationIdOf(method: string, url: string): string {
  const parts = url.split("/").filter((p) => p !== "" && p !== "api");
  const endsWithParam = parts.length > 0 && parts[parts.length - 1]!.startsWith(":");
  const statics = parts.filter((p) => !p.startsWith(":"));
  const last = statics[statics.length - 1] ?? "root";
  const parents = statics.slice(0, -1).map((p) => pascal(singular(p)));
  if ((ACTIONS.has(last) && method === "POST") || (ACTIONS.has(last) && method === "GET" && !endsWithParam)) {
    return last + parents.join("");
  }
  const verb = endsWithParam
    ? ({ GET: "get", PATCH: "update", PUT: "replace", DELETE: "delete", POST: "create" } as Json)[method]
    : ({ GET: "list", POST: "create", PUT: "replace", PATCH: "update", DELETE: "delete" } as Json)[method];
  const noun = endsWithParam || method !== "GET" ? pascal(singular(last)) : pascal(last);
  return `${verb ?? method.toLowerCase()}${parents.join("")}${noun}`;
}

/** @fastify/swagger's per-route transform. */
export function transformRoute({ schema, url, route }: { schema: unknown; url: string; route: RouteOptions }) {
  const s: Json = { ...((schema ?? {}) as Json) };
  const method = methodsOf(route).find((m) => m !== "HEAD") ?? "GET";
  s.operationId ??= operationIdOf(method, url);
  s.response = responsesOf(route, s.response);
  if (accessOf(route) === "public") s.security ??= [];
  const wrap = (route.config as { wrap?: string } | undefined)?.wrap;
  // Read back (and removed) by transformDocument.
  if (wrap && s.body) s["x-mc-wrap"] = wrap;
  return { schema: s, url };
}

// --- the whole document ----------------------------------------------------------------------------------

const isObject = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v);

/** Non-standard keywords the validator enforces, emitted as `x-` extensions. */
const RENAMED_KEYWORDS: Record<string, string> = { maxJsonBytes: "x-max-json-bytes" };

function renameKeywords(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(renameKeywords);
  if (!isObject(v)) return v;
  const out: Json = {};
  for (const [k, x] of Object.entries(v)) out[RENAMED_KEYWORDS[k] ?? k] = renameKeywords(x);
  return out;
}

/** Drops `readOnly` properties from a request body schema (they are refused there). */
function withoutReadOnly(schema: Json): Json {
  if (!isObject(schema.properties)) return schema;
  const properties: Json = {};
  for (const [k, p] of Object.entries(schema.properties)) if (!(isObject(p) && p.readOnly === true)) properties[k] = p;
  const required = Array.isArray(schema.required) ? schema.required.filter((k: string) => k in properties) : undefined;
  return { ...schema, properties, ...(required ? { required } : {}) };
}

const ID_OR_KEY = {
  oneOf: [
    { type: "integer", minimum: 1, maximum: 2_147_483_647, description: "the integer id" },
    { type: "string", pattern: KEY_PATTERN, description: "the key (never all digits)" },
  ],
};

/** Path parameters that name a record: the integer id, or the key too unless the route says integer only. */
function pathParameter(p: Json): Json {
  if (p.in !== "path") return p;
  const description = String(p.description ?? "");
  if (/id or key/.test(description)) return { ...p, schema: ID_OR_KEY };
  if (/integer id/.test(description) && !/ or /.test(description)) {
    return { ...p, schema: { type: "integer", minimum: 1, maximum: 2_147_483_647 } };
  }
  return p;
}

function describeSuccess(status: string, schema: Json | undefined, summary: string): string {
  const data = schema?.properties?.data;
  const name = data?.[COMPONENT] ?? data?.items?.[COMPONENT];
  if (status === "204") return "Done; no content";
  if (status === "202") return name ? `Accepted: the ${name} that will do the work` : "Accepted";
  if (data?.type === "array") return name ? `A page of ${name} records, with the next cursor` : `${summary}: a page`;
  if (status === "201") return name ? `Created: the new ${name}` : `Created (${summary})`;
  return name ? `The ${name}` : `${summary}: the answer`;
}

/**
 * Replaces every schema marked with `x-component` by a `$ref` to one entry in components.schemas. Two
 * different schemas under one name are a programming error: the document is refused.
 */
function hoist(doc: Json): void {
  const components: Json = (doc.components.schemas ??= {});
  const seen = new Map<string, string>();
  const conflicts = new Set<string>();
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (!isObject(v)) return v;
    const out: Json = {};
    for (const [k, x] of Object.entries(v)) out[k] = walk(x);
    const name = out[COMPONENT];
    if (typeof name !== "string") return out;
    const { [COMPONENT]: _marker, description, ...body } = out;
    const text = JSON.stringify(body);
    const prev = seen.get(name);
    if (prev === undefined) {
      seen.set(name, text);
      components[name] = body;
    } else if (prev !== text) conflicts.add(name);
    return { $ref: `#/components/schemas/${name}`, ...(description !== undefined ? { description } : {}) };
  };
  doc.paths = walk(doc.paths);
  if (conflicts.size > 0) throw new Error(`OpenAPI: different schemas share a name: ${[...conflicts].join(", ")}`);
}

const REASONS: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  409: "Conflict",
  413: "PayloadTooLarge",
  414: "UriTooLong",
  415: "UnsupportedMediaType",
  422: "UnprocessableEntity",
  429: "TooManyRequests",
  502: "BadGateway",
  503: "ServiceUnavailable",
};
const HEADER_NAMES: Record<string, string> = {
  "x-request-id": "RequestId",
  "retry-after": "RetryAfter",
  "www-authenticate": "WwwAuthenticate",
  location: "Location",
  [REPLAYED_HEADER]: "IdempotentReplayed",
};

/**
 * The standard headers and error answers, the same on most operations, become components.headers and
 * components.responses entries that operations refer to (an answer a route describes its own way stays inline).
 */
function shareResponses(doc: Json): void {
  const headers: Json = (doc.components.headers ??= {});
  const responses: Json = (doc.components.responses ??= {});
  for (const item of Object.values<Json>(doc.paths ?? {})) {
    for (const op of Object.values<Json>(item)) {
      if (!isObject(op?.responses)) continue;
      for (const [status, r] of Object.entries<Json>(op.responses)) {
        const schema = r.content?.["application/json"]?.schema;
        // The answer's description, repeated on its schema by the route declaration, is said once.
        if (isObject(schema) && schema.$ref && schema.description === r.description) delete schema.description;
        for (const [h, v] of Object.entries<Json>(r.headers ?? {})) {
          const name = HEADER_NAMES[h];
          if (!name) continue;
          headers[name] ??= v;
          if (JSON.stringify(headers[name]) === JSON.stringify(v))
            r.headers[h] = { $ref: `#/components/headers/${name}` };
        }
        const reason = REASONS[Number(status)];
        if (
          !reason ||
          schema?.$ref !== "#/components/schemas/Error" ||
          r.description !== ERROR_DESCRIPTIONS[Number(status)]
        )
          continue;
        // Replayable (authenticated POST) answers carry Idempotent-Replayed too: a variant of their own.
        const name = r.headers?.[REPLAYED_HEADER] ? `${reason}Replayable` : reason;
        responses[name] ??= r;
        if (JSON.stringify(responses[name]) === JSON.stringify(r))
          op.responses[status] = { $ref: `#/components/responses/${name}` };
      }
    }
  }
}

export interface DocumentOptions {
  tags: Record<string, string>;
}

/** @fastify/swagger's transformObject: the finishing pass over the whole document. */
export function transformDocument(doc: Json, opts: DocumentOptions): Json {
  const tagsUsed = new Set<string>();
  for (const item of Object.values<Json>(doc.paths ?? {})) {
    for (const [method, op] of Object.entries<Json>(item)) {
      if (!isObject(op) || !["get", "post", "put", "patch", "delete"].includes(method)) continue;
      for (const t of op.tags ?? []) tagsUsed.add(t);
      if (Array.isArray(op.parameters)) op.parameters = op.parameters.map(pathParameter);
      const wrap = op["x-mc-wrap"];
      delete op["x-mc-wrap"];
      const media = op.requestBody?.content?.["application/json"];
      if (isObject(media?.schema)) {
        const bare = withoutReadOnly(media.schema);
        // An absent body is `{}` (body-wrap.ts), so a body whose fields are all optional may be left out.
        op.requestBody.required = Array.isArray(bare.required) && bare.required.length > 0;
        media.schema =
          typeof wrap === "string"
            ? {
                oneOf: [
                  bare,
                  { type: "object", required: [wrap], additionalProperties: false, properties: { [wrap]: bare } },
                ],
                description: `The fields, bare or wrapped in \`{"${wrap}": {...}}\``,
              }
            : bare;
      }
      for (const [status, r] of Object.entries<Json>(op.responses ?? {})) {
        if (r.description !== "Default Response" && r.description !== undefined) continue;
        const code = Number(status);
        r.description =
          code >= 400
            ? (ERROR_DESCRIPTIONS[code] ?? "Error")
            : describeSuccess(status, r.content?.["application/json"]?.schema, op.summary ?? op.operationId);
      }
    }
  }
  hoist(doc);
  shareResponses(doc);
  const out = renameKeywords(doc) as Json;
  out.tags = [...tagsUsed].sort().map((name) => ({ name, description: opts.tags[name] ?? name }));
  return out;
}

/** Tag descriptions in the OpenAPI document. */
const OPENAPI_TAGS: Record<string, string> = {
  health: "Liveness and readiness (public, never rate-limited)",
  tokens: "API tokens (admin)",
  missions: "Missions: a goal, its process tree, its budget",
  tasks: "Tasks: work for agents, reported on and reviewed",
  trace: "The hash-chained audit trail, its verification and export, live events",
  agents: "Agents and their activity",
  "mission agents": "Which agents work on a mission",
  hooks: "Agent CLI hooks (Claude Code)",
  sprints: "Sprints",
  objectives: "Objectives",
  "key results": "Key results of objectives, with their progress",
  requirements: "Requirements",
  traceability: "The requirement-to-task traceability matrix",
  policies: "Guardrail policies and their evaluation",
  knowledge: "Knowledge documents and search",
  github: "GitHub issue sync, issue-to-task and the webhook",
};

/**
 * The document (@fastify/swagger with the passes above), its UI under /docs and GET /openapi.json. Before any
 * route is registered, so that every route is in it.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    transform: transformRoute,
    transformObject: (d) =>
      transformDocument((d as { openapiObject: Record<string, unknown> }).openapiObject, {
        tags: OPENAPI_TAGS,
      }) as never,
    openapi: {
      openapi: "3.1.0",
      servers: [{ url: "/", description: "The server that serves this document" }],
      info: {
        title: "Mission Control API",
        version: "0.1.0",
        license: { name: "Proprietary: all rights reserved", identifier: "LicenseRef-Proprietary" },
        description:
          "Control plane for teams that run AI coding agents. Conventions: JSON envelopes `{data}` / " +
          "`{data, meta}`, errors `{errors: {...}}`, integer id or key in every path parameter, cursor pagination. " +
          "Any request may be answered 503 (the server is busy or overloaded) or 429 (this token's rate limit), both " +
          "with `Retry-After` in seconds, and having changed nothing. Free-form JSON objects in a request (`metadata`, " +
          "`outputs`, `config`, `context`, policy `actions`) are at most 64 KiB as JSON (`x-max-json-bytes`); larger is 422.",
      },
      components: { securitySchemes: { bearerAuth: { type: "http", scheme: "bearer" } } },
      security: [{ bearerAuth: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });
  app.get("/openapi.json", { config: { access: "public" }, schema: { hide: true } }, async () => app.swagger());
}
