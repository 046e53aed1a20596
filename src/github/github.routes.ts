import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Data, ErrorBody, ListOf } from "../core/envelope.js";
import { Unauthorized } from "../core/errors.js";
import { parseJsonBody } from "../http/json.js";
import { Task } from "../tasks/tasks.schemas.js";
import {
  Issue,
  IssueIdParam,
  IssueListQuery,
  IssueOwnerNameParam,
  IssueTaskCreate,
  SyncIdParam,
  SyncRun,
  WebhookBody,
  WebhookHeaders,
  WebhookResult,
} from "./github.schemas.js";
import type { GithubService } from "./github.service.js";

/** GitHub caps webhook payloads at 25 MB; a larger body cannot be a real delivery. */
const WEBHOOK_BODY_LIMIT = 25 * 1024 * 1024;

/** The webhook body as received: the signature is over these exact bytes, so they are kept until checked. */
class RawBody {
  constructor(readonly bytes: Buffer) {}
}

export const githubRoutes: FastifyPluginAsyncTypebox<{ github: GithubService; bodyLimit: number }> = async (
  app,
  { github, bodyLimit },
) => {
  const tags = ["github"];

  app.post(
    "/api/github/sync",
    {
      config: { access: "member" },
      schema: {
        tags,
        summary: "Start a sync of the configured repositories",
        description:
          "202 with the run (`queued`, then `running`, `succeeded` or `failed`). While a run is queued or running, " +
          "202 with that run instead of a new one. Incremental: only issues updated since the last run's high-water " +
          "mark are fetched, and an unchanged repository costs a 304. Rate limits are waited out, or the run goes " +
          "back to `queued` with `resume_at`. 422 when GITHUB_REPOS / GITHUB_TOKEN are not configured.",
        response: { 202: Data(SyncRun) },
      },
    },
    async (req, reply) => {
      const { run } = await github.startSync(req.principal);
      reply.code(202).header("location", `/api/github/sync/${run.id}`);
      return { data: run };
    },
  );

  app.get(
    "/api/github/sync/:id",
    {
      config: { access: "member" },
      schema: {
        tags,
        summary: "Get a sync run",
        description: "State, counts (overall and per repository) and errors of a run.",
        params: SyncIdParam,
        response: { 200: Data(SyncRun) },
      },
    },
    async (req) => ({ data: await github.getRun(req.params.id) }),
  );

  app.get(
    "/api/github/issues",
    {
      config: { access: "member" },
      schema: {
        tags,
        summary: "List synced issues",
        description:
          "Oldest first. Filters: `repo` (owner/name), `state` (open, closed), `label`, `linked` (true: linked to a task).",
        querystring: IssueListQuery,
        response: { 200: ListOf(Issue) },
      },
    },
    async (req) => github.listIssues(req.query),
  );

  const getIssueSchema = { tags, summary: "Get a synced issue", response: { 200: Data(Issue) } };
  app.get(
    "/api/github/issues/:id",
    {
      config: { access: "member" },
      schema: {
        ...getIssueSchema,
        description: "By integer id, or by `owner/name#number` URL-encoded as one segment (`octo%2Fhello%2312`).",
        params: IssueIdParam,
      },
    },
    async (req) => ({ data: await github.getIssue(req.params.id) }),
  );
  // `owner/name#number` with its slash left as is: /api/github/issues/octo/hello%2312.
  app.get(
    "/api/github/issues/:owner/:name",
    {
      config: { access: "member" },
      schema: {
        ...getIssueSchema,
        operationId: "getGithubIssueByRepo",
        description: "By `owner/name#number`, the `#` encoded as `%23`.",
        params: IssueOwnerNameParam,
      },
    },
    async (req) => ({ data: await github.getIssue(`${req.params.owner}/${req.params.name}`) }),
  );

  const createTaskSchema = {
    tags,
    summary: "Create a task from an issue",
    description:
      "Creates a `pending` task in `mission_id` (integer id or key) whose objective is the issue's title and body, " +
      "and links the two: the issue's `task_id` names the task, the task's outputs name the issue (`github_issue`). " +
      "When the issue is closed on GitHub, the task's trace says so; with GITHUB_COMMENT_ON_COMPLETE, the task's " +
      "completion is commented on the issue. An issue already linked is 422.",
    body: IssueTaskCreate,
    response: { 201: Data(Task) },
  };
  app.post(
    "/api/github/issues/:id/task",
    { config: { access: "member" }, schema: { ...createTaskSchema, params: IssueIdParam } },
    async (req, reply) => {
      const data = await github.createTask(req.params.id, req.body, req.principal);
      reply.code(201).header("location", `/api/tasks/${data.task_id}`);
      return { data };
    },
  );
  app.post(
    "/api/github/issues/:owner/:name/task",
    {
      config: { access: "member" },
      schema: { ...createTaskSchema, operationId: "createGithubIssueTaskByRepo", params: IssueOwnerNameParam },
    },
    async (req, reply) => {
      const data = await github.createTask(`${req.params.owner}/${req.params.name}`, req.body, req.principal);
      reply.code(201).header("location", `/api/tasks/${data.task_id}`);
      return { data };
    },
  );

  // The webhook lives in its own scope: its JSON arrives as bytes (the signature is over them), and it is
  // checked before the JSON is even parsed, so an unsigned request learns nothing but 401.
  await app.register(async (hook) => {
    hook.removeContentTypeParser("application/json");
    hook.addContentTypeParser("application/json", { parseAs: "buffer" }, (_req, body, done) => {
      done(null, new RawBody(body as Buffer));
    });

    hook.post(
      "/api/github/webhook",
      {
        config: { access: "public" },
        bodyLimit: Math.max(bodyLimit, WEBHOOK_BODY_LIMIT),
        preValidation: async (req) => {
          const raw = req.body instanceof RawBody ? req.body.bytes : Buffer.alloc(0);
          if (!github.verifyWebhook(raw, req.headers["x-hub-signature-256"])) throw new Unauthorized();
          req.body = parseJsonBody(raw.toString("utf8")) ?? {};
        },
        schema: {
          tags,
          summary: "GitHub webhook",
          operationId: "receiveGithubWebhook",
          description:
            "For GitHub only: no bearer token; authenticated by `X-Hub-Signature-256` (HMAC-SHA256 of the raw body " +
            "with GITHUB_WEBHOOK_SECRET), else 401. Configure the hook with content type `application/json`. " +
            "`issues` events update the synced issues at once (and note a linked issue's closing in its task's trace); " +
            "`pull_request` events are noted in the trace of the tasks whose `outputs.pr_url` names the pull request; " +
            "`ping` answers `pong`. A delivery already applied (same `X-GitHub-Delivery`) answers `duplicate` and " +
            "changes nothing.",
          security: [],
          headers: WebhookHeaders,
          body: WebhookBody,
          response: {
            200: Data(WebhookResult),
            401: { ...ErrorBody, description: "`X-Hub-Signature-256` is missing or does not match the body" },
          },
        },
      },
      async (req) => ({
        data: await github.handleWebhook(
          String(req.headers["x-github-event"]),
          String(req.headers["x-github-delivery"]),
          req.body as Record<string, unknown>,
        ),
      }),
    );
  });
};
