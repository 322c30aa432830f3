import { notFound, resourceName } from "@kumo/core";
import { AUDIT_OUTCOMES, type AuditEventRow } from "@kumo/db";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { principalOf, tenantAccess } from "../auth/access.ts";
import type { GatewayContext } from "../context.ts";
import { pageQuery } from "../http/pagination.ts";

const pattern = (what: string) =>
  z
    .string()
    .min(1)
    .max(300)
    .regex(/^[^\s]+$/, "must hold no spaces")
    .describe(`${what}: exact, or a prefix ending in "*"`);
const time = z.iso.datetime({ offset: true, error: "must be an ISO 8601 time such as 2030-01-31T00:00:00Z" });

const auditQuery = pageQuery.extend({
  action: pattern('the action, e.g. "deploy" or "key.*"').optional(),
  actor: z
    .string()
    .regex(/^(key_[a-z0-9]{1,64}|platform-admin)$/, 'must be an API key id (key_...) or "platform-admin"')
    .optional(),
  target: pattern('the target, e.g. "function/orders" or "function/*"').optional(),
  since: time.optional().describe("entries at or after this time"),
  until: time.optional().describe("entries before this time"),
  outcome: z
    .enum(AUDIT_OUTCOMES)
    .optional()
    .describe('"ok", or the refused ("denied") and failed ("failed") attempts'),
  tenant: resourceName
    .optional()
    .describe("platform admin: one tenant's log (absent: every tenant's, each entry naming its tenant)"),
});

const presentAudit = (e: AuditEventRow) => ({
  id: String(e.id),
  at: e.at.toISOString(),
  actor: e.actor,
  action: e.action,
  target: e.target,
  outcome: e.outcome,
  address: e.address,
  details: e.details,
});

/**
 * The tenant's audit log for its admins: who (key id, or the platform admin) did what to which
 * thing, from which address, and how it ended, newest first. Entries never hold secret or env
 * values, only their names. The platform admin reads one tenant's (`?tenant=`) or every tenant's.
 */
export function auditRoutes(ctx: GatewayContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      "/v1/audit",
      {
        schema: {
          tags: ["audit"],
          summary:
            "Audit log of the tenant (admins; the platform admin: ?tenant= or all): filter by action, actor, target, outcome and time; cursor paged",
          querystring: auditQuery,
        },
      },
      async (request) => {
        const q = request.query;
        const page = { limit: q.limit, cursor: q.cursor };
        const filter = {
          action: q.action,
          actor: q.actor,
          target: q.target,
          outcome: q.outcome,
          since: q.since ? new Date(q.since) : undefined,
          until: q.until ? new Date(q.until) : undefined,
        };
        if (principalOf(request).kind === "platform-admin") {
          if (!q.tenant) {
            const all = await ctx.platform.audit(page, filter);
            return {
              items: all.items.map((e) => ({ ...presentAudit(e), tenantId: e.tenant_id })),
              nextCursor: all.nextCursor,
            };
          }
          const tenant = await ctx.platform.tenantByName(q.tenant);
          if (!tenant) throw notFound(`tenant "${q.tenant}"`);
          const one = await ctx.platform.tenant(tenant.id).audit.list(page, filter);
          return { items: one.items.map(presentAudit), nextCursor: one.nextCursor };
        }
        const { store, principal } = tenantAccess(ctx.platform, request, "manage-keys");
        // Another tenant's name is "not found", as if it did not exist.
        if (q.tenant && q.tenant !== principal.tenantName) throw notFound(`tenant "${q.tenant}"`);
        const own = await store.audit.list(page, filter);
        return { items: own.items.map(presentAudit), nextCursor: own.nextCursor };
      },
    );
  };
}
