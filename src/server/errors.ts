import type { FastifyError, FastifyInstance } from "fastify";

/** An error with an HTTP status, answered as `{ error: message }`. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

export const badRequest = (message: string): HttpError => new HttpError(400, message);

/** Every error becomes `{ error, statusCode }` with a message a person can act on. */
export function errorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | HttpError, _req, reply) => {
    const status = err.statusCode ?? 500;
    let message = err.message;
    if ("code" in err) {
      switch (err.code) {
        case "FST_ERR_CTP_BODY_TOO_LARGE":
          message = `request body is too large (limit ${app.initialConfig.bodyLimit ?? 0} bytes)`;
          break;
        case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
          message = "unsupported content type: send application/json";
          break;
        case "FST_ERR_CTP_EMPTY_JSON_BODY":
          message = "request body is empty: send a JSON object";
          break;
        case "FST_ERR_CTP_INVALID_JSON_BODY":
          message = `request body is not valid JSON: ${err.message}`;
          break;
        default:
          if (err instanceof SyntaxError) message = `request body is not valid JSON: ${err.message}`;
      }
    }
    if (status >= 500) app.log.error({ err }, "request failed");
    return reply.code(status).send({ error: status >= 500 ? "internal error" : message, statusCode: status });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no route ${req.method} ${req.url.split("?")[0] ?? ""}`, statusCode: 404 }));
}
