// Property-based tests of the matcher: it never throws on arbitrary JSON actions with conditions that
// passed validation, and its operators obey the algebra they promise (complements, combinators, equality).
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { compileConditions, matches, validateConditions } from "../../src/policies/matcher.js";

const RUNS = 300;

const fieldName = fc.constantFrom("action_type", "branch", "force", "tool", "name", "path", "files", "n", "tags", "x");
const fieldPath = fc.oneof(
  fieldName,
  fc.tuple(fieldName, fieldName).map(([a, b]) => `${a}.${b}`),
  fc.tuple(fieldName, fc.nat(3)).map(([a, i]) => `${a}.${i}`),
  fc.string({ maxLength: 6 }), // anything, including invalid paths (validation filters them)
);
const scalar = fc.oneof(
  fc.constantFrom("main", "git_push", "Bash", ".env", "", 0, 1, -1, 2.5, true, false, null),
  fc.string({ maxLength: 8 }),
  fc.integer(),
);
const literal = fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }));
const pattern = fc.oneof(
  fc.constantFrom(
    "^main$",
    "rm\\s+-rf",
    "\\.env$",
    "(a+)+$",
    "[",
    "(?=x)",
    "a|b",
    "^$",
    "é",
    ".*",
    "\\d{2,}",
    "(?i)bash",
  ),
  fc.string({ maxLength: 10 }),
);

// A recursive arbitrary over the condition grammar (with some invalid shapes mixed in on purpose).
const { doc } = fc.letrec((tie) => ({
  doc: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.dictionary(fieldPath, tie("value"), { maxKeys: 3 }),
    fc.record({ $any: fc.array(tie("doc"), { minLength: 1, maxLength: 3 }) }),
    fc.record({ $all: fc.array(tie("doc"), { minLength: 1, maxLength: 3 }) }),
    fc.record({ $not: tie("doc") }),
  ),
  value: fc.oneof({ depthSize: "small", withCrossShrink: true }, literal, tie("ops"), tie("doc")),
  ops: fc.oneof(
    fc.record({ $in: fc.array(literal, { maxLength: 4 }) }),
    fc.record({ $nin: fc.array(literal, { maxLength: 4 }) }),
    fc.record({ $regex: pattern }, { requiredKeys: ["$regex"] }),
    fc.record({ $regex: pattern, $options: fc.constantFrom("i", "m", "s", "ims", "x", "") }),
    fc.record({ $gt: fc.oneof(fc.integer(), fc.string({ maxLength: 3 })) }),
    fc.record({ $gte: fc.integer(), $lt: fc.integer() }),
    fc.record({ $lte: fc.oneof(fc.double({ noNaN: true }), fc.string({ maxLength: 3 })) }),
    fc.record({ $exists: fc.oneof(fc.boolean(), fc.constant(1)) }),
    fc.record({ $not: tie("value") }),
    fc.record({ $any: fc.array(tie("value"), { minLength: 1, maxLength: 3 }) }),
    fc.record({ $all: fc.array(tie("value"), { minLength: 1, maxLength: 3 }) }),
    fc.record({ $weird: literal }),
  ),
}));

const validDoc = doc.filter((c) => Object.keys(validateConditions(c)).length === 0);

// Actions: arbitrary JSON objects, biased towards the field names the conditions use.
const action = fc.oneof(
  fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 5 })),
  fc.dictionary(
    fieldName,
    fc.oneof(literal, fc.jsonValue({ maxDepth: 4 }), fc.dictionary(fieldName, fc.jsonValue({ maxDepth: 3 }))),
    { maxKeys: 6 },
  ),
);

describe("the matcher never throws", () => {
  test("on arbitrary JSON actions, for conditions that passed validation", () => {
    fc.assert(
      fc.property(validDoc, action, (c, a) => {
        expect(typeof matches(c, a)).toBe("boolean");
      }),
      { numRuns: RUNS * 3 },
    );
  });

  test("validation never throws on arbitrary JSON, and what it accepts compiles and runs", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), action, (c, a) => {
        const errors = validateConditions(c);
        if (Object.keys(errors).length === 0) expect(typeof compileConditions(c)(a)).toBe("boolean");
      }),
      { numRuns: RUNS },
    );
  });

  test("on actions that are not objects, or are deep, or hold odd strings", () => {
    const odd = fc.oneof(
      fc.jsonValue(),
      fc.string({ unit: "binary" }).map((s) => ({ branch: s, path: s, tags: [s] })),
      fc.nat(200).map((n) => {
        let v: unknown = "main";
        for (let i = 0; i < n; i++) v = { tool: v, files: [v] };
        return v;
      }),
    );
    fc.assert(
      fc.property(validDoc, odd, (c, a) => {
        expect(typeof matches(c, a)).toBe("boolean");
      }),
      { numRuns: RUNS },
    );
  });
});

describe("the operators obey their algebra", () => {
  test("$not is the complement, at document and value level", () => {
    fc.assert(
      fc.property(validDoc, action, (c, a) => {
        expect(matches({ $not: c }, a)).toBe(!matches(c, a));
      }),
      { numRuns: RUNS },
    );
    fc.assert(
      fc.property(fieldName, literal, action, (f, v, a) => {
        expect(matches({ [f]: { $not: v } }, a)).toBe(!matches({ [f]: v }, a));
      }),
      { numRuns: RUNS },
    );
  });

  test("$nin is the complement of $in; $exists false of $exists true", () => {
    fc.assert(
      fc.property(
        fieldPath.filter((p) => Object.keys(validateConditions({ [p]: 1 })).length === 0),
        fc.array(literal, { maxLength: 4 }),
        action,
        (f, list, a) => {
          expect(matches({ [f]: { $nin: list } }, a)).toBe(!matches({ [f]: { $in: list } }, a));
          expect(matches({ [f]: { $exists: false } }, a)).toBe(!matches({ [f]: { $exists: true } }, a));
        },
      ),
      { numRuns: RUNS },
    );
  });

  test("$any of one is that one; $all is conjunction; $any is disjunction", () => {
    fc.assert(
      fc.property(validDoc, validDoc, action, (c1, c2, a) => {
        expect(matches({ $any: [c1] }, a)).toBe(matches(c1, a));
        expect(matches({ $all: [c1, c2] }, a)).toBe(matches(c1, a) && matches(c2, a));
        expect(matches({ $any: [c1, c2] }, a)).toBe(matches(c1, a) || matches(c2, a));
      }),
      { numRuns: RUNS },
    );
  });

  test("$in of one value matches exactly what the value matches by equality", () => {
    fc.assert(
      fc.property(fieldName, scalar, action, (f, v, a) => {
        expect(matches({ [f]: { $in: [v] } }, a)).toBe(matches({ [f]: v }, a));
      }),
      { numRuns: RUNS },
    );
  });

  test("an action matches itself taken as conditions (when its keys are plain field names)", () => {
    const key = fc
      .string({ minLength: 1, maxLength: 6 })
      .filter((k) => !k.includes(".") && !k.startsWith("$") && k !== "__proto__" && k !== "constructor");
    const value = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: "small" },
        scalar,
        fc.array(tie("v"), { maxLength: 3 }),
        fc.dictionary(key, tie("v"), { maxKeys: 3 }),
      ),
    })).v;
    fc.assert(
      fc.property(fc.dictionary(key, value, { maxKeys: 5 }), (a) => {
        fc.pre(Object.keys(validateConditions(a)).length === 0);
        expect(matches(a, a)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  test("a regex matches exactly when RegExp agrees, on patterns both engines read alike", () => {
    const simple = fc.constantFrom("^main$", "rm\\s+-rf", "\\.env$", "^(release|hotfix)/", "a|b", "[0-9]+", "^$");
    fc.assert(
      fc.property(simple, fc.string({ maxLength: 12 }), (p, s) => {
        expect(matches({ s: { $regex: p } }, { s })).toBe(new RegExp(p).test(s));
      }),
      { numRuns: RUNS },
    );
  });
});
