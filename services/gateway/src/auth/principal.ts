import type { Role } from "@kumo/db";

/**
 * Who is calling: the platform admin, or a key of one tenant with one role. `functions`: the key
 * may only invoke these functions (and do nothing else); absent, it is not scoped.
 */
export type Principal =
  | { kind: "platform-admin" }
  | {
      kind: "tenant";
      tenantId: string;
      tenantName: string;
      role: Role;
      keyId: string;
      functions?: readonly string[] | undefined;
    };

/** What a route does, for RBAC: each role can do its own actions and those of the roles below it. */
export const ACTIONS = ["read", "invoke", "write", "manage-keys"] as const;
export type Action = (typeof ACTIONS)[number];

const GRANTS: Record<Role, readonly Action[]> = {
  viewer: ["read"],
  invoker: ["read", "invoke"],
  developer: ["read", "invoke", "write"],
  admin: ["read", "invoke", "write", "manage-keys"],
};

export function roleAllows(role: Role, action: Action): boolean {
  return GRANTS[role].includes(action);
}

/** The actor recorded in audit trails and created_by columns. */
export function actorOf(principal: Principal): string {
  return principal.kind === "platform-admin" ? "platform-admin" : principal.keyId;
}
