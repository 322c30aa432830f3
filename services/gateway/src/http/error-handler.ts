import { type ErrorBody, httpStatusOf, KumoError, toKumoError } from "@kumo/core";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";

/** The error envelope every route answers with. */
export function errorEnvelope(error: KumoError): { error: ErrorBody } {
  return { error: error.toJSON() };
}

/**
 * Maps anything a route or fastify itself throws to a coded error. User mistakes become 4xx with a
 * message that says what to fix; anything unexpected is a platform fault (FN_500) and is logged.
 */
export function toPublicError(error: unknown): KumoError {
  if (error instanceof KumoError) return error;
  if (hasZodFastifySchemaValidationErrors(error)) {
    const where = (error as { validationContext?: string }).validationContext ?? "body";
    const problems = error.validation.map((v) => ({
      field: `${where}${v.instancePath === "/" ? "" : v.instancePath.replace(/\//g, ".")}`,
      rule: v.keyword,
      message: v.message ?? "invalid",
    }));
    const summary = problems.map((p) => `${p.field}: ${p.message}`).join("; ");
    return new KumoError("FN_006", `invalid request: ${summary}`, { details: { problems } });
  }
  const fastifyError = error as Partial<FastifyError>;
  switch (fastifyError.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new KumoError(
        "FN_010",
        "request body too large: send a smaller body (see the limits in the README)",
      );
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new KumoError("FN_006", `unsupported content type: ${fastifyError.message ?? ""}`, {
        status: 415,
      });
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new KumoError(
        "FN_006",
        "the body is empty but the content type is application/json: send a JSON body",
      );
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return new KumoError("FN_006", `malformed JSON body: ${fastifyError.message ?? ""}`);
  }
  if (error instanceof SyntaxError) return new KumoError("FN_006", `malformed JSON body: ${error.message}`);
  const status = fastifyError.statusCode;
  if (typeof status === "number" && status >= 400 && status < 500) {
    return new KumoError(status === 413 ? "FN_010" : "FN_006", fastifyError.message ?? "bad request", {
      status: status === 413 ? 413 : status,
    });
  }
  return toKumoError(error);
}

export function handleError(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const kumo = toPublicError(error);
  const status = httpStatusOf(kumo);
  if (status >= 500 && kumo.code === "FN_500") request.log.error({ err: error }, "platform error");
  if (reply.sent || reply.raw.headersSent) {
    reply.raw.destroy();
    return;
  }
  void reply
    .status(status)
    .header("content-type", "application/json; charset=utf-8")
    .send(errorEnvelope(kumo));
}
