import { KumoError, notFound, resourceName } from "@kumo/core";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { principalOf, requirePlatformAdmin } from "../auth/access.ts";
import { generateApiKey, hashApiKey } from "../auth/api-key.ts";
import type { GatewayContext } from "../context.ts";
import { pageQuery } from "../http/pagination.ts";
import { presentKey, presentTenant } from "../http/presenters.ts";

export function tenantRoutes(ctx: GatewayContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      "/v1/whoami",
      { schema: { tags: ["tenants"], summary: "The caller's tenant and role" } },
      async (request) => {
        const principal = principalOf(request);
        if (principal.kind === "platform-admin") return { tenant: null, role: "platform-admin", keyId: null };
        return {
          tenant: { id: principal.tenantId, name: principal.tenantName },
          role: principal.role,
          keyId: principal.keyId,
        };
      },
    );

    app.post(
      "/v1/tenants",
      {
        schema: {
          tags: ["tenants"],
          summary: "Create a tenant and its first admin key (platform admin)",
          body: z.strictObject({ name: resourceName }),
        },
      },
      async (request, reply) => {
        requirePlatformAdmin(request);
        if (await ctx.platform.tenantByName(request.body.name)) {
          throw new KumoError("FN_006", `tenant "${request.body.name}" already exists; choose another name`, {
            status: 409,
          });
        }
        const tenant = await ctx.platform.createTenant(request.body.name);
        const key = generateApiKey();
        const store = ctx.platform.tenant(tenant.id, { address: request.clientAddress });
        const row = await store.keys.create({
          name: "admin",
          role: "admin",
          keyHash: hashApiKey(key),
          createdBy: "platform-admin",
        });
        await store.audit.record("platform-admin", "tenant.create", `tenant/${tenant.name}`);
        return reply.status(201).send({ tenant: presentTenant(tenant), apiKey: { ...presentKey(row), key } });
      },
    );

    app.patch(
      "/v1/tenants/:tenant",
      {
        schema: {
          tags: ["tenants"],
          summary: "Change a tenant's settings (platform admin): logRetentionDays, null for the default",
          params: z.object({ tenant: resourceName }),
          body: z.strictObject({
            logRetentionDays: z
              .number()
              .int()
              .min(1)
              .max(3650)
              .nullable()
              .describe("days its function logs are kept; null: the installation's KUMO_LOG_RETENTION"),
          }),
        },
      },
      async (request) => {
        requirePlatformAdmin(request);
        const tenant = await ctx.platform.tenantByName(request.params.tenant);
        if (!tenant) throw notFound(`tenant "${request.params.tenant}"`);
        const updated = await ctx.platform.setLogRetention(tenant.id, request.body.logRetentionDays);
        if (!updated) throw notFound(`tenant "${request.params.tenant}"`);
        await ctx.platform
          .tenant(tenant.id, { address: request.clientAddress })
          .audit.record("platform-admin", "tenant.update", `tenant/${tenant.name}`, request.body);
        return { tenant: presentTenant(updated) };
      },
    );

    app.get(
      "/v1/tenants",
      { schema: { tags: ["tenants"], summary: "List tenants (platform admin)", querystring: pageQuery } },
      async (request) => {
        requirePlatformAdmin(request);
        const page = await ctx.platform.listTenants(request.query);
        return { items: page.items.map(presentTenant), nextCursor: page.nextCursor };
      },
    );
  };
}
