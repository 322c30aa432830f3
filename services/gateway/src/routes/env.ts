import { envKey, KumoError, notFound } from "@kumo/core";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { tenantAccess } from "../auth/access.ts";
import { actorOf } from "../auth/principal.ts";
import type { GatewayContext } from "../context.ts";
import { functionParams, loadFunction } from "./function-lookup.ts";

const envParams = functionParams.extend({ key: envKey });
const MAX_ENV_VARS = 200;

export function envRoutes(ctx: GatewayContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      "/v1/functions/:name/env",
      { schema: { tags: ["env"], summary: "List a function's env vars", params: functionParams } },
      async (request) => {
        const { store } = tenantAccess(ctx.platform, request, "read");
        const fn = await loadFunction(store, request.params.name);
        const vars = await store.env.list(fn.id);
        return {
          items: vars.map((v) => ({ key: v.key, value: v.value, updatedAt: v.updatedAt.toISOString() })),
          nextCursor: null,
        };
      },
    );

    app.get(
      "/v1/functions/:name/env/:key",
      { schema: { tags: ["env"], summary: "Get one env var", params: envParams } },
      async (request) => {
        const { store } = tenantAccess(ctx.platform, request, "read");
        const fn = await loadFunction(store, request.params.name);
        const v = await store.env.get(fn.id, request.params.key);
        if (!v) throw notFound(`env var "${request.params.key}"`);
        return { key: v.key, value: v.value, updatedAt: v.updatedAt.toISOString() };
      },
    );

    app.put(
      "/v1/functions/:name/env/:key",
      {
        schema: {
          tags: ["env"],
          summary: "Set an env var (takes effect on the next invocation)",
          params: envParams,
          body: z.strictObject({ value: z.string().max(32_768) }),
        },
      },
      async (request) => {
        const { store, principal } = tenantAccess(ctx.platform, request, "write");
        const fn = await loadFunction(store, request.params.name);
        const existing = await store.env.list(fn.id);
        if (existing.length >= MAX_ENV_VARS && !existing.some((v) => v.key === request.params.key)) {
          throw new KumoError("FN_006", `a function can have at most ${MAX_ENV_VARS} env vars`);
        }
        await store.env.set(fn.id, request.params.key, request.body.value);
        await store.audit.record(
          actorOf(principal),
          "env.set",
          `function/${fn.name}/env/${request.params.key}`,
        );
        ctx.changed(store.tenantId, fn.id);
        return { key: request.params.key, value: request.body.value };
      },
    );

    app.delete(
      "/v1/functions/:name/env/:key",
      { schema: { tags: ["env"], summary: "Remove an env var", params: envParams } },
      async (request, reply) => {
        const { store, principal } = tenantAccess(ctx.platform, request, "write");
        const fn = await loadFunction(store, request.params.name);
        if (!(await store.env.delete(fn.id, request.params.key)))
          throw notFound(`env var "${request.params.key}"`);
        await store.audit.record(
          actorOf(principal),
          "env.delete",
          `function/${fn.name}/env/${request.params.key}`,
        );
        ctx.changed(store.tenantId, fn.id);
        return reply.status(204).send();
      },
    );
  };
}
