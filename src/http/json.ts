// The JSON body parser. Besides parsing, it enforces two rules of the contract that a schema cannot:
// nesting deeper than 64 levels is a 400, and `__proto__` / `constructor` keys are a 422 wherever they occur.
import type { FastifyInstance } from "fastify";
import { BadRequest, Invalid, NotFound } from "../core/errors.js";

export const MAX_DEPTH = 64;
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor"]);
// PostgreSQL stores neither NUL characters (text, jsonb) nor unpaired UTF-16 surrogates (jsonb): they are
// refused here as the caller's error (422) instead of failing in the database as a 500.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const unstorable = (s: string) => s.includes("\u0000") || LONE_SURROGATE.test(s);

function check(value: unknown): void {
  // Iterative walk: a body crafted to be deep must not be able to blow the stack here either.
  const stack: Array<[unknown, number, string]> = [[value, 1, ""]];
  while (stack.length > 0) {
    const [v, depth, path] = stack.pop()!;
    if (typeof v === "string" && unstorable(v)) {
      throw Invalid.field(path || "body", "must not contain NUL or unpaired surrogate characters");
    }
    if (v === null || typeof v !== "object") continue;
    if (depth > MAX_DEPTH) throw new BadRequest(`JSON nested deeper than ${MAX_DEPTH} levels`);
    if (Array.isArray(v)) {
      v.forEach((item, i) => stack.push([item, depth + 1, path ? `${path}.${i}` : String(i)]));
      continue;
    }
    for (const key of Object.keys(v)) {
      const p = path ? `${path}.${key}` : key;
      if (FORBIDDEN_KEYS.has(key) || unstorable(key)) throw Invalid.field(p, "is not an allowed key");
      stack.push([(v as Record<string, unknown>)[key], depth + 1, p]);
    }
  }
}

export function parseJsonBody(text: string): unknown {
  if (text.trim() === "") return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BadRequest("Malformed JSON in request body");
  }
  check(value);
  return value;
}

export function registerJsonParser(app: FastifyInstance): void {
  // JSON only: any other content type (text/plain included) is a 415.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
}

/**
 * Query strings and path parameters reach the database as text too, where a NUL character cannot be stored
 * (a 500 instead of the caller's error): a query value with one is 422 naming the parameter, a path parameter
 * with one names nothing (404). Runs before validation, after authentication.
 */
export function registerTextGuard(app: FastifyInstance): void {
  app.addHook("preValidation", async (req) => {
    for (const v of Object.values((req.params ?? {}) as Record<string, unknown>)) {
      if (typeof v === "string" && unstorable(v)) throw new NotFound();
    }
    for (const [k, v] of Object.entries((req.query ?? {}) as Record<string, unknown>)) {
      if ((Array.isArray(v) ? v : [v]).some((x) => typeof x === "string" && unstorable(x))) {
        throw Invalid.field(k, "must not contain NUL or unpaired surrogate characters");
      }
    }
  });
}
