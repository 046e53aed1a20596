import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { Data, ListOf } from "../core/envelope.js";
import { IdParam } from "../core/ids.js";
import { PageQuery } from "../core/pagination.js";
import { TokenCreate, Token, TokenWithSecret } from "./tokens.schemas.js";
import type { TokensService } from "./tokens.service.js";

export const tokensRoutes: FastifyPluginAsyncTypebox<{ tokens: TokensService }> = async (app, { tokens }) => {
  const tags = ["tokens"];
  app.post(
    "/api/tokens",
    {
      config: { access: "admin", wrap: "token" },
      schema: {
        tags,
        summary: "Create an API token",
        description: "The secret (`token`) is in this response only; it is stored as a hash.",
        body: TokenCreate,
        response: { 201: Data(TokenWithSecret) },
      },
    },
    async (req, reply) => {
      const data = await tokens.create(req.body, req.principal);
      reply.code(201).header("location", `/api/tokens/${data.id}`);
      return { data };
    },
  );

  app.get(
    "/api/tokens",
    {
      config: { access: "admin" },
      schema: {
        tags,
        summary: "List active tokens (never their secrets)",
        querystring: Type.Object(PageQuery),
        response: { 200: ListOf(Token) },
      },
    },
    async (req) => tokens.list(req.query),
  );

  app.delete(
    "/api/tokens/:id",
    {
      config: { access: "admin" },
      schema: { tags, summary: "Revoke a token", params: IdParam, response: { 204: Type.Null() } },
    },
    async (req, reply) => {
      await tokens.revoke(req.params.id, req.principal);
      reply.code(204);
      return null;
    },
  );
};
