import { notFound, TRIGGER_KINDS } from "@kumo/core";
import { INVOCATION_STATUSES } from "@kumo/db";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { tenantAccess } from "../auth/access.ts";
import type { GatewayContext } from "../context.ts";
import { pageQuery } from "../http/pagination.ts";
import { presentInvocation, presentLog, presentResult } from "../http/presenters.ts";
import { functionParams, loadFunction } from "./function-lookup.ts";

export function invocationRoutes(ctx: GatewayContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      "/v1/invocations/:id",
      {
        schema: {
          tags: ["invocations"],
          summary: "One invocation: status, result code, timings and logs",
          params: z.object({ id: z.uuid("must be an invocation id (a UUID)") }),
        },
      },
      async (request) => {
        const { store } = tenantAccess(ctx.platform, request, "read");
        let invocation = await store.invocations.get(request.params.id);
        if (!invocation) {
          // An async invocation this gateway just queued may still sit in its record batch.
          await ctx.recorder.flush();
          invocation = await store.invocations.get(request.params.id);
        }
        if (!invocation) throw notFound(`invocation "${request.params.id}"`);
        const fn = await store.functions.byId(invocation.function_id);
        const logs = await store.logs.list({ invocationId: invocation.id, order: "asc", limit: 500 });
        return {
          ...presentInvocation(invocation, fn?.name ?? "(deleted)"),
          result: presentResult(invocation),
          logs: logs.items.map(presentLog),
        };
      },
    );

    app.get(
      "/v1/functions/:name/invocations",
      {
        schema: {
          tags: ["invocations"],
          summary: "Invocation history, newest first",
          params: functionParams,
          querystring: pageQuery.extend({
            status: z.enum(INVOCATION_STATUSES).optional(),
            version: z.coerce.number().int().min(1).optional(),
            trigger: z.enum(TRIGGER_KINDS).optional(),
            triggerId: z
              .string()
              .regex(/^trg_[a-z0-9]{1,60}$/, "must be a trigger id (trg_...)")
              .optional(),
          }),
        },
      },
      async (request) => {
        const { store } = tenantAccess(ctx.platform, request, "read");
        const fn = await loadFunction(store, request.params.name);
        const { status, version, trigger, triggerId, ...page } = request.query;
        const result = await store.invocations.list(
          { functionId: fn.id, status, version, trigger, triggerId },
          page,
        );
        return {
          items: result.items.map((i) => presentInvocation(i, fn.name)),
          nextCursor: result.nextCursor,
        };
      },
    );
  };
}
