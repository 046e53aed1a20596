// Request validation. Bodies are validated strictly (no type coercion, no silently dropped fields); query
// strings and path parameters arrive as text, so they are coerced to the declared types.
import { Ajv, type ErrorObject } from "ajv";
import addFormatsModule from "ajv-formats";
import type { FastifySchemaValidationError } from "fastify/types/schema.js";
import type { FieldErrors } from "../core/errors.js";

// ajv-formats is CommonJS; its default export arrives wrapped under NodeNext resolution.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

function makeAjv(coerce: boolean): Ajv {
  const ajv = new Ajv({
    coerceTypes: coerce ? "array" : false,
    removeAdditional: false,
    useDefaults: true,
    allErrors: false,
    strict: false,
  });
  addFormats(ajv);
  // `maxJsonBytes: n`: the value, as compact JSON, is at most n UTF-8 bytes (free-form objects in bodies).
  ajv.addKeyword({
    keyword: "maxJsonBytes",
    type: ["object", "array"],
    schemaType: "number",
    errors: true,
    validate: function maxJsonBytes(limit: number, data: unknown) {
      if (Buffer.byteLength(JSON.stringify(data) ?? "", "utf8") <= limit) return true;
      (maxJsonBytes as unknown as { errors: Partial<ErrorObject>[] }).errors = [
        { keyword: "maxJsonBytes", message: `must be at most ${limit} bytes as JSON`, params: { limit } },
      ];
      return false;
    },
  });
  return ajv;
}

const bodyAjv = makeAjv(false);
const textAjv = makeAjv(true);

type Validate = ((data: unknown, ctx?: unknown) => boolean) & {
  errors?: FastifySchemaValidationError[] | null;
  schemaEnv?: unknown;
};

/**
 * A route's validator, compiled by ajv on its first use rather than when the routes are registered: compiling
 * every route's schemas was ~0.4 s of CPU at each start (most routes of a process are never called). It
 * behaves as the compiled function: the same arguments (Fastify passes its context because `schemaEnv` is
 * set), the same answer, its `errors` copied after each call.
 */
export function validatorCompiler({ schema, httpPart }: { schema: object; httpPart?: string }): Validate {
  const ajv = httpPart === "body" ? bodyAjv : textAjv;
  let compiled: Validate | null = null;
  const validate: Validate = (data, ctx) => {
    compiled ??= ajv.compile(schema) as Validate;
    const ok = ctx === undefined ? compiled(data) : compiled(data, ctx);
    validate.errors = compiled.errors;
    return ok;
  };
  validate.schemaEnv = true;
  return validate;
}

function fieldPath(instancePath: string, extra?: string): string {
  const parts = instancePath
    .split("/")
    .filter(Boolean)
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
  if (extra !== undefined) parts.push(extra);
  return parts.join(".");
}

function describe(e: ErrorObject | FastifySchemaValidationError): [string, string] {
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case "required":
      return [fieldPath(e.instancePath, String(params.missingProperty)), "is required"];
    case "additionalProperties":
      return [fieldPath(e.instancePath, String(params.additionalProperty)), "is not a known field"];
    case "type":
      return [fieldPath(e.instancePath), `must be ${String(params.type).replace(",", " or ")}`];
    case "enum":
      return [
        fieldPath(e.instancePath),
        `must be one of: ${(params.allowedValues as unknown[]).map((v) => String(v)).join(", ")}`,
      ];
    case "pattern":
      return [fieldPath(e.instancePath), "has an invalid format"];
    case "format":
      return [fieldPath(e.instancePath), `must be a valid ${String(params.format)}`];
    case "anyOf":
    case "oneOf":
      return [fieldPath(e.instancePath), "has an invalid type or value"];
    default:
      return [fieldPath(e.instancePath), e.message ?? "is invalid"];
  }
}

/** Turns Fastify/ajv validation errors into the contract's `{"<field>": ["<message>"]}`. */
export function validationToFields(errors: FastifySchemaValidationError[], context: string | undefined): FieldErrors {
  const out: FieldErrors = {};
  // A failed union reports each branch's complaint too; the union's own error says it better, alone.
  const unionPaths = new Set(
    errors.filter((e) => e.keyword === "anyOf" || e.keyword === "oneOf").map((e) => e.instancePath),
  );
  for (const e of errors) {
    if (unionPaths.has(e.instancePath) && e.keyword !== "anyOf" && e.keyword !== "oneOf") continue;
    const [path, message] = describe(e);
    const field = path !== "" ? path : context === "querystring" ? "query" : (context ?? "body");
    // Own keys only: a field named like an Object.prototype member (`valueOf`, `toString`) is a field too.
    if (Object.hasOwn(out, field)) out[field]!.push(message);
    else out[field] = [message];
  }
  return out;
}

const valueValidators = new WeakMap<object, ReturnType<Ajv["compile"]>>();

/**
 * Checks a value already inside a body (e.g. an agent's `config` against its adapter's schema) the way bodies
 * are checked, naming fields under `prefix` (`config.command`); null when it is valid.
 */
export function validateValue(schema: object, value: unknown, prefix: string): FieldErrors | null {
  let validate = valueValidators.get(schema);
  if (!validate) {
    validate = bodyAjv.compile(schema);
    valueValidators.set(schema, validate);
  }
  if (validate(value)) return null;
  const errors = (validate.errors ?? []).map((e) => ({ ...e, instancePath: `/${prefix}${e.instancePath}` }));
  return validationToFields(errors as unknown as FastifySchemaValidationError[], prefix);
}
