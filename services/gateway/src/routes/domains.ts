import { randomBytes } from "node:crypto";
import { denied, KumoError, notFound } from "@kumo/core";
import type { DomainRow, TenantStore } from "@kumo/db";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { principalOf, tenantAccess } from "../auth/access.ts";
import { actorOf } from "../auth/principal.ts";
import type { GatewayContext } from "../context.ts";
import { pageQuery } from "../http/pagination.ts";
import { presentDomain } from "../http/presenters.ts";
import { DomainVerifier } from "../routing/domain-verifier.ts";
import { hostnameProblem } from "../routing/hostname.ts";

const hostnameParams = z.object({ hostname: z.string().min(1).max(253) });

const approveQuery = z.object({
  tenant: z.string().min(1).max(100).optional().describe("the claiming tenant, when several claim it"),
});

/**
 * Custom domains: a tenant claims a hostname, proves control with a DNS TXT record or gets a
 * platform admin's approval, and only then can route it. Several tenants may hold pending claims
 * on one hostname: the first to verify owns it and the others' claims are removed, and an
 * unverified claim expires after `domainClaimTtlMs`, so a claim alone never squats a hostname.
 */
export function domainRoutes(ctx: GatewayContext): FastifyPluginAsyncZod {
  const ttlMs = ctx.config.domainClaimTtlMs;
  const expiresAt = (d: DomainRow) => new Date(d.created_at.getTime() + ttlMs);
  const expired = (d: DomainRow) => d.status === "pending" && expiresAt(d).getTime() <= Date.now();
  const present = (d: DomainRow) => ({
    ...presentDomain(d, {
      name: DomainVerifier.challengeName(d.hostname),
      value: DomainVerifier.challengeValue(d.token),
    }),
    expiresAt: d.status === "pending" ? expiresAt(d).toISOString() : null,
  });
  /** Marks a claim verified, tells the tenants whose pending claims it removed, reroutes. */
  const verify = async (store: TenantStore, domain: DomainRow, actor: string, by: string) => {
    const result = await store.domains.markVerified(domain.hostname, by);
    if (!result) {
      throw new KumoError("FN_006", `${domain.hostname} was verified by another tenant first`, {
        status: 409,
      });
    }
    await store.audit.record(actor, "domain.verify", `domain/${domain.hostname}`, { by });
    for (const tenantId of result.superseded) {
      await ctx.platform
        .tenant(tenantId)
        .audit.record(null, "domain.superseded", `domain/${domain.hostname}`, {
          reason: "another tenant verified the hostname first",
        });
    }
    await ctx.routingChanged(store.tenantId, "domains");
    return result.domain;
  };

  const validHostname = z
    .string()
    .max(253)
    .superRefine((hostname, check) => {
      const problem = hostnameProblem(hostname, ctx.config.appsDomain);
      if (problem) check.addIssue({ code: "custom", message: problem });
    });

  return async (app) => {
    app.post(
      "/v1/domains",
      {
        schema: {
          tags: ["domains"],
          summary: "Claim a custom domain; verify it with the TXT record in the answer",
          body: z.strictObject({ hostname: validHostname }),
        },
      },
      async (request, reply) => {
        const { store, principal } = tenantAccess(ctx.platform, request, "write");
        const { hostname } = request.body;
        const token = randomBytes(16).toString("hex");
        await ctx.platform.expireDomainClaims(new Date(Date.now() - ttlMs));
        const claimed = await store.domains.claim(hostname, token, actorOf(principal));
        if (!claimed) {
          const own = await store.domains.get(hostname);
          throw new KumoError(
            "FN_006",
            own
              ? `this tenant already claimed ${hostname} (${own.status}); GET /v1/domains/${hostname} shows its TXT record`
              : "hostname is claimed and verified by another tenant",
            { status: 409 },
          );
        }
        await store.audit.record(actorOf(principal), "domain.claim", `domain/${hostname}`);
        return reply.status(201).send(present(claimed));
      },
    );

    app.get(
      "/v1/domains",
      { schema: { tags: ["domains"], summary: "List the tenant's domains", querystring: pageQuery } },
      async (request) => {
        const { store } = tenantAccess(ctx.platform, request, "read");
        const page = await store.domains.list(request.query);
        return { items: page.items.map(present), nextCursor: page.nextCursor };
      },
    );

    app.get(
      "/v1/domains/:hostname",
      { schema: { tags: ["domains"], summary: "Get one domain", params: hostnameParams } },
      async (request) => {
        const { store } = tenantAccess(ctx.platform, request, "read");
        const domain = await store.domains.get(request.params.hostname);
        if (!domain) throw notFound(`domain "${request.params.hostname}"`);
        return present(domain);
      },
    );

    app.post(
      "/v1/domains/:hostname/verify",
      {
        schema: {
          tags: ["domains"],
          summary: "Check the TXT record and mark the domain verified",
          params: hostnameParams,
        },
      },
      async (request) => {
        const { store, principal } = tenantAccess(ctx.platform, request, "write");
        const domain = await store.domains.get(request.params.hostname);
        if (!domain) throw notFound(`domain "${request.params.hostname}"`);
        if (domain.status === "verified") return present(domain);
        if (expired(domain)) {
          await store.domains.delete(domain.hostname);
          throw new KumoError(
            "FN_006",
            `the claim on ${domain.hostname} expired at ${expiresAt(domain).toISOString()} unverified; claim it again with POST /v1/domains for a new TXT record`,
            { status: 410 },
          );
        }
        const name = DomainVerifier.challengeName(domain.hostname);
        const value = DomainVerifier.challengeValue(domain.token);
        const check = await ctx.domainVerifier.check(domain.hostname, domain.token);
        if (!check.verified) {
          throw new KumoError(
            "FN_006",
            `no TXT record ${name} with the value "${value}" was found${check.found.length > 0 ? ` (found: ${check.found.map((f) => JSON.stringify(f)).join(", ")})` : ""}; add it at your DNS provider and retry once it has propagated`,
            { details: { verification: { type: "TXT", name, value }, found: check.found } },
          );
        }
        return present(await verify(store, domain, actorOf(principal), "dns"));
      },
    );

    app.post(
      "/v1/domains/:hostname/approve",
      {
        schema: {
          tags: ["domains"],
          summary:
            "Platform admin: mark a claimed domain verified without DNS (?tenant= picks the claim when several tenants claim it)",
          params: hostnameParams,
          querystring: approveQuery,
        },
      },
      async (request) => {
        if (principalOf(request).kind !== "platform-admin")
          throw denied("only the platform admin key can approve domains; tenants verify them by DNS");
        const { hostname } = request.params;
        const { tenant } = request.query;
        const claims = (await ctx.platform.domainClaims(hostname)).filter((c) => !expired(c));
        const owner = claims.find((c) => c.status === "verified");
        const candidates = tenant === undefined ? claims : claims.filter((c) => c.tenant_name === tenant);
        const domain = tenant === undefined && owner ? owner : candidates[0];
        if (!domain)
          throw notFound(`domain "${hostname}"${tenant === undefined ? "" : ` of tenant ${tenant}`}`);
        if (owner && owner !== domain) {
          throw new KumoError("FN_006", `${hostname} is already verified by tenant ${owner.tenant_name}`, {
            status: 409,
          });
        }
        if (!owner && candidates.length > 1) {
          throw new KumoError(
            "FN_006",
            `${hostname} is claimed by ${candidates.length} tenants (${candidates.map((c) => c.tenant_name).join(", ")}); pass ?tenant=<name> to approve one`,
            { status: 409, details: { tenants: candidates.map((c) => c.tenant_name) } },
          );
        }
        if (domain.status === "verified") return present(domain);
        const store = ctx.platform.tenant(domain.tenant_id, { address: request.clientAddress });
        return present(await verify(store, domain, "platform-admin", "platform-admin"));
      },
    );

    app.delete(
      "/v1/domains/:hostname",
      {
        schema: {
          tags: ["domains"],
          summary: "Release a domain and delete the routes on it",
          params: hostnameParams,
        },
      },
      async (request, reply) => {
        const { store, principal } = tenantAccess(ctx.platform, request, "write");
        const { hostname } = request.params;
        const routes = await store.transaction(async (tx) => {
          if (!(await tx.domains.get(hostname))) throw notFound(`domain "${hostname}"`);
          await tx.routes.lock();
          const count = await tx.routes.deleteForHost(hostname);
          await tx.domains.delete(hostname);
          return count;
        });
        await store.audit.record(actorOf(principal), "domain.delete", `domain/${hostname}`, { routes });
        await ctx.routingChanged(store.tenantId, "domains");
        return reply.status(204).send();
      },
    );
  };
}
