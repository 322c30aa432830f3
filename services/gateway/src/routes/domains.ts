import { randomBytes } from "node:crypto";
import { denied, KumoError, notFound } from "@kumo/core";
import type { DomainRow } from "@kumo/db";
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

const present = (d: DomainRow) =>
  presentDomain(d, {
    name: DomainVerifier.challengeName(d.hostname),
    value: DomainVerifier.challengeValue(d.token),
  });

/**
 * Custom domains: a tenant claims a hostname (one tenant per hostname, pending or verified), proves
 * control with a DNS TXT record or gets a platform admin's approval, and only then can route it.
 */
export function domainRoutes(ctx: GatewayContext): FastifyPluginAsyncZod {
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
        const claimed = await store.domains.claim(hostname, token, actorOf(principal));
        if (!claimed) {
          const holder = await ctx.platform.domain(hostname);
          throw new KumoError(
            "FN_006",
            holder?.tenant_id === store.tenantId
              ? `this tenant already claimed ${hostname} (${holder.status}); GET /v1/domains/${hostname} shows its TXT record`
              : "hostname is claimed by another tenant",
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
        const verified = (await store.domains.markVerified(domain.hostname, "dns")) ?? domain;
        await store.audit.record(actorOf(principal), "domain.verify", `domain/${domain.hostname}`, {
          by: "dns",
        });
        await ctx.routingChanged(store.tenantId, "domains");
        return present(verified);
      },
    );

    app.post(
      "/v1/domains/:hostname/approve",
      {
        schema: {
          tags: ["domains"],
          summary: "Platform admin: mark a claimed domain verified without DNS",
          params: hostnameParams,
        },
      },
      async (request) => {
        if (principalOf(request).kind !== "platform-admin")
          throw denied("only the platform admin key can approve domains; tenants verify them by DNS");
        const domain = await ctx.platform.domain(request.params.hostname);
        if (!domain) throw notFound(`domain "${request.params.hostname}"`);
        const store = ctx.platform.tenant(domain.tenant_id);
        const verified = (await store.domains.markVerified(domain.hostname, "platform-admin")) ?? domain;
        await store.audit.record("platform-admin", "domain.verify", `domain/${domain.hostname}`, {
          by: "platform-admin",
        });
        await ctx.routingChanged(domain.tenant_id, "domains");
        return present(verified);
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
