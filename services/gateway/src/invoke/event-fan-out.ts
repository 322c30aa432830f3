import { eventInvocation } from "@kumo/bus";
import { type FunctionConfig, KumoError, matchesEventPattern } from "@kumo/core";
import type { NewEventDelivery, TenantStore } from "@kumo/db";
import type { GatewayContext } from "../context.ts";
import type { ResolvedFunction } from "./function-resolver.ts";

/** A published event, as the fan-out sends it. */
export interface PublishedEvent {
  id: string;
  type: string;
  data: unknown;
  publishedAt: Date;
}

export interface FanOutResult {
  deliveries: (NewEventDelivery & { functionName: string })[];
  /** Matching triggers that could not be invoked (their target has no version), with the reason. */
  skipped: { triggerId: string; functionName: string; reason: string }[];
}

/**
 * Sends one event to every unpaused event trigger of the tenant whose pattern matches its type,
 * each as its own async invocation (so each retries on its own). Message ids `eventId:triggerId`
 * let JetStream drop a repeat within its duplicate window. Fails (FN_008) when any message could
 * not be queued: the caller stores nothing then, and a retry with the same id sends only what is
 * missing.
 */
export async function fanOutEvent(
  ctx: GatewayContext,
  store: TenantStore,
  tenantName: string,
  event: PublishedEvent,
): Promise<FanOutResult> {
  const matching = (await store.events.subscribers()).filter(
    (t) => t.event_pattern !== null && matchesEventPattern(t.event_pattern, event.type),
  );
  const result: FanOutResult = { deliveries: [], skipped: [] };
  if (matching.length === 0) return result;
  const queue = ctx.asyncQueue;
  if (!queue) {
    throw new KumoError(
      "FN_008",
      "publishing events needs NATS with JetStream, which this gateway runs without",
    );
  }
  const sent = await Promise.allSettled(
    matching.map(async (trigger) => {
      let resolved: ResolvedFunction;
      try {
        resolved = await ctx.resolver.resolve(
          store.tenantId,
          tenantName,
          `${trigger.function_name}@${trigger.target}`,
        );
      } catch (error) {
        // A subscriber not deployed yet (or pinned to a version that is gone) misses the event;
        // the others still get it.
        if (!(error instanceof KumoError && error.code === "FN_001")) throw error;
        result.skipped.push({
          triggerId: trigger.id,
          functionName: trigger.function_name,
          reason: error.message,
        });
        return;
      }
      const deployed = await ctx.resolver.target(resolved);
      const { request, msgId } = eventInvocation(
        {
          triggerId: trigger.id,
          eventId: event.id,
          eventType: event.type,
          data: event.data,
          publishedAt: event.publishedAt,
        },
        (resolved.version.config as FunctionConfig).timeoutMs,
      );
      const queued = await queue.enqueue(resolved, deployed, request, undefined, {
        msgId,
        triggerId: trigger.id,
        recordQueued: false,
      });
      result.deliveries.push({
        triggerId: trigger.id,
        functionId: trigger.function_id,
        functionName: trigger.function_name,
        invocationId: queued.invocationId,
      });
    }),
  );
  const failed = sent.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) {
    const reason: unknown = failed.reason;
    throw reason instanceof KumoError
      ? reason
      : new KumoError("FN_008", `could not queue the event's deliveries: ${String(reason)}`, {
          cause: reason,
        });
  }
  result.deliveries.sort((a, b) => a.triggerId.localeCompare(b.triggerId));
  return result;
}
