import { invalid, notFound, resourceName } from "@kumo/core";
import { ROLES } from "@kumo/db";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { namedTenantAccess } from "../auth/access.ts";
import { generateApiKey, hashApiKey } from "../auth/api-key.ts";
import type { GatewayContext } from "../context.ts";
import { pageQuery } from "../http/pagination.ts";
import { presentKey } from "../http/presenters.ts";

const tenantParams = z.object({ tenant: resourceName });

export function apiKeyRoutes(ctx: GatewayContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      "/v1/tenants/:tenant/api-keys",
      {
        schema: {
          tags: ["api-keys"],
          summary: "Issue an API key; the key is shown once",
          params: tenantParams,
          body: z
            .strictObject({
              role: z.enum(ROLES),
              name: z.string().min(1).max(100).optional(),
              /** Limits an invoker key to these functions of the tenant; it can do nothing else. */
              functions: z.array(resourceName).min(1).max(100).optional(),
              /** The key stops working at this time (ISO 8601, in the future). */
              expiresAt: z.iso
                .datetime({ offset: true, error: "must be an ISO 8601 time such as 2030-01-31T00:00:00Z" })
                .optional(),
            })
            .refine((b) => b.functions === undefined || b.role === "invoker", {
              message: "only invoker keys can be limited to functions: set role to invoker",
              path: ["functions"],
            }),
        },
      },
      async (request, reply) => {
        const { store, actor } = await namedTenantAccess(ctx.platform, request, request.params.tenant);
        const expiresAt = request.body.expiresAt ? new Date(request.body.expiresAt) : undefined;
        if (expiresAt && expiresAt.getTime() <= Date.now())
          throw invalid("expiresAt must be in the future", {
            problems: [{ field: "body.expiresAt", rule: "future", message: "must be in the future" }],
          });
        const key = generateApiKey();
        const row = await store.keys.create({
          name: request.body.name ?? request.body.role,
          role: request.body.role,
          keyHash: hashApiKey(key),
          createdBy: actor,
          functions: request.body.functions ? [...new Set(request.body.functions)] : undefined,
          expiresAt,
        });
        await store.audit.record(actor, "key.create", `key/${row.id}`, {
          role: row.role,
          ...(row.functions ? { functions: row.functions } : {}),
          ...(row.expires_at ? { expiresAt: row.expires_at.toISOString() } : {}),
        });
        return reply.status(201).send({ ...presentKey(row), key });
      },
    );

    app.get(
      "/v1/tenants/:tenant/api-keys",
      {
        schema: {
          tags: ["api-keys"],
          summary: "List API keys (never their values)",
          params: tenantParams,
          querystring: pageQuery,
        },
      },
      async (request) => {
        const { store } = await namedTenantAccess(ctx.platform, request, request.params.tenant);
        const page = await store.keys.list(request.query);
        return { items: page.items.map(presentKey), nextCursor: page.nextCursor };
      },
    );

    app.delete(
      "/v1/tenants/:tenant/api-keys/:id",
      {
        schema: {
          tags: ["api-keys"],
          summary: "Revoke an API key",
          params: tenantParams.extend({
            id: z.string().regex(/^key_[a-z0-9]{1,64}$/, "must be an API key id (key_...)"),
          }),
        },
      },
      async (request, reply) => {
        const { store, actor } = await namedTenantAccess(ctx.platform, request, request.params.tenant);
        const revoked = await store.keys.revoke(request.params.id);
        if (!revoked) {
          const existing = await store.keys.get(request.params.id);
          if (!existing) throw notFound(`API key "${request.params.id}"`);
        }
        ctx.auth.forgetKey(request.params.id);
        await store.audit.record(actor, "key.revoke", `key/${request.params.id}`);
        return reply.status(204).send();
      },
    );
  };
}
