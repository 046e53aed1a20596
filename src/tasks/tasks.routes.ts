import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Data, ErrorBody, ListOf } from "../core/envelope.js";
import { IdParam } from "../core/ids.js";
import {
  LogListQuery,
  MissionIdParam,
  ReviewBody,
  Task,
  TaskCreate,
  TaskListQuery,
  TaskLog,
  TaskReport,
  TaskSummary,
  TaskUpdate,
} from "./tasks.schemas.js";
import type { TasksService } from "./tasks.service.js";

const AGENT_READ = "Agent tokens see the tasks assigned to their agent and the tasks of missions their agent is on.";

export const tasksRoutes: FastifyPluginAsyncTypebox<{ tasks: TasksService }> = async (app, { tasks }) => {
  const tags = ["tasks"];

  app.post(
    "/api/missions/:mission_id/tasks",
    {
      config: { access: "member", wrap: "task" },
      schema: {
        tags,
        summary: "Create task (under a mission)",
        description:
          'Body may be wrapped (`{"task": {...}}`) or bare. Only `pending` may be given as status. `agent_id`, ' +
          "`sprint_id` and each of `requirement_ids` name a record by integer id or key; an unknown one is 422.",
        params: MissionIdParam,
        body: TaskCreate,
        response: { 201: Data(Task) },
      },
    },
    async (req, reply) => {
      const data = await tasks.create(req.params.mission_id, req.body, req.principal);
      reply.code(201).header("location", `/api/tasks/${data.task_id}`);
      return { data };
    },
  );

  app.get(
    "/api/missions/:mission_id/tasks",
    {
      config: { access: "agent" },
      schema: {
        tags,
        summary: "List a mission's tasks",
        description:
          "Oldest first; items carry no logs. Filters: status, agent_id, sprint_id (id or key). Agent tokens may " +
          "list the tasks of a mission their agent is on or has a task in (403 for any other mission), and see " +
          "there what GET /api/tasks shows them.",
        params: MissionIdParam,
        querystring: TaskListQuery,
        response: { 200: ListOf(TaskSummary) },
      },
    },
    async (req) => tasks.listForMission(req.params.mission_id, req.query, req.principal),
  );

  app.get(
    "/api/tasks",
    {
      config: { access: "agent" },
      schema: {
        tags,
        summary: "List tasks",
        description: `All missions' tasks, oldest first; items carry no logs. Filters: status, agent_id, sprint_id (id or key). ${AGENT_READ}`,
        querystring: TaskListQuery,
        response: { 200: ListOf(TaskSummary) },
      },
    },
    async (req) => tasks.list(req.query, req.principal),
  );

  app.get(
    "/api/tasks/:id",
    {
      config: { access: "agent" },
      schema: {
        tags,
        summary: "Get task",
        description: `With the latest 100 log lines. ${AGENT_READ}`,
        params: IdParam,
        response: { 200: Data(Task) },
      },
    },
    async (req) => ({ data: await tasks.get(req.params.id, req.principal) }),
  );

  app.patch(
    "/api/tasks/:id",
    {
      config: { access: "member", wrap: "task" },
      schema: {
        tags,
        summary: "Update task",
        description:
          "Changes only the fields named. A status change obeys the task state machine (naming the current " +
          "status is a no-op); `pending_review` → `completed` / `rejected` are for approve / reject only. " +
          "`outputs` and `requirement_ids` replace the stored values.",
        params: IdParam,
        body: TaskUpdate,
        response: { 200: Data(Task) },
      },
    },
    async (req) => ({ data: await tasks.update(req.params.id, req.body, req.principal) }),
  );

  app.post(
    "/api/tasks/:id/report",
    {
      config: { access: "agent", wrap: "progress" },
      schema: {
        tags,
        summary: "Report task progress",
        description:
          'Body may be wrapped (`{"progress": {...}}`) or bare. Applies `status` through the state machine, ' +
          "shallow-merges `outputs`, appends `logs` (a log without timestamp gets the server's time). An " +
          "illegal move is 422 and changes nothing. Agent tokens may report only tasks assigned to their agent.",
        params: IdParam,
        body: TaskReport,
        response: { 200: Data(Task) },
      },
    },
    async (req) => ({ data: await tasks.report(req.params.id, req.body, req.principal) }),
  );

  app.post(
    "/api/tasks/:id/approve",
    {
      config: { access: "member" },
      schema: {
        tags,
        summary: "Approve task",
        description:
          "`pending_review` → `completed`, else 422. Pre-completion steps (merging the pull request) run " +
          "first; when one fails the task stays in `pending_review` and the response says why. The comment " +
          "is kept in the trace.",
        params: IdParam,
        body: ReviewBody,
        response: {
          200: Data(Task),
          502: {
            ...ErrorBody,
            description: "Merging the pull request failed at GitHub; the task stays in `pending_review`",
          },
        },
      },
    },
    async (req) => ({ data: await tasks.approve(req.params.id, req.body, req.principal) }),
  );

  app.post(
    "/api/tasks/:id/reject",
    {
      config: { access: "member" },
      schema: {
        tags,
        summary: "Reject task",
        description: "`pending_review` → `rejected`, else 422. The comment (reviewer feedback) is kept in the trace.",
        params: IdParam,
        body: ReviewBody,
        response: { 200: Data(Task) },
      },
    },
    async (req) => ({ data: await tasks.reject(req.params.id, req.body, req.principal) }),
  );

  app.get(
    "/api/tasks/:id/logs",
    {
      config: { access: "agent" },
      schema: {
        tags,
        summary: "List a task's logs",
        description: `Every log line, oldest first, paged. ${AGENT_READ}`,
        params: IdParam,
        querystring: LogListQuery,
        response: { 200: ListOf(TaskLog) },
      },
    },
    async (req) => tasks.logs(req.params.id, req.query, req.principal),
  );
};
