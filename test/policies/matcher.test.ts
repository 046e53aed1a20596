import { describe, expect, test } from "vitest";
import {
  compileConditions,
  deepEqual,
  InvalidConditions,
  matches,
  MAX_CONDITION_DEPTH,
  MAX_REGEX_LENGTH,
  validateConditions,
} from "../../src/policies/matcher.js";

type Case = [string, Record<string, unknown>, Record<string, unknown>, boolean];

const push = { action_type: "git_push", force: true, branch: "main", remote: "origin" };

describe("equality and nesting", () => {
  const cases: Case[] = [
    ["the reference's no-force-push matches a force push", { action_type: "git_push", force: true }, push, true],
    ["…and not a normal push", { action_type: "git_push", force: true }, { ...push, force: false }, false],
    ["…nor a push without the field", { action_type: "git_push", force: true }, { action_type: "git_push" }, false],
    ["every key must match", { action_type: "git_push", branch: "dev" }, push, false],
    ["empty conditions match everything", {}, push, true],
    ["equality is strict about type", { force: "true" }, push, false],
    ["number equality", { n: 3 }, { n: 3 }, true],
    ["number inequality", { n: 3 }, { n: 4 }, false],
    ["null matches null", { branch: null }, { branch: null }, true],
    ["null matches a missing field", { branch: null }, {}, true],
    ["null does not match a value", { branch: null }, { branch: "main" }, false],
    [
      "a nested object matches the nested value partially",
      { tool: { name: "Bash" } },
      { tool: { name: "Bash", input: { x: 1 } } },
      true,
    ],
    ["a nested object mismatch", { tool: { name: "Bash" } }, { tool: { name: "Write" } }, false],
    ["a nested object against a scalar", { tool: { name: "Bash" } }, { tool: "Bash" }, false],
    ["a nested object against a missing field", { tool: { name: "Bash" } }, {}, false],
    ["an empty nested object matches any object", { tool: {} }, { tool: { a: 1 } }, true],
    ["an empty nested object does not match a scalar", { tool: {} }, { tool: 1 }, false],
    ["deeply nested", { a: { b: { c: { d: 1 } } } }, { a: { b: { c: { d: 1, e: 2 } } } }, true],
    ["dotted path", { "tool.name": "Bash" }, { tool: { name: "Bash" } }, true],
    ["dotted path mismatch", { "tool.name": "Bash" }, { tool: { name: "Edit" } }, false],
    ["dotted path through a missing object", { "tool.name": "Bash" }, { tool: null }, false],
    ["dotted path with an array index", { "files.1": "b" }, { files: ["a", "b"] }, true],
    ["dotted path index out of range", { "files.5": "b" }, { files: ["a", "b"] }, false],
    [
      "dotted path into array elements (any)",
      { "files.path": ".env" },
      { files: [{ path: "a" }, { path: ".env" }] },
      true,
    ],
    [
      "dotted path into array elements (none)",
      { "files.path": ".env" },
      { files: [{ path: "a" }, { path: "b" }] },
      false,
    ],
    ["dotted path index then field", { "files.0.path": "a" }, { files: [{ path: "a" }, { path: "b" }] }, true],
    [
      "dotted path index then field (mismatch)",
      { "files.0.path": "b" },
      { files: [{ path: "a" }, { path: "b" }] },
      false,
    ],
    ["literal keys with dots are not looked up", { "a.b": 1 }, { "a.b": 1 }, false],
    [
      "inherited names are never read",
      { "tool.hasOwnProperty": null, "x.toString": { $exists: false } },
      { tool: {}, x: {} },
      true,
    ],
  ];
  test.each(cases)("%s", (_n, cond, action, want) => {
    expect(validateConditions(cond)).toEqual({});
    expect(matches(cond, action)).toBe(want);
  });
});

describe("arrays match like MongoDB", () => {
  const cases: Case[] = [
    ["a scalar matches when any element equals it", { labels: "security" }, { labels: ["ui", "security"] }, true],
    ["no element equals it", { labels: "security" }, { labels: ["ui", "docs"] }, false],
    ["an array condition matches the whole array", { labels: ["ui", "docs"] }, { labels: ["ui", "docs"] }, true],
    ["array equality is ordered", { labels: ["docs", "ui"] }, { labels: ["ui", "docs"] }, false],
    ["an array condition matches an element that is that array", { m: [1, 2] }, { m: [[1, 2], [3]] }, true],
    [
      "a nested object matches any object element",
      { files: { path: ".env" } },
      { files: [{ path: "x" }, { path: ".env", size: 1 }] },
      true,
    ],
    ["nested object, no element", { files: { path: ".env" } }, { files: [{ path: "x" }] }, false],
    [
      "nested object: one element must satisfy all its keys",
      { files: { path: ".env", op: "write" } },
      {
        files: [
          { path: ".env", op: "read" },
          { path: "x", op: "write" },
        ],
      },
      false,
    ],
    ["$in over elements", { labels: { $in: ["security", "infra"] } }, { labels: ["ui", "infra"] }, true],
    [
      "$nin over elements: one hit is enough to fail",
      { labels: { $nin: ["infra"] } },
      { labels: ["ui", "infra"] },
      false,
    ],
    ["$nin over elements: none", { labels: { $nin: ["infra"] } }, { labels: ["ui"] }, true],
    ["$regex over elements", { paths: { $regex: "^/etc/" } }, { paths: ["src/a.ts", "/etc/passwd"] }, true],
    ["$gt over elements", { sizes: { $gt: 100 } }, { sizes: [1, 2, 300] }, true],
    ["$gt over elements, none", { sizes: { $gt: 100 } }, { sizes: [1, 2, 3] }, false],
    ["an empty array is not missing", { labels: { $exists: true } }, { labels: [] }, true],
    ["an empty array matches no scalar", { labels: "x" }, { labels: [] }, false],
    ["an empty array equals an empty array", { labels: [] }, { labels: [] }, true],
    ["arrays of arrays are not flattened twice", { m: 1 }, { m: [[1]] }, false],
  ];
  test.each(cases)("%s", (_n, cond, action, want) => {
    expect(validateConditions(cond)).toEqual({});
    expect(matches(cond, action)).toBe(want);
  });
});

describe("operators", () => {
  const cases: Case[] = [
    ["$in hit", { branch: { $in: ["main", "master"] } }, push, true],
    ["$in miss", { branch: { $in: ["dev"] } }, push, false],
    ["$in with null matches missing", { branch: { $in: [null, "x"] } }, {}, true],
    ["$in without null does not match missing", { branch: { $in: ["x"] } }, {}, false],
    ["$in with objects compares deeply", { who: { $in: [{ a: 1, b: [2] }] } }, { who: { b: [2], a: 1 } }, true],
    ["$in is type-strict", { n: { $in: ["1"] } }, { n: 1 }, false],
    ["$in empty list matches nothing", { n: { $in: [] } }, { n: 1 }, false],
    ["$nin miss → match", { branch: { $nin: ["dev"] } }, push, true],
    ["$nin hit → no match", { branch: { $nin: ["main"] } }, push, false],
    ["$nin matches a missing field", { branch: { $nin: ["main"] } }, {}, true],
    ["$nin with null does not match missing", { branch: { $nin: [null] } }, {}, false],
    ["$regex hit", { branch: { $regex: "^release/" } }, { branch: "release/1.2" }, true],
    ["$regex miss", { branch: { $regex: "^release/" } }, { branch: "main" }, false],
    ["$regex is unanchored", { cmd: { $regex: "rm -rf" } }, { cmd: "cd x && rm -rf /" }, true],
    ["$regex is case-sensitive by default", { path: { $regex: "\\.ENV$" } }, { path: "a/.env" }, false],
    ["$regex with $options i", { path: { $regex: "\\.ENV$", $options: "i" } }, { path: "a/.env" }, true],
    ["$regex with $options m", { log: { $regex: "^error", $options: "m" } }, { log: "ok\nerror: x" }, true],
    ["$regex without m: ^ is the start of input", { log: { $regex: "^error" } }, { log: "ok\nerror: x" }, false],
    ["$regex with $options s", { log: { $regex: "a.b", $options: "s" } }, { log: "a\nb" }, true],
    ["$regex ignores non-strings", { n: { $regex: "1" } }, { n: 1 }, false],
    ["$regex on a missing field", { n: { $regex: "" } }, {}, false],
    ["$regex with unicode input", { s: { $regex: "é+" } }, { s: "caféé" }, true],
    ["$gt", { n: { $gt: 5 } }, { n: 6 }, true],
    ["$gt equal", { n: { $gt: 5 } }, { n: 5 }, false],
    ["$gte equal", { n: { $gte: 5 } }, { n: 5 }, true],
    ["$lt", { n: { $lt: 5 } }, { n: 4.5 }, true],
    ["$lt equal", { n: { $lt: 5 } }, { n: 5 }, false],
    ["$lte equal", { n: { $lte: 5 } }, { n: 5 }, true],
    ["range: both bounds", { n: { $gt: 1, $lt: 10 } }, { n: 5 }, true],
    ["range: outside", { n: { $gt: 1, $lt: 10 } }, { n: 10 }, false],
    ["comparison is type-strict", { n: { $gt: 5 } }, { n: "6" }, false],
    ["string comparison", { at: { $gte: "2026-01-01" } }, { at: "2026-02-26T12:00:00Z" }, true],
    ["string comparison miss", { at: { $lt: "2026-01-01" } }, { at: "2026-02-26" }, false],
    ["comparison on missing", { n: { $lt: 5 } }, {}, false],
    ["$exists true", { pr_url: { $exists: true } }, { pr_url: "x" }, true],
    ["$exists true on null value", { pr_url: { $exists: true } }, { pr_url: null }, true],
    ["$exists true on missing", { pr_url: { $exists: true } }, {}, false],
    ["$exists false on missing", { pr_url: { $exists: false } }, {}, true],
    ["$exists false on present", { pr_url: { $exists: false } }, { pr_url: 1 }, false],
    ["$not of a value", { branch: { $not: "main" } }, push, false],
    ["$not of a value (other)", { branch: { $not: "main" } }, { branch: "dev" }, true],
    ["$not of an operator", { branch: { $not: { $regex: "^feature/" } } }, { branch: "main" }, true],
    ["$not of an operator (hit)", { branch: { $not: { $regex: "^feature/" } } }, { branch: "feature/x" }, false],
    ["$not matches a missing field", { branch: { $not: "main" } }, {}, true],
    ["$not of a nested object", { tool: { $not: { name: "Bash" } } }, { tool: { name: "Edit" } }, true],
    ["$any of values", { branch: { $any: ["main", { $regex: "^release/" }] } }, { branch: "release/2" }, true],
    ["$any of values (none)", { branch: { $any: ["main", { $regex: "^release/" }] } }, { branch: "dev" }, false],
    ["$all of values", { cmd: { $all: [{ $regex: "rm" }, { $regex: "-rf" }] } }, { cmd: "rm -rf x" }, true],
    ["$all of values (one fails)", { cmd: { $all: [{ $regex: "rm" }, { $regex: "-rf" }] } }, { cmd: "rm x" }, false],
    [
      "$all over array elements (different elements may satisfy)",
      { labels: { $all: ["a", "b"] } },
      { labels: ["b", "a", "c"] },
      true,
    ],
    [
      "operators combine with AND",
      { path: { $regex: "\\.env", $not: { $regex: "\\.example$" } } },
      { path: ".env.example" },
      false,
    ],
    [
      "operators combine with AND (hit)",
      { path: { $regex: "\\.env", $not: { $regex: "\\.example$" } } },
      { path: ".env.local" },
      true,
    ],
  ];
  test.each(cases)("%s", (_n, cond, action, want) => {
    expect(validateConditions(cond)).toEqual({});
    expect(matches(cond, action)).toBe(want);
  });
});

describe("document combinators", () => {
  const cases: Case[] = [
    [
      "$any at the top",
      { $any: [{ action_type: "git_push" }, { action_type: "git_reset" }] },
      { action_type: "git_reset" },
      true,
    ],
    [
      "$any at the top (none)",
      { $any: [{ action_type: "git_push" }, { action_type: "git_reset" }] },
      { action_type: "shell" },
      false,
    ],
    ["$all at the top", { $all: [{ force: true }, { branch: "main" }] }, push, true],
    ["$all at the top (one fails)", { $all: [{ force: true }, { branch: "dev" }] }, push, false],
    ["$not at the top", { $not: { branch: "main" } }, push, false],
    ["$not at the top (other)", { $not: { branch: "main" } }, { branch: "dev" }, true],
    [
      "fields and combinators together",
      { action_type: "git_push", force: true, $any: [{ branch: "main" }, { branch: null }] },
      { action_type: "git_push", force: true },
      true,
    ],
    [
      "combinators inside nested objects",
      { tool: { $any: [{ name: "Bash" }, { name: "Write" }] } },
      { tool: { name: "Write" } },
      true,
    ],
    ["nested combinators", { $any: [{ $all: [{ a: 1 }, { b: 2 }] }, { c: 3 }] }, { a: 1, b: 2 }, true],
  ];
  test.each(cases)("%s", (_n, cond, action, want) => {
    expect(validateConditions(cond)).toEqual({});
    expect(matches(cond, action)).toBe(want);
  });
});

describe("validation names the path of every problem", () => {
  const bad: Array<[string, unknown, Record<string, string[]>]> = [
    ["unknown operator", { branch: { $foo: 1 } }, { "conditions.branch.$foo": ["is not a known operator"] }],
    ["unknown top-level operator", { $or: [{ a: 1 }] }, { "conditions.$or": ["is not a known operator"] }],
    [
      "value operator at document level",
      { $in: [1] },
      { "conditions.$in": ["applies to a field: use it inside a field's condition"] },
    ],
    [
      "malformed regex",
      { branch: { $regex: "[" } },
      {
        "conditions.branch.$regex": [
          "is not a valid regular expression in RE2 syntax: error parsing regexp: missing closing ]: `[`",
        ],
      },
    ],
    [
      "backreference",
      { branch: { $regex: "(a)\\1" } },
      {
        "conditions.branch.$regex": [
          "is not a valid regular expression in RE2 syntax: error parsing regexp: invalid escape sequence: `\\1`",
        ],
      },
    ],
    [
      "lookahead",
      { branch: { $regex: "(?=a)" } },
      {
        "conditions.branch.$regex": [
          "is not a valid regular expression in RE2 syntax: error parsing regexp: invalid or unsupported Perl syntax: `(?=`",
        ],
      },
    ],
    ["regex not a string", { branch: { $regex: 5 } }, { "conditions.branch.$regex": ["must be a string"] }],
    [
      "regex too long",
      { branch: { $regex: "a".repeat(MAX_REGEX_LENGTH + 1) } },
      { "conditions.branch.$regex": [`must be at most ${MAX_REGEX_LENGTH} characters`] },
    ],
    [
      "regex repeat over RE2's limit",
      { branch: { $regex: "((((a{100}){100}){100}){100})" } },
      {
        "conditions.branch.$regex": [
          "is not a valid regular expression in RE2 syntax: error parsing regexp: invalid repeat count: `{100}`",
        ],
      },
    ],
    [
      "regex compiling to too large a program",
      { branch: { $regex: "(abcdefghij|klmnopqrst){1000}" } },
      { "conditions.branch.$regex": ["is too complex (its compiled program is too large)"] },
    ],
    [
      "bad $options",
      { p: { $regex: "a", $options: "g" } },
      { "conditions.p.$options": ["must be a string of the options i, m and s, each at most once"] },
    ],
    [
      "repeated $options",
      { p: { $regex: "a", $options: "ii" } },
      { "conditions.p.$options": ["must be a string of the options i, m and s, each at most once"] },
    ],
    ["$options without $regex", { p: { $options: "i" } }, { "conditions.p.$options": ["requires $regex beside it"] }],
    ["$in not a list", { b: { $in: "main" } }, { "conditions.b.$in": ["must be a list"] }],
    ["$nin not a list", { b: { $nin: {} } }, { "conditions.b.$nin": ["must be a list"] }],
    ["$gt not comparable", { n: { $gt: true } }, { "conditions.n.$gt": ["must be a number or a string"] }],
    ["$lte null", { n: { $lte: null } }, { "conditions.n.$lte": ["must be a number or a string"] }],
    ["$exists not boolean", { n: { $exists: 1 } }, { "conditions.n.$exists": ["must be true or false"] }],
    ["$any empty", { $any: [] }, { "conditions.$any": ["must be a non-empty list"] }],
    ["$all not a list", { n: { $all: 1 } }, { "conditions.n.$all": ["must be a non-empty list"] }],
    ["$any item not an object at document level", { $any: [1] }, { "conditions.$any.0": ["must be an object"] }],
    ["$not at document level must be an object", { $not: "x" }, { "conditions.$not": ["must be an object"] }],
    [
      "problem deep inside combinators",
      { $any: [{ tool: { name: { $regex: "(" } } }] },
      {
        "conditions.$any.0.tool.name.$regex": [
          "is not a valid regular expression in RE2 syntax: error parsing regexp: missing closing ): `(`",
        ],
      },
    ],
    ["problem inside $not", { b: { $not: { $bad: 1 } } }, { "conditions.b.$not.$bad": ["is not a known operator"] }],
    [
      "problem inside value $any",
      { b: { $any: ["x", { $regex: 1 }] } },
      { "conditions.b.$any.1.$regex": ["must be a string"] },
    ],
    [
      "mixed operators and fields",
      { b: { $in: [1], x: 1 } },
      { "conditions.b": ["cannot mix operators ($…) and field names in one object"] },
    ],
    ["empty path segment", { "a..b": 1 }, { "conditions.a..b": ["is not a valid field path"] }],
    ["forbidden path segment", { "a.__proto__": 1 }, { "conditions.a.__proto__": ["is not an allowed key"] }],
    [
      "several problems at once",
      { a: { $foo: 1 }, b: { $regex: "[", $options: "x" } },
      {
        "conditions.a.$foo": ["is not a known operator"],
        "conditions.b.$regex": [
          "is not a valid regular expression in RE2 syntax: error parsing regexp: missing closing ]: `[`",
        ],
        "conditions.b.$options": ["must be a string of the options i, m and s, each at most once"],
      },
    ],
    ["not an object", [1], { conditions: ["must be an object"] }],
    ["too large", { big: "x".repeat(40_000) }, { conditions: ["must be at most 32768 characters of JSON"] }],
  ];
  test.each(bad)("%s", (_n, cond, errors) => {
    expect(validateConditions(cond)).toEqual(errors);
    expect(() => compileConditions(cond)).toThrow(InvalidConditions);
  });

  test("nesting deeper than the limit is refused, at the limit accepted", () => {
    const nest = (n: number) => {
      let v: Record<string, unknown> = { leaf: 1 };
      for (let i = 0; i < n; i++) v = { a: v };
      return v;
    };
    expect(validateConditions(nest(MAX_CONDITION_DEPTH - 2))).toEqual({});
    const errors = validateConditions(nest(MAX_CONDITION_DEPTH + 5));
    expect(Object.values(errors).flat()).toEqual([`is nested deeper than ${MAX_CONDITION_DEPTH} levels`]);
  });

  test("a literal array may hold objects with $ keys (compared by equality)", () => {
    const cond = { tags: [{ $in: 1 }] };
    expect(validateConditions(cond)).toEqual({});
    expect(matches(cond, { tags: [{ $in: 1 }] })).toBe(true);
  });

  test("$in lists may hold anything, even operator-like objects", () => {
    expect(validateConditions({ a: { $in: [{ $regex: "x" }, null, [1]] } })).toEqual({});
  });
});

describe("ReDoS: regexes run in linear time", () => {
  test.each([
    ["(a+)+$", "a".repeat(200_000) + "!"],
    ["(a|aa)*b", "a".repeat(200_000)],
    ["(\\w+\\s?)*$", "word ".repeat(40_000) + "!"],
    [".*a.*a.*a.*x", "a".repeat(200_000)],
    ["^(([a-z])+.)+[A-Z]([a-z])+$", "a".repeat(100_000) + "!"],
  ])("%s on a hostile input finishes fast", (pattern, input) => {
    const cond = { s: { $regex: pattern } };
    expect(validateConditions(cond)).toEqual({});
    const m = compileConditions(cond);
    const t0 = performance.now();
    m({ s: input });
    // A backtracking engine takes longer than the age of the universe on these.
    expect(performance.now() - t0).toBeLessThan(2_000);
  });
});

describe("deepEqual", () => {
  test.each([
    [1, 1, true],
    [0, -0, true],
    ["a", "a", true],
    [null, null, true],
    [null, undefined, false],
    [[1, [2]], [1, [2]], true],
    [[1, 2], [2, 1], false],
    [{ a: 1, b: 2 }, { b: 2, a: 1 }, true],
    [{ a: 1 }, { a: 1, b: undefined }, false],
    [{ a: [] }, { a: {} }, false],
    [[], {}, false],
  ])("%j vs %j → %s", (a, b, want) => {
    expect(deepEqual(a, b)).toBe(want);
  });
});
