import { KumoError, notFound } from "@kumo/core";
import { ROUTE_METHODS, type RouteRow } from "@kumo/db";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { tenantAccess } from "../auth/access.ts";
import { actorOf } from "../auth/principal.ts";
import type { GatewayContext } from "../context.ts";
import { pageQuery } from "../http/pagination.ts";
import { presentRoute } from "../http/presenters.ts";
import { parseRoutePattern } from "../routing/route-pattern.ts";

const TARGET = /^[a-z][a-z0-9-]{0,62}(@[a-z0-9][a-z0-9-]{0,62})?$/;

const createRoute = z.strictObject({
  method: z
    .string()
    .transform((m) => m.toUpperCase())
    .pipe(z.enum(ROUTE_METHODS)),
  path: z.string().min(1).max(1000),
  function: z.string().regex(TARGET, "must be a function name, optionally with @alias or @vN"),
  host: z.string().min(1).max(253).optional(),
});

const describe = (r: RouteRow) => `${r.id} (${r.method} ${r.path}${r.host ? ` on ${r.host}` : ""})`;

/**
 * Tenant-defined routes: requests to `<tenant>.<apps domain>`, to `/r/<tenant>/...` or to a verified
 * custom domain are matched by method and path pattern and invoke a function.
 */
export function customRouteRoutes(ctx: GatewayContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      "/v1/routes",
      {
        schema: {
          tags: ["routes"],
          summary: "Route a method and path pattern (on a host) to a function",
          body: createRoute,
        },
      },
      async (request, reply) => {
        const { store, principal } = tenantAccess(ctx.platform, request, "write");
        const body = request.body;
        const pattern = parseRoutePattern(body.path);
        const host = body.host ?? null;
        if (host !== null) {
          const domain = await store.domains.get(host);
          if (domain?.status !== "verified") {
            throw new KumoError(
              "FN_006",
              `host ${host} is not a verified domain of this tenant; claim it with POST /v1/domains and verify it first`,
              { details: { problems: [{ field: "body.host", rule: "verified", message: "not verified" }] } },
            );
          }
        }
        const name = body.function.split("@")[0] ?? body.function;
        if (!(await store.functions.byName(name))) {
          throw new KumoError("FN_006", `function "${name}" does not exist; create it before routing to it`, {
            details: { problems: [{ field: "body.function", rule: "exists", message: "no such function" }] },
          });
        }
        const conflict = (existing: RouteRow) =>
          new KumoError("FN_006", `the route conflicts with route ${describe(existing)}`, {
            status: 409,
            details: { conflictsWith: presentRoute(existing) },
          });
        const route = await store.transaction(async (tx) => {
          await tx.routes.lock();
          const [existing] = await tx.routes.overlapping(host, pattern.key, body.method);
          if (existing) throw conflict(existing);
          return tx.routes.create({
            method: body.method,
            path: body.path,
            patternKey: pattern.key,
            host,
            target: body.function,
            createdBy: actorOf(principal),
          });
        });
        await store.audit.record(actorOf(principal), "route.create", `route/${route.id}`, {
          method: route.method,
          path: route.path,
          host: route.host,
          function: route.target,
        });
        await ctx.routingChanged(store.tenantId, "routes");
        return reply.status(201).send(presentRoute(route));
      },
    );

    app.get(
      "/v1/routes",
      { schema: { tags: ["routes"], summary: "List routes", querystring: pageQuery } },
      async (request) => {
        const { store } = tenantAccess(ctx.platform, request, "read");
        const page = await store.routes.list(request.query);
        return { items: page.items.map(presentRoute), nextCursor: page.nextCursor };
      },
    );

    app.get(
      "/v1/routes/:id",
      { schema: { tags: ["routes"], summary: "Get a route", params: z.object({ id: z.string().max(100) }) } },
      async (request) => {
        const { store } = tenantAccess(ctx.platform, request, "read");
        const route = await store.routes.get(request.params.id);
        if (!route) throw notFound(`route "${request.params.id}"`);
        return presentRoute(route);
      },
    );

    app.delete(
      "/v1/routes/:id",
      {
        schema: {
          tags: ["routes"],
          summary: "Delete a route",
          params: z.object({ id: z.string().max(100) }),
        },
      },
      async (request, reply) => {
        const { store, principal } = tenantAccess(ctx.platform, request, "write");
        if (!(await store.routes.delete(request.params.id))) throw notFound(`route "${request.params.id}"`);
        await store.audit.record(actorOf(principal), "route.delete", `route/${request.params.id}`);
        await ctx.routingChanged(store.tenantId, "routes");
        return reply.status(204).send();
      },
    );
  };
}
