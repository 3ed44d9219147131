import type { FastifyError, FastifyInstance } from "fastify";
import type { z } from "zod";

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

/**
 * A zod failure as one line naming the field: `colour: unknown field`, `agentId: expected string`,
 * `reason: must be at most 256 characters`. Unknown keys are called `unknownWord`s
 * ("field" in a body, "parameter" in a query).
 */
export function zodProblem(error: z.ZodError, fallbackField = "body", unknownWord = "field"): string {
  const issue = error.issues[0];
  if (issue?.code === "unrecognized_keys") return `${issue.keys[0] ?? "?"}: unknown ${unknownWord}`;
  const field = issue?.path.join(".") || fallbackField;
  const problem = issue?.code === "invalid_type" ? `expected ${issue.expected}` : (issue?.message ?? "invalid");
  return `${field}: ${problem}`;
}

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
