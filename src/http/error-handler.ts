// The one place errors become responses. Typed AppErrors carry their own status and body; Fastify's own
// 4xx errors are mapped to the contract's shapes; anything else is a bug: logged with the request id and
// answered with a bare 500 that carries no message, stack or SQL.
import { randomUUID } from "node:crypto";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { AppError } from "../core/errors.js";
import { validationToFields } from "./validation.js";

// The handlers below send and return nothing: a returned reply is a thenable, which Fastify would wait on by
// watching the response stream to its end, a cost on every answer and no use once it is sent.
function detail(reply: FastifyReply, status: number, text: string): void {
  reply.code(status).send({ errors: { detail: text } });
}

export function errorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  try {
    return respond(err, req, reply);
  } catch (fault) {
    // A fault while mapping an error must not fall through to Fastify's own answer, which carries its message.
    req.log.error({ err: fault, cause: err, reqId: req.id }, "the error handler failed");
    return detail(reply, 500, "Internal Server Error");
  }
}

function respond(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  if (err instanceof AppError) {
    reply.headers(err.headers()).code(err.status).send(err.body());
    return;
  }
  if (err.validation) {
    reply.code(422).send({ errors: validationToFields(err.validation, err.validationContext) });
    return;
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

/**
 * Errors Fastify raises before a route is even chosen (a malformed percent-escape in the URL, a path parameter
 * longer than the router accepts). There is no route context yet, so the body is sent as ready JSON text.
 */
export function frameworkErrorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  const [status, text] =
    err.code === "FST_ERR_MAX_PARAM_LENGTH"
      ? [414, "A path parameter is longer than the server accepts"]
      : err.code === "FST_ERR_BAD_URL"
        ? [400, "Malformed URL"]
        : [500, "Internal Server Error"];
  if (status === 500) req.log.error({ err, reqId: req.id }, "unhandled framework error");
  reply
    .code(status)
    .header("x-request-id", req.id)
    .header("content-type", "application/json; charset=utf-8")
    .send(JSON.stringify({ errors: { detail: text } }));
}

const CLIENT_ERRORS: Record<string, [number, string, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, "Request Timeout", "The request took too long to arrive"],
  HPE_HEADER_OVERFLOW: [
    431,
    "Request Header Fields Too Large",
    "The request line and headers are larger than the server accepts",
  ],
};

/**
 * A request Node's HTTP parser refuses (headers too large, malformed HTTP): there is no request object, so the
 * answer is written to the socket by hand, in the contract's shape, with a request id and `Connection: close`
 * (the connection cannot be reused after a parse error).
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: import("node:net").Socket) {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const [status, reason, text] = CLIENT_ERRORS[err.code ?? ""] ?? [400, "Bad Request", "Malformed HTTP request"];
  const body = JSON.stringify({ errors: { detail: text } });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nx-request-id: ${randomUUID()}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

export function notFoundHandler(_req: FastifyRequest, reply: FastifyReply): void {
  detail(reply, 404, "Not Found");
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
}
