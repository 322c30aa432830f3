import { headers as H } from "@kumo/bus";
import { notFound, RESOURCE_NAME } from "@kumo/core";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { GatewayContext } from "../context.ts";
import { acceptRawBodies } from "../http/raw-bodies.ts";
import { traceStep } from "../http/request-tracing.ts";
import { matchedPrefix } from "../routing/matched-prefix.ts";
import { invoke, stickyKeyOf } from "./invoke.ts";

/**
 * Where requests for tenant hosts land: buildApp's rewriteUrl prefixes their URL with this, since
 * fastify picks a route before any async work could look the host up. A request that names the
 * prefix itself on a platform host matches no tenant host and is not found.
 */
export const TENANT_HOST_PREFIX = "/_kumo-host";

/**
 * Requests matched against tenants' routes: on `<tenant>.<apps domain>`, on a verified custom
 * domain, and at `/r/<tenant>/...` (the apps-domain routes, for use without DNS). Requests for
 * `<function>.<tenant>.<apps domain>` go to that function's live alias, with the whole path.
 */
export function routedInvokeRoutes(ctx: GatewayContext): FastifyPluginAsyncZod {
  return async (app) => {
    acceptRawBodies(app, ctx.config.bodyLimitBytes);
    const options = { bodyLimit: ctx.config.bodyLimitBytes, schema: { hide: true } };

    const byPrefix = async (request: FastifyRequest<{ Params: { tenant: string } }>, reply: FastifyReply) => {
      const { tenant } = request.params;
      if (!RESOURCE_NAME.test(tenant)) throw notFound(`tenant "${tenant}"`);
      const path = request.url.slice(`/r/${tenant}`.length) || "/";
      const tenantId = await ctx.resolver.tenantId(tenant);
      return serve(ctx, request, reply, tenantId, tenant, null, path, `/r/${tenant}`);
    };
    app.all("/r/:tenant", options, byPrefix);
    app.all("/r/:tenant/*", options, byPrefix);

    const byHost = async (request: FastifyRequest, reply: FastifyReply) => {
      const routed = ctx.hosts.classify(request.headers.host);
      if (!routed) throw notFound(`no route ${request.method} ${request.url.split("?")[0]}`);
      const tenantId =
        routed.kind === "custom" ? routed.tenantId : await ctx.resolver.tenantId(routed.tenantName);
      if (routed.kind === "function")
        return serveFunction(ctx, request, reply, tenantId, routed.tenantName, routed.functionName);
      return serve(ctx, request, reply, tenantId, routed.tenantName, routed.host, request.originalUrl, "");
    };
    app.all(TENANT_HOST_PREFIX, options, byHost);
    app.all(`${TENANT_HOST_PREFIX}/*`, options, byHost);
  };
}

async function serve(
  ctx: GatewayContext,
  request: FastifyRequest,
  reply: FastifyReply,
  tenantId: string,
  tenantName: string,
  host: string | null,
  url: string,
  /** What the client's path had before `url` (X-Forwarded-Prefix): "/r/<tenant>" or "". */
  base: string,
): Promise<FastifyReply> {
  const q = url.indexOf("?");
  const path = q < 0 ? url : url.slice(0, q);
  const match = await traceStep(request, "route", () =>
    ctx.routes.match(tenantId, host, request.method, path),
  );
  if (!match) throw notFound(`route for ${request.method} ${path}`);
  const resolved = await traceStep(request, "resolve", () =>
    ctx.resolver.resolve(tenantId, tenantName, match.value.target, stickyKeyOf(request)),
  );
  const admitted = await ctx.guard.admit(request, reply, resolved, "http");
  if (!admitted) return reply;
  return invoke(
    ctx,
    request,
    reply,
    resolved,
    "http",
    `/${match.rest}`,
    admitted.stripAuthorization,
    { ...admitted.headers, [H.routeParams]: JSON.stringify(match.params) },
    `${base}${matchedPrefix(path, match.rest)}`,
  );
}

/** A function host: the live alias sees the client's path as it is, so there is no prefix. */
async function serveFunction(
  ctx: GatewayContext,
  request: FastifyRequest,
  reply: FastifyReply,
  tenantId: string,
  tenantName: string,
  functionName: string,
): Promise<FastifyReply> {
  const resolved = await traceStep(request, "resolve", () =>
    ctx.resolver.resolve(tenantId, tenantName, functionName, stickyKeyOf(request)),
  );
  const admitted = await ctx.guard.admit(request, reply, resolved, "http");
  if (!admitted) return reply;
  const url = request.originalUrl;
  const q = url.indexOf("?");
  const path = q < 0 ? url : url.slice(0, q);
  return invoke(ctx, request, reply, resolved, "http", path, admitted.stripAuthorization, admitted.headers);
}
