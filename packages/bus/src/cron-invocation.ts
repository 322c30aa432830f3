import { type InvocationRequest, invocationIdFor, newInvocationId } from "@kumo/core";
import { eventRequest } from "./event-request.ts";

/** One firing of a cron trigger: a scheduled slot, or a manual "run now". */
export interface CronFiring {
  triggerId: string;
  /** The slot; for a manual fire, the moment it was asked for. */
  scheduledAt: Date;
  firedAt: Date;
  /** The slot the schedule fired before this one, if any. */
  lastScheduledAt: Date | null;
  manual: boolean;
}

/** The JSON event a cron-triggered function receives (with `kumo-event-type: cron`). */
export interface CronEvent {
  type: "cron";
  triggerId: string;
  scheduledAt: string;
  firedAt: string;
  lastScheduledAt: string | null;
  manual: boolean;
}

/**
 * The async invocation of one firing and its JetStream dedupe id. A scheduled slot's dedupe id is
 * `triggerId:scheduledAt` and its invocation id is derived from it, so the same slot published twice
 * (a failover, two schedulers) is stored once by the stream and recorded once. Manual fires are
 * each their own invocation.
 */
export function cronInvocation(
  firing: CronFiring,
  timeoutMs: number,
): { request: InvocationRequest; msgId: string } {
  const slotKey = `${firing.triggerId}:${firing.scheduledAt.toISOString()}`;
  const invocationId = firing.manual ? newInvocationId() : invocationIdFor(slotKey);
  const msgId = firing.manual ? `${firing.triggerId}:manual:${invocationId}` : slotKey;
  const event: CronEvent = {
    type: "cron",
    triggerId: firing.triggerId,
    scheduledAt: firing.scheduledAt.toISOString(),
    firedAt: firing.firedAt.toISOString(),
    lastScheduledAt: firing.lastScheduledAt?.toISOString() ?? null,
    manual: firing.manual,
  };
  const deadline = firing.firedAt.getTime() + timeoutMs;
  return { request: eventRequest("cron", invocationId, event, deadline), msgId };
}
