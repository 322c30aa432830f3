import { notFound, parseDurationMs, TRIGGER_KINDS } from "@kumo/core";
import { INVOCATION_STATUSES } from "@kumo/db";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { tenantAccess } from "../auth/access.ts";
import type { GatewayContext } from "../context.ts";
import { pageQuery } from "../http/pagination.ts";
import { presentInvocation, presentLog, presentResult } from "../http/presenters.ts";
import { openSse } from "../http/sse.ts";
import { functionParams, loadFunction } from "./function-lookup.ts";

const sinceSchema = z
  .string()
  .max(64)
  .transform((value, c) => {
    const ms = parseDurationMs(value);
    if (ms !== undefined && /[a-z]$/.test(value)) return new Date(Date.now() - ms);
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) {
      c.addIssue({ code: "custom", message: 'expected an ISO timestamp or a duration like "10m"' });
      return z.NEVER;
    }
    return date;
  });

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
        const logs = await store.logs.list({ invocationId: invocation.id, limit: 500 });
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

    app.get(
      "/v1/functions/:name/logs",
      {
        schema: {
          tags: ["invocations"],
          summary: "Function logs, oldest first (?follow=1 streams new lines as server-sent events)",
          params: functionParams,
          querystring: pageQuery.extend({
            since: sinceSchema.optional(),
            follow: z.enum(["0", "1", "true", "false"]).optional(),
          }),
        },
      },
      async (request, reply) => {
        const { store } = tenantAccess(ctx.platform, request, "read");
        const fn = await loadFunction(store, request.params.name);
        const follow = request.query.follow === "1" || request.query.follow === "true";
        if (!follow) {
          const page = await store.logs.list({
            functionId: fn.id,
            since: request.query.since,
            limit: request.query.limit,
            cursor: request.query.cursor,
          });
          return { items: page.items.map(presentLog), nextCursor: page.nextCursor };
        }
        const sse = openSse(reply);
        const unsubscribe = ctx.liveLogs.subscribe(store.tenantId, fn.id, (line) => sse.send("log", line));
        sse.closed.addEventListener("abort", unsubscribe, { once: true });
      },
    );
  };
}
