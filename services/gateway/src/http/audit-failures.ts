import type { ErrorCode } from "@kumo/core";
import type { AuditOutcome } from "@kumo/db";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { GatewayContext } from "../context.ts";
import { toPublicError } from "./error-handler.ts";

/**
 * Mutating /v1 routes that are not management: they run code or move data, and each leaves its own
 * record (an invocation, an event, a queue message) rather than an audit entry, refused or not.
 */
export const DATA_PLANE_ROUTES: ReadonlySet<string> = new Set([
  "POST /v1/functions/:name/invoke",
  "POST /v1/functions/:name/run",
  "POST /v1/functions/:name/draft-runs",
  "POST /v1/run",
  "POST /v1/events",
  "POST /v1/queues/:name/messages",
  "POST /v1/functions/:name/dead-letters/:id/redrive",
]);

const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

declare module "fastify" {
  interface FastifyRequest {
    /** The coded error a route ended with, for the audit entry of a refused or failed action. */
    auditErrorCode: ErrorCode | undefined;
  }
}

/**
 * Records refused (401/403: outcome "denied") and failed (any other 4xx/5xx: "failed") management
 * actions in the caller's tenant's audit log, with the route as the action, the path as the target
 * and the error code. Successful actions write their own entries in the routes. A request without a
 * valid key names no tenant, so it is not recorded; the platform admin's failures are recorded in
 * the tenant a `/v1/tenants/:tenant/...` path names.
 */
export function auditFailures(app: FastifyInstance, ctx: GatewayContext): void {
  app.decorateRequest("auditErrorCode", undefined);
  app.addHook("onError", (request, _reply, error, done) => {
    request.auditErrorCode = toPublicError(error).code;
    done();
  });
  app.addHook("onResponse", (request, reply, done) => {
    const status = reply.statusCode;
    if (status >= 400 && MUTATING.has(request.method)) {
      const route = `${request.method} ${request.routeOptions.url ?? request.url.split("?")[0]}`;
      if (!DATA_PLANE_ROUTES.has(route))
        recordFailure(ctx, request, route, status).catch((error: unknown) =>
          request.log.warn({ err: error }, "recording a failed action in the audit log failed"),
        );
    }
    done();
  });
}

async function recordFailure(
  ctx: GatewayContext,
  request: FastifyRequest,
  route: string,
  status: number,
): Promise<void> {
  const principal = request.principal;
  let tenantId: string | undefined;
  let actor: string;
  if (principal?.kind === "tenant") {
    tenantId = principal.tenantId;
    actor = principal.keyId;
  } else if (principal?.kind === "platform-admin") {
    const named = (request.params as { tenant?: unknown } | undefined)?.tenant;
    if (typeof named === "string") tenantId = (await ctx.platform.tenantByName(named))?.id;
    actor = "platform-admin";
  } else return;
  if (!tenantId) return;
  const outcome: AuditOutcome = status === 401 || status === 403 ? "denied" : "failed";
  const code = request.auditErrorCode ?? codeOfStatus(status);
  await ctx.platform
    .tenant(tenantId, { address: request.clientAddress })
    .audit.record(actor, route, request.url.split("?")[0]?.slice(0, 300) ?? "", { code, status }, outcome);
}

function codeOfStatus(status: number): ErrorCode {
  if (status === 401 || status === 403) return "FN_009";
  if (status === 404) return "FN_001";
  if (status === 413) return "FN_010";
  if (status === 429) return "FN_007";
  return status >= 500 ? "FN_500" : "FN_006";
}
