import { KumoError, notFound, resourceName } from "@kumo/core";
import type { RoutingEntry, TenantStore } from "@kumo/db";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { tenantAccess } from "../auth/access.ts";
import { actorOf } from "../auth/principal.ts";
import type { GatewayContext } from "../context.ts";
import { pageQuery } from "../http/pagination.ts";
import { presentAlias, presentVersion } from "../http/presenters.ts";
import { functionParams, loadFunction } from "./function-lookup.ts";

const routingSchema = z
  .array(z.strictObject({ version: z.number().int().min(1), weight: z.number().int().min(0).max(100) }))
  .min(1)
  .max(10)
  .refine((r) => r.reduce((sum, e) => sum + e.weight, 0) === 100, "weights must sum to 100")
  .refine((r) => new Set(r.map((e) => e.version)).size === r.length, "each version may appear only once");

/** "v2" would be shadowed by fn@v2, which addresses version 2. */
const aliasName = resourceName.refine((name) => !/^v\d+$/.test(name), {
  message: "must not look like a version selector (v1, v2, ...): fn@v2 addresses version 2",
});

export function versionRoutes(ctx: GatewayContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      "/v1/functions/:name/versions",
      {
        schema: {
          tags: ["versions"],
          summary: "List versions, newest first",
          params: functionParams,
          querystring: pageQuery,
        },
      },
      async (request) => {
        const { store } = tenantAccess(ctx.platform, request, "read");
        const fn = await loadFunction(store, request.params.name);
        const page = await store.versions.list(fn.id, request.query);
        return { items: page.items.map(presentVersion), nextCursor: page.nextCursor };
      },
    );

    app.get(
      "/v1/functions/:name/versions/:version",
      {
        schema: {
          tags: ["versions"],
          summary: "Get one version",
          params: functionParams.extend({ version: z.coerce.number().int().min(1).max(1e9) }),
        },
      },
      async (request) => {
        const { store } = tenantAccess(ctx.platform, request, "read");
        const fn = await loadFunction(store, request.params.name);
        const version = await store.versions.get(fn.id, request.params.version);
        if (!version) throw notFound(`version ${request.params.version} of function "${fn.name}"`);
        return presentVersion(version);
      },
    );

    app.get(
      "/v1/functions/:name/aliases",
      { schema: { tags: ["versions"], summary: "List aliases and their routing", params: functionParams } },
      async (request) => {
        const { store } = tenantAccess(ctx.platform, request, "read");
        const fn = await loadFunction(store, request.params.name);
        return { items: (await store.aliases.list(fn.id)).map(presentAlias), nextCursor: null };
      },
    );

    app.put(
      "/v1/functions/:name/aliases/:alias",
      {
        schema: {
          tags: ["versions"],
          summary: "Point an alias at versions by weight (weights sum to 100)",
          params: functionParams.extend({ alias: aliasName }),
          body: z.strictObject({ routing: routingSchema }),
        },
      },
      async (request) => {
        const { store, principal } = tenantAccess(ctx.platform, request, "write");
        const fn = await loadFunction(store, request.params.name);
        await requireVersions(ctx, store.tenantId, fn.id, fn.name, request.body.routing);
        await cancelRollouts(
          store,
          fn.name,
          fn.id,
          request.params.alias,
          actorOf(principal),
          "a manual alias change",
        );
        const alias = await store.aliases.put(
          fn.id,
          request.params.alias,
          request.body.routing,
          actorOf(principal),
        );
        await store.audit.record(
          actorOf(principal),
          "alias.set",
          `function/${fn.name}@${request.params.alias}`,
          { routing: request.body.routing },
        );
        ctx.changed(store.tenantId, fn.id);
        return presentAlias(alias);
      },
    );

    app.delete(
      "/v1/functions/:name/aliases/:alias",
      {
        schema: {
          tags: ["versions"],
          summary: "Delete an alias (not live)",
          params: functionParams.extend({ alias: resourceName }),
        },
      },
      async (request, reply) => {
        const { store, principal } = tenantAccess(ctx.platform, request, "write");
        const fn = await loadFunction(store, request.params.name);
        if (request.params.alias === "live")
          throw new KumoError(
            "FN_006",
            'the "live" alias cannot be deleted; point it elsewhere or delete the function',
          );
        await cancelRollouts(
          store,
          fn.name,
          fn.id,
          request.params.alias,
          actorOf(principal),
          "the alias's deletion",
        );
        if (!(await store.aliases.delete(fn.id, request.params.alias)))
          throw notFound(`alias "${request.params.alias}"`);
        await store.audit.record(
          actorOf(principal),
          "alias.delete",
          `function/${fn.name}@${request.params.alias}`,
        );
        ctx.changed(store.tenantId, fn.id);
        return reply.status(204).send();
      },
    );

    app.post(
      "/v1/functions/:name/rollback",
      {
        schema: {
          tags: ["versions"],
          summary: 'Move "live" to the previous (or the given) version at once',
          params: functionParams,
          // The body is optional: no body, an empty body and JSON null all mean "the previous version".
          body: z.strictObject({ to: z.number().int().min(1).optional() }).nullish(),
        },
      },
      async (request) => {
        const { store, principal } = tenantAccess(ctx.platform, request, "write");
        const fn = await loadFunction(store, request.params.name);
        const live = await store.aliases.get(fn.id, "live");
        const from = live ? [...live.routing].sort((a, b) => b.weight - a.weight)[0]?.version : undefined;
        if (from === undefined)
          throw new KumoError("FN_006", `function "${fn.name}" has no live version to roll back from`);
        let to = request.body?.to;
        if (to === undefined) {
          to = (await store.versions.previous(fn.id, from))?.version;
          if (to === undefined)
            throw new KumoError(
              "FN_006",
              `version ${from} is the first version of "${fn.name}"; there is nothing to roll back to`,
            );
        }
        await requireVersions(ctx, store.tenantId, fn.id, fn.name, [{ version: to, weight: 100 }]);
        await cancelRollouts(store, fn.name, fn.id, "live", actorOf(principal), "a rollback");
        await store.aliases.put(fn.id, "live", [{ version: to, weight: 100 }], actorOf(principal));
        await store.audit.record(actorOf(principal), "rollback", `function/${fn.name}`, { from, to });
        ctx.changed(store.tenantId, fn.id);
        return { alias: "live", from, to };
      },
    );
  };
}

/** A manual change of an alias supersedes a gradual rollout on it; the rollout stops where it is. */
async function cancelRollouts(
  store: TenantStore,
  fnName: string,
  functionId: string,
  alias: string,
  actor: string,
  cause: string,
): Promise<void> {
  for (const cancelled of await store.rollouts.cancelRunning(functionId, alias, `superseded by ${cause}`)) {
    await store.audit.record(actor, "rollout.cancel", `function/${fnName}@${alias}`, {
      rollout: cancelled.id,
      reason: cancelled.reason,
    });
  }
}

async function requireVersions(
  ctx: GatewayContext,
  tenantId: string,
  functionId: string,
  name: string,
  routing: readonly RoutingEntry[],
): Promise<void> {
  const store = ctx.platform.tenant(tenantId);
  for (const entry of routing) {
    if (!(await store.versions.get(functionId, entry.version))) {
      throw new KumoError("FN_006", `version ${entry.version} of "${name}" does not exist`, {
        details: {
          problems: [{ field: "routing.version", rule: "exists", message: `no version ${entry.version}` }],
        },
      });
    }
  }
}
