import { denied, notFound } from "@kumo/core";
import type { PlatformStore, TenantStore } from "@kumo/db";
import type { FastifyRequest } from "fastify";
import { type Action, type Principal, roleAllows } from "./principal.ts";

export type TenantPrincipal = Extract<Principal, { kind: "tenant" }>;

export interface TenantAccess {
  principal: TenantPrincipal;
  store: TenantStore;
}

declare module "fastify" {
  interface FastifyRequest {
    principal: Principal | undefined;
    /** The client's address (after trusted proxies), set for /v1 requests: what audit entries record. */
    clientAddress: string | undefined;
  }
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw denied("missing API key: send the header 'Authorization: Bearer <key>'", 401);
  return request.principal;
}

/** The caller's tenant store, after checking the role allows the action. Platform admins use tenant keys here. */
export function tenantAccess(platform: PlatformStore, request: FastifyRequest, action: Action): TenantAccess {
  const principal = principalOf(request);
  if (principal.kind !== "tenant") {
    throw denied(
      "this route acts inside a tenant: call it with a key of that tenant, not the platform admin key",
    );
  }
  if (!roleAllows(principal.role, action)) {
    throw denied(
      `the ${principal.role} role cannot ${describe(action)}; ask a tenant admin for a key with more rights`,
    );
  }
  // A key scoped to functions only invokes them (checked per function by authorizeInvocation).
  if (principal.functions && action !== "invoke") {
    throw denied("this key is limited to invoking named functions; it cannot read or change anything");
  }
  return { principal, store: platform.tenant(principal.tenantId, { address: request.clientAddress }) };
}

export function requirePlatformAdmin(request: FastifyRequest): void {
  if (principalOf(request).kind !== "platform-admin")
    throw denied("only the platform admin key can manage tenants");
}

/**
 * Resolves a tenant named in the URL for key management: the platform admin may name any tenant,
 * a tenant admin only its own. Any other tenant is "not found" so names do not leak.
 */
export async function namedTenantAccess(
  platform: PlatformStore,
  request: FastifyRequest,
  tenantName: string,
): Promise<{ tenantId: string; store: TenantStore; actor: string }> {
  const principal = principalOf(request);
  if (principal.kind === "platform-admin") {
    const tenant = await platform.tenantByName(tenantName);
    if (!tenant) throw notFound(`tenant "${tenantName}"`);
    return {
      tenantId: tenant.id,
      store: platform.tenant(tenant.id, { address: request.clientAddress }),
      actor: "platform-admin",
    };
  }
  if (principal.tenantName !== tenantName) throw notFound(`tenant "${tenantName}"`);
  if (!roleAllows(principal.role, "manage-keys")) {
    throw denied(`the ${principal.role} role cannot manage API keys; only a tenant admin can`);
  }
  return {
    tenantId: principal.tenantId,
    store: platform.tenant(principal.tenantId, { address: request.clientAddress }),
    actor: principal.keyId,
  };
}

function describe(action: Action): string {
  switch (action) {
    case "read":
      return "read this";
    case "invoke":
      return "invoke functions";
    case "write":
      return "deploy or change functions, env or secrets";
    case "manage-keys":
      return "manage API keys";
  }
}
