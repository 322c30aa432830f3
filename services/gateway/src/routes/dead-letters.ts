import { KumoError, notFound } from "@kumo/core";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { tenantAccess } from "../auth/access.ts";
import type { GatewayContext } from "../context.ts";
import { pageQuery } from "../http/pagination.ts";
import { presentInvocation } from "../http/presenters.ts";
import { functionParams, loadFunction } from "./function-lookup.ts";

/**
 * Dead letters: async invocations that failed their last retry sit in the dead-letter stream; the
 * invocation records say which, and a redrive puts one back into the work queue.
 */
export function deadLetterRoutes(ctx: GatewayContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      "/v1/functions/:name/dead-letters",
      {
        schema: {
          tags: ["invocations"],
          summary: "Async invocations that failed every attempt, newest first",
          params: functionParams,
          querystring: pageQuery,
        },
      },
      async (request) => {
        const { store } = tenantAccess(ctx.platform, request, "read");
        const fn = await loadFunction(store, request.params.name);
        const page = await store.invocations.deadLetters(fn.id, request.query);
        return { items: page.items.map((i) => presentInvocation(i, fn.name)), nextCursor: page.nextCursor };
      },
    );

    app.post(
      "/v1/functions/:name/dead-letters/:id/redrive",
      {
        schema: {
          tags: ["invocations"],
          summary: "Queue a dead letter again (its attempts keep counting; retries start afresh)",
          params: functionParams.extend({ id: z.uuid("must be an invocation id (a UUID)") }),
        },
      },
      async (request, reply) => {
        const { store } = tenantAccess(ctx.platform, request, "invoke");
        const fn = await loadFunction(store, request.params.name);
        const invocation = await store.invocations.get(request.params.id);
        if (!invocation || invocation.function_id !== fn.id)
          throw notFound(`invocation "${request.params.id}"`);
        if (invocation.dead_letter_seq === null) {
          throw new KumoError(
            "FN_006",
            `invocation "${invocation.id}" is not a dead letter (status ${invocation.status})`,
            {
              status: 409,
            },
          );
        }
        if (!ctx.asyncQueue) throw new KumoError("FN_008", "redrive needs NATS with JetStream");
        await ctx.asyncQueue.redrive(store, invocation);
        reply.status(202);
        return { invocationId: invocation.id, status: "queued" };
      },
    );
  };
}
