import { invalid, notFound, resourceName } from "@kumo/core";
import type { QuotaLimits } from "@kumo/db";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { namedTenantAccess, principalOf, requirePlatformAdmin, tenantAccess } from "../auth/access.ts";
import type { GatewayContext } from "../context.ts";
import { tenantUsage } from "../limits/tenant-usage.ts";

const limit = (what: string, max: number) =>
  z
    .number()
    .int("must be a whole number")
    .min(0)
    .max(max)
    .nullable()
    .optional()
    .describe(`${what}; null or absent: the installation's default (KUMO_QUOTA_*, unlimited unless set)`);

const quotasBody = z.strictObject({
  functions: limit("functions the tenant may have", 1_000_000),
  versionsPerFunction: limit("versions kept per function (older ones are pruned to make room)", 100_000),
  concurrency: limit("invocations running at once across the installation (sync)", 1_000_000),
  invocationsPerDay: limit("invocations per UTC day", Number.MAX_SAFE_INTEGER),
  buildMinutesPerDay: limit("build minutes per UTC day", 1_000_000),
  storedBytes: limit("bytes stored: sources, builds and logs", Number.MAX_SAFE_INTEGER),
});

const params = z.object({ tenant: resourceName });

const asLimits = (body: z.infer<typeof quotasBody>): QuotaLimits => ({
  functions: body.functions ?? null,
  versionsPerFunction: body.versionsPerFunction ?? null,
  concurrency: body.concurrency ?? null,
  invocationsPerDay: body.invocationsPerDay ?? null,
  buildMinutesPerDay: body.buildMinutesPerDay ?? null,
  storedBytes: body.storedBytes ?? null,
});

/**
 * Tenant quotas: the platform admin sets them (`PUT /v1/tenants/:tenant/quotas`), the tenant's
 * admins read them, and `GET /v1/usage` shows the use against each.
 */
export function quotaRoutes(ctx: GatewayContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      "/v1/tenants/:tenant/quotas",
      {
        schema: {
          tags: ["tenants"],
          summary: "A tenant's quotas: its own, and those in force (platform admin, or the tenant's admins)",
          params,
        },
      },
      async (request) => {
        const { tenantId } = await namedTenantAccess(ctx.platform, request, request.params.tenant);
        const own = await ctx.platform.tenant(tenantId).quotas.get();
        return { tenant: request.params.tenant, quotas: own, effective: await ctx.quotas.limits(tenantId) };
      },
    );

    app.put(
      "/v1/tenants/:tenant/quotas",
      {
        schema: {
          tags: ["tenants"],
          summary:
            "Set a tenant's quotas (platform admin); each absent or null one is the installation's default",
          params,
          body: quotasBody,
        },
      },
      async (request) => {
        requirePlatformAdmin(request);
        const tenant = await ctx.platform.tenantByName(request.params.tenant);
        if (!tenant) throw notFound(`tenant "${request.params.tenant}"`);
        const store = ctx.platform.tenant(tenant.id, { address: request.clientAddress });
        const own = await store.quotas.set(asLimits(request.body), "platform-admin");
        await store.audit.record("platform-admin", "tenant.quotas", `tenant/${tenant.name}`, own);
        ctx.quotas.evict(tenant.id);
        ctx.changed(tenant.id);
        return { tenant: tenant.name, quotas: own, effective: await ctx.quotas.limits(tenant.id) };
      },
    );

    app.get(
      "/v1/usage",
      {
        schema: {
          tags: ["tenants"],
          summary: "The caller's tenant's use against each quota (platform admin: ?tenant=<name>)",
          querystring: z.object({
            tenant: resourceName.optional().describe("platform admin: the tenant to report on"),
          }),
        },
      },
      async (request) => {
        const principal = principalOf(request);
        let tenantId: string;
        let tenantName: string;
        if (principal.kind === "platform-admin") {
          if (!request.query.tenant)
            throw invalid("the platform admin names the tenant: GET /v1/usage?tenant=<name>");
          const tenant = await ctx.platform.tenantByName(request.query.tenant);
          if (!tenant) throw notFound(`tenant "${request.query.tenant}"`);
          tenantId = tenant.id;
          tenantName = tenant.name;
        } else {
          const { principal: p } = tenantAccess(ctx.platform, request, "read");
          // Another tenant's name is "not found", as if it did not exist.
          if (request.query.tenant && request.query.tenant !== p.tenantName)
            throw notFound(`tenant "${request.query.tenant}"`);
          tenantId = p.tenantId;
          tenantName = p.tenantName;
        }
        const limits = await ctx.quotas.limits(tenantId);
        const usage = await tenantUsage(ctx.quotas, ctx.platform.tenant(tenantId), limits);
        return { tenant: tenantName, at: new Date().toISOString(), usage };
      },
    );
  };
}
