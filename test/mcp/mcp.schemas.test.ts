// Every tool's input schema against the route it mirrors, as the server documents that route (GET
// /openapi.json, generated from the routes' own schemas): each argument that goes into the route's body or
// query has exactly the route's schema for that field (types, bounds, enums), each path argument names a
// parameter of the route, and a field the route requires is required by the tool too.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, type TestContext } from "../harness.js";
import { plainSchema, TOOLS } from "../../src/mcp/mcp.tools.js";

let t: TestContext;
let doc: any;

beforeAll(async () => {
  t = await createTestContext();
  doc = (await t.json("GET", "/openapi.json")).body;
});
afterAll(async () => t?.close());

/** Resolves local `$ref`s (the document may move shared schemas into components). */
function resolve(s: unknown, depth = 0): unknown {
  if (depth > 50) throw new Error("$ref cycle");
  if (Array.isArray(s)) return s.map((x) => resolve(x, depth + 1));
  if (s === null || typeof s !== "object") return s;
  const o = s as Record<string, unknown>;
  if (typeof o.$ref === "string") {
    const target = o.$ref
      .replace(/^#\//, "")
      .split("/")
      .reduce<any>((acc, k) => acc?.[k.replace(/~1/g, "/").replace(/~0/g, "~")], doc);
    const { $ref: _ref, ...rest } = o;
    return resolve({ ...(target as object), ...rest }, depth + 1);
  }
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, resolve(v, depth + 1)]));
}

/** Spelling differences only. TypeBox writes a free-form record as `patternProperties: {"^(.*)$": X}`; OpenAPI as `additionalProperties: X`. */
function sameRecord(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(sameRecord);
  if (s === null || typeof s !== "object") return s;
  // The document names the size bound as an extension keyword; validation and the tools use `maxJsonBytes`.
  const o = Object.fromEntries(
    Object.entries(s as Record<string, unknown>).map(([k, v]) => [
      k === "x-max-json-bytes" ? "maxJsonBytes" : k,
      sameRecord(v),
    ]),
  );
  const pp = o.patternProperties as Record<string, unknown> | undefined;
  if (pp && Object.keys(pp).length === 1 && pp["^(.*)$"] !== undefined && o.additionalProperties === undefined) {
    delete o.patternProperties;
    o.additionalProperties = pp["^(.*)$"];
  }
  return o;
}

const norm = (s: unknown) => sameRecord(plainSchema(resolve(s)));

/** A body that may come wrapped (`{"task": {...}}`) is documented as oneOf [bare, wrapped]: the bare one. */
function bareBody(s: any): any {
  return Array.isArray(s?.oneOf) ? resolve(s.oneOf[0]) : s;
}

describe("tool input schemas are the routes' schemas", () => {
  const mirrored = TOOLS.filter((x) => x.mirrors !== null);

  test("every tool but the trace reader mirrors a route", () => {
    expect(TOOLS.filter((x) => x.mirrors === null).map((x) => x.name)).toEqual(["list_decisions"]);
  });

  test.each(mirrored.map((x) => [x.name, x] as const))("%s", (_name, tool) => {
    const m = tool.mirrors!;
    const op = doc.paths[m.url]?.[m.method.toLowerCase()];
    expect(op, `${m.method} ${m.url} is documented`).toBeDefined();
    const params: any[] = op.parameters ?? [];
    const body = op.requestBody ? bareBody(resolve(op.requestBody.content["application/json"].schema)) : null;
    for (const [arg, [where, field]] of Object.entries(m.args)) {
      const mine = tool.inputSchema.properties[arg];
      expect(mine, `${tool.name}.${arg} is an argument`).toBeDefined();
      if (where === "params") {
        expect(
          params.some((p) => p.in === "path" && p.name === field),
          `${m.url} has path parameter ${field}`,
        ).toBe(true);
        continue;
      }
      const theirs =
        where === "body" ? body?.properties?.[field] : params.find((p) => p.in === "query" && p.name === field)?.schema;
      expect(theirs, `${m.method} ${m.url} ${where}.${field}`).toBeDefined();
      expect(norm(mine), `${tool.name}.${arg} = ${where}.${field}`).toEqual(norm(theirs));
      if (where === "body" && (body.required ?? []).includes(field)) {
        expect(tool.inputSchema.required, `${tool.name}.${arg} is required as ${field} is`).toContain(arg);
      }
    }
  });

  test("enums reach the tools: statuses are the routes' lists", () => {
    const byName = Object.fromEntries(TOOLS.map((x) => [x.name, x.inputSchema.properties as Record<string, any>]));
    expect(byName.report_progress!.status.enum).toEqual([
      "pending",
      "in_progress",
      "blocked",
      "pending_review",
      "rejected",
      "completed",
      "failed",
    ]);
    expect(byName.list_missions!.status.enum).toEqual([
      "planning",
      "active",
      "paused",
      "completed",
      "failed",
      "cancelled",
    ]);
    expect(byName.list_agents!.status.enum.length).toBeGreaterThan(3);
  });
});
