import type { InvocationRequest, TriggerKind } from "@kumo/core";
import { headers as H } from "./subjects.ts";

/**
 * The invocation request a triggered run sends its function: `POST /` with the JSON event, the
 * trigger's kind in `kumo-event-type` (which the runtimes read to pass a Lambda-style handler the
 * event itself), the invocation id and the deadline.
 */
export function eventRequest(
  trigger: TriggerKind,
  invocationId: string,
  event: unknown,
  deadline: number,
): InvocationRequest {
  return {
    invocationId,
    trigger,
    method: "POST",
    url: "/",
    headers: {
      "content-type": "application/json",
      [H.eventType]: trigger,
      [H.invocationId]: invocationId,
      [H.deadlineMs]: String(deadline),
    },
    body: Buffer.from(JSON.stringify(event)),
    deadline,
  };
}
