import { KumoError, newId, tooLarge } from "@kumo/core";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { tenantAccess } from "../auth/access.ts";
import type { GatewayContext } from "../context.ts";
import {
  deadLetterParams,
  deadLettersQuery,
  MAX_MESSAGE_DATA_BYTES,
  MAX_MESSAGES_PER_PUBLISH,
  publishMessagesBody,
  queueParams,
} from "./queue-schemas.ts";

/** Enough for the largest batch of small messages; one message's data is capped on its own. */
const PUBLISH_BODY_LIMIT = 8 * 1024 * 1024;

/**
 * Tenant queues: publish messages (queue triggers consume them in batches), list the tenant's
 * queues with their depth and each trigger's lag, and list the messages triggers gave up on.
 */
export function queueRoutes(ctx: GatewayContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      "/v1/queues/:name/messages",
      {
        bodyLimit: PUBLISH_BODY_LIMIT,
        schema: {
          tags: ["queues"],
          summary: `Publish one message {data, key?, id?} or up to ${MAX_MESSAGES_PER_PUBLISH} as {messages: [...]}, in order; an id publishes once`,
          params: queueParams,
          body: publishMessagesBody,
        },
      },
      async (request, reply) => {
        const { store } = tenantAccess(ctx.platform, request, "invoke");
        const queues = required(ctx);
        const body = request.body;
        const given = body.messages ?? [{ data: body.data, key: body.key, id: body.id }];
        const messages = given.map((m, i) => {
          const size = Buffer.byteLength(JSON.stringify(m.data ?? null));
          if (size > MAX_MESSAGE_DATA_BYTES) {
            const field = body.messages ? `body.messages.${i}.data` : "body.data";
            throw tooLarge(
              `${field}: ${size} bytes of JSON; a message's data is at most ${MAX_MESSAGE_DATA_BYTES} bytes`,
            );
          }
          return { id: m.id ?? newId("msg"), key: m.key ?? null, data: m.data ?? null };
        });
        let published: Awaited<ReturnType<typeof queues.publish>>;
        try {
          published = await queues.publish(store.tenantId, request.params.name, messages);
        } catch (error) {
          const full = /maximum (messages|bytes)/i.test(String(error));
          throw new KumoError(
            full ? "FN_007" : "FN_008",
            full
              ? `queue "${request.params.name}" is full; messages wait until triggers read them or they expire (7 days)`
              : `could not publish to queue "${request.params.name}": ${String(error)}`,
            { cause: error },
          );
        }
        return reply.status(202).send({
          queue: request.params.name,
          messages: published.map((p) => ({ id: p.id, seq: p.seq, duplicate: p.duplicate })),
        });
      },
    );

    app.get(
      "/v1/queues",
      {
        schema: {
          tags: ["queues"],
          summary: "The tenant's queues that hold messages or have triggers: depth, and each trigger's lag",
        },
      },
      async (request) => {
        const { store } = tenantAccess(ctx.platform, request, "read");
        const queues = required(ctx);
        const [depths, triggers] = await Promise.all([
          queues.depths(store.tenantId),
          ctx.platform.queueTriggers().ofTenant(store.tenantId),
        ]);
        const items = new Map<string, QueueItem>();
        const itemFor = (queue: string, broker: string | null) => {
          const name = `${broker ?? ""}\u0000${queue}`;
          let item = items.get(name);
          if (!item) {
            item = { queue, broker, messages: broker ? null : 0, triggers: [] };
            items.set(name, item);
          }
          return item;
        };
        for (const d of depths) itemFor(d.queue, null).messages = d.messages;
        for (const t of triggers) {
          const broker = t.settings.broker?.kind ?? null;
          const state = (t.source_state ?? {}) as {
            lag?: number | null;
            lastBatchAt?: string | null;
            error?: string | null;
          };
          // Kumo queues: the consumer's lag now; a broker's: what the scheduler last reported.
          const lag = broker ? (state.lag ?? null) : await queues.lag(t.id);
          itemFor(t.settings.queue, broker).triggers.push({
            triggerId: t.id,
            function: t.function_name,
            paused: t.paused,
            lag: lag ?? (broker ? null : 0),
            lastBatchAt: state.lastBatchAt ?? null,
            error: state.error ?? null,
          });
        }
        return {
          items: [...items.values()].sort((a, b) => a.queue.localeCompare(b.queue)),
          nextCursor: null,
        };
      },
    );

    app.get(
      "/v1/queues/:name/dead-letters",
      {
        schema: {
          tags: ["queues"],
          summary: "Messages a queue trigger gave up on (past its maxDeliveries), oldest first, kept 14 days",
          params: deadLetterParams,
          querystring: deadLettersQuery,
        },
      },
      async (request) => {
        const { store } = tenantAccess(ctx.platform, request, "read");
        const page = await required(ctx).deadLetters(store.tenantId, request.params.name, {
          after: request.query.cursor,
          limit: request.query.limit,
        });
        return {
          items: page.items.map((d) => ({
            id: d.id,
            key: d.key,
            data: d.data,
            publishedAt: d.publishedAt || null,
            triggerId: d.triggerId,
            deliveries: d.deliveries,
            reason: d.reason,
            deadAt: d.deadAt,
            broker: d.broker ?? null,
          })),
          nextCursor: page.next === null ? null : String(page.next),
        };
      },
    );
  };
}

interface QueueItem {
  queue: string;
  broker: string | null;
  messages: number | null;
  triggers: {
    triggerId: string;
    function: string;
    paused: boolean;
    lag: number | null;
    lastBatchAt: string | null;
    error: string | null;
  }[];
}

function required(ctx: GatewayContext) {
  if (!ctx.queues) {
    throw new KumoError("FN_008", "queues need NATS with JetStream, which this gateway runs without");
  }
  return ctx.queues;
}
