// The one place errors become responses. Typed AppErrors carry their own status and body; Fastify's own
// 4xx errors are mapped to the contract's shapes; anything else is a bug: logged with the request id and
// answered with a bare 500 that carries no message, stack or SQL.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { AppError } from "./errors.js";
import { validationToFields } from "./validation.js";

function detail(reply: FastifyReply, status: number, text: string) {
  return reply.code(status).send({ errors: { detail: text } });
}

export function errorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  if (err instanceof AppError) {
    reply.headers(err.headers());
    return reply.code(err.status).send(err.body());
  }
  if (err.validation) {
    return reply.code(422).send({ errors: validationToFields(err.validation, err.validationContext) });
  }
  switch (err.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return detail(reply, 413, "Request body is larger than the server accepts");
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return detail(reply, 415, "Content-Type must be application/json");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return detail(reply, 400, "Malformed JSON in request body");
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return detail(reply, 400, "Content-Length does not match the body");
  }
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    // Fastify's own client errors (bad URL, bad header…): their messages describe the request, not internals.
    return detail(reply, status, err.message);
  }
  req.log.error({ err, reqId: req.id }, "unhandled error");
  return detail(reply, 500, "Internal Server Error");
}

export function notFoundHandler(_req: FastifyRequest, reply: FastifyReply) {
  return detail(reply, 404, "Not Found");
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
}
