import type { AuditEventRow } from "@kumo/db";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { tenantAccess } from "../auth/access.ts";
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
});

const presentAudit = (e: AuditEventRow) => ({
  id: String(e.id),
  at: e.at.toISOString(),
  actor: e.actor,
  action: e.action,
  target: e.target,
  details: e.details,
});

/**
 * The tenant's audit log for its admins: who (key id, or the platform admin) did what to which
 * thing, newest first. Entries never hold secret or env values, only their names.
 */
export function auditRoutes(ctx: GatewayContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      "/v1/audit",
      {
        schema: {
          tags: ["audit"],
          summary: "Audit log of the tenant (admins): filter by action, actor, target and time; cursor paged",
          querystring: auditQuery,
        },
      },
      async (request) => {
        const { store } = tenantAccess(ctx.platform, request, "manage-keys");
        const q = request.query;
        const page = await store.audit.list(
          { limit: q.limit, cursor: q.cursor },
          {
            action: q.action,
            actor: q.actor,
            target: q.target,
            since: q.since ? new Date(q.since) : undefined,
            until: q.until ? new Date(q.until) : undefined,
          },
        );
        return { items: page.items.map(presentAudit), nextCursor: page.nextCursor };
      },
    );
  };
}
