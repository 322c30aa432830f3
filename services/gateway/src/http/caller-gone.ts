import { type CallerSignal, Cancellation } from "@kumo/core";
import type { FastifyReply } from "fastify";

/**
 * Aborts when the caller goes away before its answer was written. It watches the response, not the
 * request: since Node 16 a request emits "close" as soon as its body was read, which says nothing
 * about the connection (a listener added before that moment would abort every call).
 */
export function callerGone(reply: FastifyReply): CallerSignal {
  const cancellation = new Cancellation();
  const res = reply.raw;
  res.once("close", () => {
    if (!res.writableFinished) cancellation.abort();
  });
  return cancellation;
}
