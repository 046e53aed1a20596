import fc from "fast-check";
import { describe, expect, test } from "vitest";
import {
  ACTION_KINDS,
  decide,
  decidingMessages,
  policyBlockedError,
  strictest,
  validateActions,
  type CandidatePolicy,
  type PolicyAction,
  type PolicyMode,
} from "../../src/policies/decide.js";
import { compileConditions, validateConditions } from "../../src/policies/matcher.js";
import { shellActions } from "../../src/policies/shell-actions.js";
import { toolUseActions } from "../../src/policies/tool-actions.js";
import { findTemplate, POLICY_TEMPLATES } from "../../src/policies/templates.js";

function policy(
  id: string,
  conditions: Record<string, unknown>,
  actions: PolicyAction[],
  mode: PolicyMode = "enforce",
): CandidatePolicy {
  return { policyId: id, version: 1, mode, actions, match: compileConditions(conditions) };
}

const push = { action_type: "git_push", force: true, branch: "main" };

describe("validateActions", () => {
  test("valid lists", () => {
    expect(validateActions([{ block: "no" }])).toEqual({});
    expect(validateActions([{ warn: "careful" }, { require_approval: "ask" }, { block: "no" }])).toEqual({});
  });

  test.each([
    ["not a list", { block: "x" }, { actions: ["must be a list"] }],
    ["empty", [], { actions: ["must have at least one action"] }],
    [
      "unknown action",
      [{ explode: "boom" }],
      { "actions.0.explode": ["is not a known action; use block, require_approval or warn"] },
    ],
    [
      "two keys",
      [{ block: "a", warn: "b" }],
      { "actions.0": ["must have exactly one key: block, require_approval or warn"] },
    ],
    ["no key", [{}], { "actions.0": ["must have exactly one key: block, require_approval or warn"] }],
    ["not an object", ["block"], { "actions.0": ["must be an object with one key: block, require_approval or warn"] }],
    ["message not a string", [{ block: true }], { "actions.0.block": ["must be a non-empty message"] }],
    ["blank message", [{ warn: "  " }], { "actions.0.warn": ["must be a non-empty message"] }],
    ["message too long", [{ warn: "x".repeat(2001) }], { "actions.0.warn": ["must be at most 2000 characters"] }],
    [
      "second item bad",
      [{ warn: "ok" }, { nope: "x" }],
      { "actions.1.nope": ["is not a known action; use block, require_approval or warn"] },
    ],
    ["too many", Array.from({ length: 21 }, () => ({ warn: "x" })), { actions: ["must have at most 20 actions"] }],
  ])("%s", (_n, actions, errors) => {
    expect(validateActions(actions)).toEqual(errors);
  });
});

describe("decide", () => {
  test("nothing matched → allow", () => {
    expect(decide([policy("p", { action_type: "shell" }, [{ block: "x" }])], push)).toEqual({
      decision: "allow",
      mode: "enforce",
      dry_run_decision: "allow",
      matched: [],
      dry_run_matched: [],
      messages: [],
    });
  });

  test("the strictest matched action decides; messages strictest first", () => {
    const out = decide(
      [
        policy("w", { action_type: "git_push" }, [{ warn: "pushing" }]),
        policy("b", { force: true }, [{ block: "no force" }]),
        policy("a", { branch: "main" }, [{ require_approval: "main needs approval" }]),
        policy("miss", { branch: "dev" }, [{ block: "never" }]),
      ],
      push,
    );
    expect(out.decision).toBe("block");
    expect(out.matched.map((m) => m.policy_id)).toEqual(["w", "b", "a"]);
    expect(out.messages).toEqual(["no force", "main needs approval", "pushing"]);
    expect(out.matched[1]).toEqual({ policy_id: "b", version: 1, mode: "enforce", actions: [{ block: "no force" }] });
  });

  test.each([
    [["warn"], "warn"],
    [["warn", "require_approval"], "require_approval"],
    [["require_approval", "block", "warn"], "block"],
  ] as const)("%j → %s", (kinds, want) => {
    const ps = kinds.map((k, i) => policy(`p${i}`, {}, [{ [k]: k } as PolicyAction]));
    expect(decide(ps, {}).decision).toBe(want);
  });

  test("a policy with several actions decides by its strictest", () => {
    const out = decide([policy("p", {}, [{ warn: "w" }, { block: "b" }])], {});
    expect(out.decision).toBe("block");
    expect(out.messages).toEqual(["b", "w"]);
  });

  test("the same message twice is reported once", () => {
    const out = decide([policy("a", {}, [{ warn: "same" }]), policy("b", {}, [{ warn: "same" }])], {});
    expect(out.messages).toEqual(["same"]);
  });

  test("dry-run matches are reported apart and never decide", () => {
    const out = decide(
      [
        policy("enf", { action_type: "git_push" }, [{ warn: "pushing" }]),
        policy("dry", { force: true }, [{ block: "would block" }], "dry_run"),
      ],
      push,
    );
    expect(out).toEqual({
      decision: "warn",
      mode: "dry_run",
      dry_run_decision: "block",
      matched: [{ policy_id: "enf", version: 1, mode: "enforce", actions: [{ warn: "pushing" }] }],
      dry_run_matched: [{ policy_id: "dry", version: 1, mode: "dry_run", actions: [{ block: "would block" }] }],
      messages: ["pushing"],
    });
  });

  test("mode stays enforce when the dry-run policies would change nothing", () => {
    const out = decide([policy("enf", {}, [{ block: "b" }]), policy("dry", {}, [{ warn: "w" }], "dry_run")], push);
    expect(out.mode).toBe("enforce");
    expect(out.dry_run_decision).toBe("block");
    expect(out.dry_run_matched).toHaveLength(1);
  });

  test("property: removing dry-run policies never changes the decision", () => {
    const kind = fc.constantFrom(...ACTION_KINDS);
    const cand = fc.record({
      mode: fc.constantFrom<PolicyMode>("enforce", "dry_run"),
      kinds: fc.array(kind, { minLength: 1, maxLength: 3 }),
      field: fc.constantFrom("a", "b", "c"),
      value: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.array(cand, { maxLength: 8 }),
        fc.record({ a: fc.boolean(), b: fc.boolean(), c: fc.boolean() }),
        (cs, action) => {
          const ps = cs.map((c, i) =>
            policy(
              `p${i}`,
              { [c.field]: c.value },
              c.kinds.map((k) => ({ [k]: k }) as PolicyAction),
              c.mode,
            ),
          );
          const all = decide(ps, action);
          const enforcedOnly = decide(
            ps.filter((p) => p.mode === "enforce"),
            action,
          );
          expect(all.decision).toBe(enforcedOnly.decision);
          expect(all.messages).toEqual(enforcedOnly.messages);
          const everythingEnforced = decide(
            ps.map((p) => ({ ...p, mode: "enforce" as const })),
            action,
          );
          expect(all.dry_run_decision).toBe(everythingEnforced.decision);
          expect(all.mode === "dry_run").toBe(all.dry_run_decision !== all.decision);
        },
      ),
      { numRuns: 300 },
    );
  });

  test("strictest", () => {
    expect(strictest([])).toBe("allow");
    expect(strictest(["warn", "allow"])).toBe("warn");
    expect(strictest(["block", "require_approval"])).toBe("block");
  });
});

describe("the policy error", () => {
  test("carries the deciding messages and the whole decision", () => {
    const out = decide(
      [policy("w", {}, [{ warn: "careful" }]), policy("b", {}, [{ block: "Force push not allowed" }])],
      push,
    );
    expect(decidingMessages(out)).toEqual(["Force push not allowed"]);
    const err = policyBlockedError(out);
    expect(err.status).toBe(403);
    expect(err.body()).toEqual({ errors: { policy: ["Force push not allowed"] }, policy_decision: out });
  });

  test("no messages for allow", () => {
    expect(decidingMessages(decide([], push))).toEqual([]);
  });
});

describe("templates", () => {
  test.each(POLICY_TEMPLATES.map((t) => [t.template_id, t] as const))("%s is a valid policy", (_id, t) => {
    expect(validateConditions(t.policy.conditions)).toEqual({});
    expect(validateActions(t.policy.actions)).toEqual({});
    expect(t.policy.policy_id).toBe(t.template_id);
    expect(t.policy.mode).toBe("enforce");
  });

  test("the list covers what teams need", () => {
    expect(POLICY_TEMPLATES.map((t) => t.template_id)).toEqual([
      "no-force-push-protected",
      "no-rm-rf-outside-worktree",
      "no-secret-file-writes",
      "approve-migrations",
      "approve-deploys",
    ]);
  });

  /** The decision a template gives for everything one shell line or tool call does. */
  function verdict(id: string, actions: Array<Record<string, unknown>>) {
    const t = findTemplate(id)!;
    const p = policy(t.template_id, t.policy.conditions, t.policy.actions);
    return strictest(actions.map((a) => decide([p], a).decision));
  }
  const sh = (line: string) => shellActions(line, { worktree: "/work/repo" });

  test.each([
    ["git push --force origin main", "block"],
    ["git push -f origin master", "block"],
    ["git push origin +release/1.2", "block"],
    ["git push --force-with-lease origin hotfix/x", "block"],
    ["git push -f", "block"],
    ["git push -f origin HEAD", "block"],
    ["git push -f origin feature/login", "allow"],
    ["git push origin main", "allow"],
    ["git push -f origin mainline", "allow"],
  ])("no-force-push-protected: %s → %s", (line, want) => {
    expect(verdict("no-force-push-protected", sh(line))).toBe(want);
  });

  test.each([
    ["rm -rf node_modules", "allow"],
    ["rm -rf /", "block"],
    ["rm -r ~/x", "block"],
    ["cd .. && rm -rf other", "block"],
    ["rm -rf $TMPDIR/x", "block"],
    ["rm /etc/x", "allow"],
  ])("no-rm-rf-outside-worktree: %s → %s", (line, want) => {
    expect(verdict("no-rm-rf-outside-worktree", sh(line))).toBe(want);
  });

  test.each([
    [".env", "block"],
    ["config/.env.local", "block"],
    [".env.example", "allow"],
    ["app/.ENV.SAMPLE", "allow"],
    ["certs/server.pem", "block"],
    ["keys/deploy.key", "block"],
    ["/home/a/.ssh/id_ed25519", "block"],
    ["secrets.yaml", "block"],
    ["config/credentials.json", "block"],
    [".npmrc", "block"],
    ["src/keyboard.ts", "allow"],
    ["src/secretary.ts", "allow"],
    ["README.md", "allow"],
  ])("no-secret-file-writes: Write %s → %s", (path, want) => {
    expect(verdict("no-secret-file-writes", toolUseActions("Write", { file_path: path, content: "" }))).toBe(want);
  });

  test("no-secret-file-writes also sees shell writes", () => {
    expect(verdict("no-secret-file-writes", sh("echo TOKEN=1 >> .env"))).toBe("block");
    expect(verdict("no-secret-file-writes", sh("sed -i 's/a/b/' .env"))).toBe("block");
    expect(verdict("no-secret-file-writes", sh("cp .env.example .env"))).toBe("block");
    expect(verdict("no-secret-file-writes", sh("cat .env"))).toBe("allow");
  });

  test.each([
    ["npx drizzle-kit migrate", "require_approval"],
    ["npm run migrate", "require_approval"],
    ["npm run db:migrate", "require_approval"],
    ["bin/rails db:migrate", "require_approval"],
    ["python manage.py migrate", "require_approval"],
    ["npx knex migrate:latest", "require_approval"],
    ["npx prisma migrate deploy", "require_approval"],
    ["alembic upgrade head", "require_approval"],
    ["goose up", "require_approval"],
    ["npx drizzle-kit generate", "allow"],
    ['git commit -m "migrate"', "allow"],
    ["grep -r migrate src", "allow"],
    ["npm test", "allow"],
  ])("approve-migrations: %s → %s", (line, want) => {
    expect(verdict("approve-migrations", sh(line))).toBe(want);
  });

  test.each([
    ["npm run deploy", "require_approval"],
    ["fly deploy", "require_approval"],
    ["kubectl apply -f k8s/", "require_approval"],
    ["terraform apply -auto-approve", "require_approval"],
    ["helm upgrade app chart", "require_approval"],
    ["vercel --prod", "require_approval"],
    ["npx firebase deploy", "require_approval"],
    ["kubectl get pods", "allow"],
    ["terraform plan", "allow"],
    ["echo deploy", "allow"],
    ["npm run build", "allow"],
  ])("approve-deploys: %s → %s", (line, want) => {
    expect(verdict("approve-deploys", sh(line))).toBe(want);
  });
});
