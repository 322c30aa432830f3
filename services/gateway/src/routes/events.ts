import { KumoError, newId } from "@kumo/core";
import type { EventRow, TenantStore } from "@kumo/db";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { tenantAccess } from "../auth/access.ts";
import { actorOf } from "../auth/principal.ts";
import type { GatewayContext } from "../context.ts";
import { presentEvent } from "../http/presenters.ts";
import { fanOutEvent } from "../invoke/event-fan-out.ts";
import { listEventsQuery, publishEventBody } from "./event-schemas.ts";

/**
 * Tenant domain events: publish one (it fans out to every matching event trigger of the tenant,
 * each an async invocation) and list recent ones with their deliveries.
 */
export function eventRoutes(ctx: GatewayContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      "/v1/events",
      {
        schema: {
          tags: ["events"],
          summary: "Publish an event {type, data, id?} to every function subscribed to its type",
          body: publishEventBody,
        },
      },
      async (request, reply) => {
        const { store, principal } = tenantAccess(ctx.platform, request, "invoke");
        const body = request.body;
        if (body.id !== undefined) {
          // Published before: its fan-out is done (an event is stored only after all of it was queued).
          const earlier = await store.events.get(body.id);
          if (earlier && earlier.type !== body.type) {
            throw new KumoError(
              "FN_006",
              `body.id: event "${body.id}" was published with type "${earlier.type}"; use a new id for a new event`,
              { status: 409 },
            );
          }
          if (earlier) return reply.status(202).send(await answer(store, earlier));
        }
        const event = {
          id: body.id ?? newId("evt"),
          type: body.type,
          data: body.data ?? null,
          publishedAt: new Date(),
        };
        const { deliveries, skipped } = await fanOutEvent(ctx, store, principal.tenantName, {
          ...event,
          traceparent: request.trace?.traceparent,
        });
        await store.events.record({ ...event, publishedBy: actorOf(principal) }, deliveries);
        return reply.status(202).send({
          eventId: event.id,
          type: event.type,
          publishedAt: event.publishedAt.toISOString(),
          duplicate: false,
          deliveries: deliveries.map((d) => ({
            triggerId: d.triggerId,
            function: d.functionName,
            invocationId: d.invocationId,
          })),
          skipped: skipped.map((s) => ({
            triggerId: s.triggerId,
            function: s.functionName,
            reason: s.reason,
          })),
        });
      },
    );

    app.get(
      "/v1/events",
      {
        schema: {
          tags: ["events"],
          summary: "Recent events, newest first, with each delivery's invocation and status",
          querystring: listEventsQuery,
        },
      },
      async (request) => {
        const { store } = tenantAccess(ctx.platform, request, "read");
        const { type, ...page } = request.query;
        const result = await store.events.list(page, type);
        const deliveries = await store.events.deliveries(result.items.map((e) => e.id));
        return {
          items: result.items.map((e) =>
            presentEvent(
              e,
              deliveries.filter((d) => d.event_id === e.id),
            ),
          ),
          nextCursor: result.nextCursor,
        };
      },
    );
  };
}

/** A stored event as the publish route answers a repeat of it. */
async function answer(store: TenantStore, event: EventRow) {
  const presented = presentEvent(event, await store.events.deliveries([event.id]));
  return {
    eventId: presented.id,
    type: presented.type,
    publishedAt: presented.publishedAt,
    duplicate: true,
    deliveries: presented.deliveries.map((d) => ({
      triggerId: d.triggerId,
      function: d.function,
      invocationId: d.invocationId,
    })),
    skipped: [],
  };
}
