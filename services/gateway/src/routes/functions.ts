import { functionConfigSchema, KumoError, parseOrThrow, resourceName, runtimeNameSchema } from "@kumo/core";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { tenantAccess } from "../auth/access.ts";
import { actorOf } from "../auth/principal.ts";
import type { GatewayContext } from "../context.ts";
import { pageQuery } from "../http/pagination.ts";
import { functionHostUrl, presentFunction } from "../http/presenters.ts";
import { checkFunctionQuota } from "../limits/management-quotas.ts";
import { functionParams, loadFunction } from "./function-lookup.ts";

const configObject = z.record(z.string(), z.unknown());

export function functionRoutes(ctx: GatewayContext): FastifyPluginAsyncZod {
  const urlOf = (tenantName: string, fnName: string) => `${ctx.publicUrl()}/fn/${tenantName}/${fnName}/`;
  const hostUrlOf = (tenantName: string, fnName: string) =>
    ctx.config.functionHosts
      ? functionHostUrl(ctx.publicUrl(), ctx.config.appsDomain, tenantName, fnName)
      : undefined;

  return async (app) => {
    app.get(
      "/v1/functions",
      {
        schema: {
          tags: ["functions"],
          summary: "List functions by name; ?q= keeps names containing it (or that runtime)",
          querystring: pageQuery.extend({
            q: z
              .string()
              .max(100)
              .optional()
              .describe("case-insensitive substring of the name, or a runtime (edge, node, …)"),
          }),
        },
      },
      async (request) => {
        const { store, principal } = tenantAccess(ctx.platform, request, "read");
        const page = await store.functions.list(request.query);
        return {
          items: page.items.map((f) =>
            presentFunction(
              f,
              urlOf(principal.tenantName, f.name),
              f.live_version,
              hostUrlOf(principal.tenantName, f.name),
            ),
          ),
          nextCursor: page.nextCursor,
        };
      },
    );

    app.post(
      "/v1/functions",
      {
        schema: {
          tags: ["functions"],
          summary: "Create a function",
          body: z.strictObject({
            name: resourceName,
            runtime: runtimeNameSchema,
            config: configObject.optional(),
          }),
        },
      },
      async (request, reply) => {
        const { store, principal } = tenantAccess(ctx.platform, request, "write");
        const { name, runtime } = request.body;
        const given = request.body.config ?? {};
        if (given.runtime !== undefined && given.runtime !== runtime) {
          throw new KumoError(
            "FN_006",
            `config.runtime "${String(given.runtime)}" contradicts runtime "${runtime}"; drop one of them`,
          );
        }
        const config = parseOrThrow(functionConfigSchema, { ...given, runtime }, "function config");
        if (await store.functions.byName(name)) {
          throw new KumoError(
            "FN_006",
            `function "${name}" already exists; deploy to it or choose another name`,
            { status: 409 },
          );
        }
        await checkFunctionQuota(await ctx.quotas.limits(store.tenantId), store);
        const fn = await store.functions.create({ name, runtime, config });
        await store.audit.record(actorOf(principal), "function.create", `function/${name}`, { runtime });
        return reply
          .status(201)
          .send(
            presentFunction(
              fn,
              urlOf(principal.tenantName, name),
              null,
              hostUrlOf(principal.tenantName, name),
            ),
          );
      },
    );

    app.get(
      "/v1/functions/:name",
      { schema: { tags: ["functions"], summary: "Get a function", params: functionParams } },
      async (request) => {
        const { store, principal } = tenantAccess(ctx.platform, request, "read");
        const fn = await loadFunction(store, request.params.name);
        const live = await store.aliases.liveVersions([fn.id]);
        return presentFunction(
          fn,
          urlOf(principal.tenantName, fn.name),
          live.get(fn.id) ?? null,
          hostUrlOf(principal.tenantName, fn.name),
        );
      },
    );

    app.patch(
      "/v1/functions/:name",
      {
        schema: {
          tags: ["functions"],
          summary: "Change a function's configuration (merged; applies to the next deploy)",
          params: functionParams,
          body: z.strictObject({ config: configObject }),
        },
      },
      async (request) => {
        const { store, principal } = tenantAccess(ctx.platform, request, "write");
        const fn = await loadFunction(store, request.params.name);
        const current = fn.config as Record<string, unknown>;
        const config = parseOrThrow(
          functionConfigSchema,
          { ...current, ...request.body.config },
          "function config",
        );
        const updated = (await store.functions.updateConfig(fn.id, config.runtime, config)) ?? fn;
        await store.audit.record(actorOf(principal), "function.configure", `function/${fn.name}`, {
          keys: Object.keys(request.body.config),
        });
        ctx.changed(store.tenantId, fn.id);
        const live = await store.aliases.liveVersions([fn.id]);
        return presentFunction(
          updated,
          urlOf(principal.tenantName, fn.name),
          live.get(fn.id) ?? null,
          hostUrlOf(principal.tenantName, fn.name),
        );
      },
    );

    app.delete(
      "/v1/functions/:name",
      {
        schema: {
          tags: ["functions"],
          summary: "Delete a function, its versions, aliases and env",
          params: functionParams,
        },
      },
      async (request, reply) => {
        const { store, principal } = tenantAccess(ctx.platform, request, "write");
        const fn = await loadFunction(store, request.params.name);
        await store.functions.delete(fn.id);
        await store.audit.record(actorOf(principal), "function.delete", `function/${fn.name}`);
        ctx.changed(store.tenantId, fn.id);
        return reply.status(204).send();
      },
    );
  };
}
