// Ready-made policies a team would want, each creatable with one call
// (`POST /api/policies/templates/:template_id`). They are written against the actions produced by
// shell-actions.ts and tool-actions.ts, and every one passes the same validation as a user's policy (tested).
import { MODE, type PolicyAction, type PolicyMode } from "./decide.js";

export interface PolicyTemplate {
  template_id: string;
  name: string;
  description: string;
  policy: {
    policy_id: string;
    description: string;
    scope: string;
    conditions: Record<string, unknown>;
    actions: PolicyAction[];
    enabled: boolean;
    mode: PolicyMode;
  };
}

/** Programs whose arguments merely mention a word (a commit message, a search) rather than run it. */
const MENTIONS_ONLY = ["git", "echo", "printf", "grep", "rg", "cat", "less", "man", "ls", "find"];

function template(
  id: string,
  name: string,
  description: string,
  conditions: Record<string, unknown>,
  actions: PolicyAction[],
): PolicyTemplate {
  return {
    template_id: id,
    name,
    description,
    policy: { policy_id: id, description, scope: "global", conditions, actions, enabled: true, mode: MODE.enforce },
  };
}

export const POLICY_TEMPLATES: readonly PolicyTemplate[] = [
  template(
    "no-force-push-protected",
    "No force push to protected branches",
    "Blocks force pushes (--force, -f, --force-with-lease, --mirror, +refspec) to main, master, trunk, " +
      "develop, production and release/ or hotfix/ branches. A force push that names no branch counts too: " +
      "it pushes the current branch, which may be protected.",
    {
      action_type: "git_push",
      force: true,
      $any: [
        { branch: { $regex: "^(main|master|trunk|develop|production|prod|release/.+|hotfix/.+)$" } },
        { branch: null },
      ],
    },
    [{ block: "Force push to a protected branch is not allowed" }],
  ),
  template(
    "no-rm-rf-outside-worktree",
    "No recursive delete outside the worktree",
    "Blocks `rm -r` / `rm -rf` of any path outside the agent's worktree, including paths that cannot be " +
      "known before the command runs ($VAR, ~, a cd to an unknown place).",
    { action_type: "file_delete", recursive: true, outside_worktree: true },
    [{ block: "Recursive delete outside the worktree is not allowed" }],
  ),
  template(
    "no-secret-file-writes",
    "No writes to .env and secret files",
    "Blocks writing .env files (but not .env.example, .env.sample, .env.template), private keys, and " +
      "credential files, whether by an edit tool or a shell command.",
    {
      action_type: "file_write",
      path: {
        $regex:
          "(^|/)(\\.env(\\.[^/]*)?|[^/]*\\.(pem|key|p12|pfx|keystore|jks)|id_(rsa|dsa|ecdsa|ed25519)[^/]*|" +
          "\\.npmrc|\\.pypirc|\\.netrc|\\.pgpass|\\.htpasswd|credentials(\\.[^/]*)?|secrets?(\\.[^/]*)?)$",
        $options: "i",
        $not: { $regex: "(^|/)\\.env\\.(example|sample|template|dist)$", $options: "i" },
      },
    },
    [{ block: "Writing to .env or secret files is not allowed" }],
  ),
  template(
    "approve-migrations",
    "Approval for database migrations",
    "Asks a person before running database migrations (migrate, db:migrate, prisma/drizzle-kit migrate, " +
      "manage.py migrate, alembic upgrade, flyway migrate, goose up).",
    {
      action_type: "shell",
      commands: {
        $any: [
          { program: { $nin: MENTIONS_ONLY }, args: { $regex: "^(db:)?migrate(:[a-z_-]+)?$" } },
          { program: "alembic", args: "upgrade" },
          { program: "flyway", args: "migrate" },
          { program: "goose", args: { $in: ["up", "up-by-one", "up-to"] } },
        ],
      },
    },
    [{ require_approval: "Running database migrations needs a person's approval" }],
  ),
  template(
    "approve-deploys",
    "Approval for deploys",
    "Asks a person before deploying: `deploy` scripts and commands, kubectl apply/rollout/scale/delete, " +
      "terraform apply/destroy, helm install/upgrade/rollback, vercel/netlify production deploys, fly deploy.",
    {
      action_type: "shell",
      commands: {
        $any: [
          { program: { $nin: MENTIONS_ONLY }, args: { $regex: "^deploy(:[a-z_-]+)?$" } },
          {
            program: "kubectl",
            args: { $in: ["apply", "create", "delete", "rollout", "scale", "set", "patch", "replace"] },
          },
          { program: "terraform", args: { $in: ["apply", "destroy", "import"] } },
          { program: "helm", args: { $in: ["install", "upgrade", "rollback", "uninstall", "delete"] } },
          { program: { $in: ["vercel", "netlify"] }, args: "--prod" },
          { program: { $in: ["fly", "flyctl"] }, args: "deploy" },
        ],
      },
    },
    [{ require_approval: "Deploying needs a person's approval" }],
  ),
];

export function findTemplate(id: string): PolicyTemplate | undefined {
  return POLICY_TEMPLATES.find((t) => t.template_id === id);
}
