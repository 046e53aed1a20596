import { Readable } from "node:stream";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { Data } from "../core/envelope.js";
import { matrixToCsv, CSV_COLUMNS } from "./traceability.csv.js";
import { Matrix, MatrixQuery } from "./traceability.schemas.js";
import type { TraceabilityService } from "./traceability.service.js";

const DESCRIPTION = `The full objective → key results / requirements → tasks tree with coverage statistics.

- \`objectives\`: each with its key results, progress, health and requirements; each requirement with the tasks serving it.
- \`unlinked_requirements\`: requirements without an objective (with their tasks); \`unlinked_tasks\`: tasks serving no requirement.
- Filters (integer id or key; an unknown one matches nothing): \`objective_id\` narrows objectives, requirements and
  tasks to that objective's (so nothing is unlinked); \`mission_id\` and \`sprint_id\` narrow tasks only: every
  objective and requirement is still listed, and coverage is measured against the tasks in scope. A requirement's
  \`task_count\`, \`completion\` and its objective's \`progress\` always count all its tasks.
- Percentages are rounded to one decimal and are 0 when their denominator is 0.
- \`?format=csv\` answers \`text/csv\` with one row per objective/requirement/task path; columns:
  ${CSV_COLUMNS.join(", ")}. Levels with nothing below them get a row with the lower columns empty.

Read in a fixed number of set-based queries inside one snapshot, however large the data.`;

export const traceabilityRoutes: FastifyPluginAsyncTypebox<{ traceability: TraceabilityService }> = async (
  app,
  { traceability },
) => {
  app.get(
    "/api/traceability",
    {
      config: { access: "member" },
      schema: {
        tags: ["traceability"],
        summary: "Get traceability matrix",
        operationId: "getTraceabilityMatrix",
        description: DESCRIPTION,
        querystring: MatrixQuery,
        response: {
          200: {
            description: "The matrix",
            content: {
              "application/json": { schema: Data(Matrix) },
              "text/csv": { schema: Type.String({ description: "CSV with a header row, CRLF line ends" }) },
            },
          },
        },
      },
    },
    async (req, reply) => {
      const { format, ...filters } = req.query;
      if (format === "csv") {
        reply.type("text/csv; charset=utf-8").header("content-disposition", 'attachment; filename="traceability.csv"');
        return matrixToCsv(await traceability.matrix(filters));
      }
      // The schema above documents the body; the body is written as JSON text by the service (the matrix runs
      // to hundreds of thousands of fields: the tasks' JSON comes from the database, the rest is stringified
      // record by record) and sent while it is written, so the client reads the first objectives while the
      // rest are being built. Nothing beyond the schema can leak: every record in it is built by a view function
      // or a SQL expression that names its fields (objectiveToApi, requirementToApi, taskGroupsIn), and the tests
      // compare those records with the schema-serialized ones of their own routes.
      const text = await traceability.matrixText(filters);
      function* answer() {
        yield `{"data":`;
        yield* text;
        yield "}";
      }
      // A stream is sent as is (the response schema only documents it). Its pieces stay strings (object mode)
      // down to the socket: turned into buffers, a 23 MB answer was ~360 allocations of 64 KB that the C
      // allocator kept (a server that had sent the 100,000-task matrix ten times stayed at ~300 MB, ~115 MB so).
      return reply.type("application/json; charset=utf-8").send(Readable.from(answer()) as unknown as string);
    },
  );
};
