import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { Data, ListOf } from "../core/envelope.js";
import { IdParam } from "../core/ids.js";
import {
  EvaluateBody,
  Policy,
  PolicyCreate,
  PolicyDecisionView,
  PolicyListQuery,
  PolicyTemplateView,
  PolicyUpdate,
  TemplateCreate,
  TemplateParam,
} from "./policies.schemas.js";
import type { PoliciesService } from "./policies.service.js";

export const policiesRoutes: FastifyPluginAsyncTypebox<{ policies: PoliciesService }> = async (app, { policies }) => {
  const tags = ["policies"];

  app.get(
    "/api/policies",
    {
      config: { access: "member" },
      schema: {
        tags,
        summary: "List policies",
        description: "Oldest first. Filters: `scope` (exact, e.g. `global`, `mission:mission-001`), `enabled`, `mode`.",
        querystring: PolicyListQuery,
        response: { 200: ListOf(Policy) },
      },
    },
    async (req) => policies.list(req.query),
  );

  app.post(
    "/api/policies",
    {
      config: { access: "member", wrap: "policy" },
      schema: {
        tags,
        summary: "Create policy",
        description:
          'Body may be wrapped (`{"policy": {...}}`) or bare. `conditions` and `actions` are validated: a problem is ' +
          "422 naming its path (`conditions.branch.$regex`, `actions.0.explode`). `scope` defaults to `global`, " +
          "`mode` to `enforce`, `enabled` to true; `version` starts at 1.",
        body: PolicyCreate,
        response: { 201: Data(Policy) },
      },
    },
    async (req, reply) => {
      const data = await policies.create(req.body, req.principal);
      reply.code(201).header("location", `/api/policies/${data.policy_id}`);
      return { data };
    },
  );

  app.get(
    "/api/policies/templates",
    {
      config: { access: "member" },
      schema: {
        tags,
        summary: "List policy templates",
        description: "Ready-made policies; create one with `POST /api/policies/templates/:template_id`.",
        response: { 200: ListOf(PolicyTemplateView) },
      },
    },
    async () => policies.templates(),
  );

  app.post(
    "/api/policies/templates/:template_id",
    {
      config: { access: "member", wrap: "policy" },
      schema: {
        tags,
        summary: "Create a policy from a template",
        operationId: "createPolicyFromTemplate",
        description:
          "Creates the template's policy. The body is optional and may override `policy_id` (default: the " +
          "template id), `description`, `scope`, `enabled` and `mode`; change conditions later with PATCH.",
        params: TemplateParam,
        body: TemplateCreate,
        response: { 201: Data(Policy) },
      },
    },
    async (req, reply) => {
      const data = await policies.createFromTemplate(req.params.template_id, req.body, req.principal);
      reply.code(201).header("location", `/api/policies/${data.policy_id}`);
      return { data };
    },
  );

  app.post(
    "/api/policies/evaluate",
    {
      config: { access: "agent" },
      schema: {
        tags,
        summary: "Evaluate an action against the policies",
        operationId: "evaluatePolicies",
        description:
          "Enabled policies whose scope covers the call take part: `global`, `mission:<mission>` (the given " +
          "mission, or the task's) and `agent:<agent>`. The strictest action of the matched enforced policies " +
          "decides (block > require_approval > warn > allow); matched `dry_run` policies are reported in " +
          "`dry_run_matched` and `dry_run_decision` and never decide. Every evaluation is recorded as a " +
          "`policy.evaluated` trace entry whose id is `decision_id`. Agent tokens may call this: they evaluate as " +
          "their own agent (naming another is 403), for missions they are on and tasks assigned to them.",
        body: EvaluateBody,
        response: { 200: Data(PolicyDecisionView) },
      },
    },
    async (req) => ({ data: await policies.evaluateRequest(req.body, req.principal) }),
  );

  app.get(
    "/api/policies/:id",
    {
      config: { access: "member" },
      schema: { tags, summary: "Get policy", params: IdParam, response: { 200: Data(Policy) } },
    },
    async (req) => ({ data: await policies.get(req.params.id) }),
  );

  app.patch(
    "/api/policies/:id",
    {
      config: { access: "member", wrap: "policy" },
      schema: {
        tags,
        summary: "Update policy",
        description:
          "Changes only the fields named; any change bumps `version` by one. `conditions` and `actions` are " +
          "replaced whole and validated as on create. Give `version` to update only if nobody changed it since.",
        params: IdParam,
        body: PolicyUpdate,
        response: { 200: Data(Policy) },
      },
    },
    async (req) => ({ data: await policies.update(req.params.id, req.body, req.principal) }),
  );

  app.delete(
    "/api/policies/:id",
    {
      config: { access: "member" },
      schema: {
        tags,
        summary: "Delete policy",
        description: "The policy stops taking part in evaluations; its history stays in the trace (`policy.deleted`).",
        params: IdParam,
        response: { 204: Type.Null() },
      },
    },
    async (req, reply) => {
      await policies.remove(req.params.id, req.principal);
      reply.code(204);
      return null;
    },
  );
};
