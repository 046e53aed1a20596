import { Readable } from "node:stream";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { Data, ListOf } from "../core/envelope.js";
import {
  ChainQuery,
  MissionTraceQuery,
  ReplayBody,
  ReplayResult,
  TraceEntry,
  TraceQuery,
  VerifyResult,
} from "./trace.schemas.js";
import type { TraceService } from "./trace.service.js";

export const traceRoutes: FastifyPluginAsyncTypebox<{ trace: TraceService }> = async (app, { trace }) => {
  const tags = ["trace"];
  app.get(
    "/api/trace",
    {
      config: { access: "member" },
      schema: {
        tags,
        summary: "List trace logs",
        description: "Oldest first. Filters: mission_id, task_id, agent_id (id or key), event, since, until.",
        querystring: TraceQuery,
        response: { 200: ListOf(TraceEntry) },
      },
    },
    async (req) => trace.list(req.query),
  );

  app.get(
    "/api/missions/:mission_id/trace",
    {
      config: { access: "member" },
      schema: {
        tags,
        summary: "Get mission trace",
        params: Type.Object({ mission_id: Type.String() }),
        querystring: MissionTraceQuery,
        response: { 200: ListOf(TraceEntry) },
      },
    },
    async (req) => trace.listForMission(req.params.mission_id, req.query),
  );

  app.get(
    "/api/trace/verify",
    {
      config: { access: "member" },
      schema: {
        tags,
        summary: "Verify the hash chain",
        description:
          "Walks a mission's chain (`mission_id`, id or key), or every chain when omitted, recomputing each entry's " +
          "hash and link and comparing each chain's end with its recorded head. Detects entries changed, deleted, " +
          "inserted or reordered in the database.",
        querystring: ChainQuery,
        response: { 200: Data(VerifyResult) },
      },
    },
    async (req) => ({ data: await trace.verify(req.query) }),
  );

  app.get(
    "/api/trace/export",
    {
      config: { access: "member" },
      schema: {
        tags,
        summary: "Export the trace as JSON Lines",
        description:
          "Streams every entry of a mission's chain (`mission_id`), or of the whole trace when omitted, oldest first, " +
          "one JSON object per line with `prev_hash` and `hash`. `at` is given exactly as hashed. The chain can be " +
          "re-verified offline with scripts/verify-trace.mjs: hash = SHA-256(prev_hash + canonical JSON of the entry " +
          "without id, prev_hash and hash), keys sorted, no whitespace; the first prev_hash of a chain is 64 zeros. " +
          'The last line is a summary, `{"chain_heads": {<mission_id, or "" for the global chain>: <hash of its ' +
          'last entry in the file>}, "entries": <count>}`: a file that does not end on a matching summary was cut off.',
        querystring: ChainQuery,
        response: {
          200: {
            description: "JSON Lines",
            content: { "application/x-ndjson": { schema: Type.String() } },
          },
        },
      },
    },
    async (req, reply) => {
      const lines = await trace.exportStream(req.query);
      const name = req.query.mission_id === undefined ? "trace" : `trace-${req.query.mission_id}`;
      return (
        reply
          .type("application/x-ndjson; charset=utf-8")
          .header("content-disposition", `attachment; filename="${name.replace(/[^A-Za-z0-9._:-]/g, "_")}.jsonl"`)
          // A stream is sent as is (the response schema only documents it).
          .send(Readable.from(lines, { objectMode: false }) as unknown as string)
      );
    },
  );

  app.post(
    "/api/missions/:mission_id/replay",
    {
      config: { access: "member" },
      schema: {
        tags,
        summary: "Replay mission trace",
        description:
          "Rebuilds the mission's status and its tasks' status and agent from its trace alone, entry by entry, and " +
          "compares them with the stored state (`consistent`; null with `until`, which stops at the last entry at " +
          "or before that moment). `events_replayed` counts the entries applied, `skipped` those that are not part " +
          "of the mission's state; `timeline` lists every status change. `chain_valid` verifies the whole chain.",
        params: Type.Object({ mission_id: Type.String({ description: "integer id or key" }) }),
        body: ReplayBody,
        response: { 200: Data(ReplayResult) },
      },
    },
    async (req) => ({ data: await trace.replay(req.params.mission_id, req.body) }),
  );
};
