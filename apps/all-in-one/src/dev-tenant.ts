import { readFileSync, writeFileSync } from "node:fs";
import type { Gateway } from "@kumo/gateway";

export const DEV_TENANT = "dev";

export interface DevTenantKey {
  key: string;
  path: string;
  /** True when the key was issued now (print it once). */
  created: boolean;
}

/**
 * The "dev" tenant and an admin key of it kept in the data directory, so a newcomer logs in with
 * one command. Made through the public API with the platform admin key, the same way an operator
 * would: POST /v1/tenants, or a new key when the tenant exists and the file is gone or revoked.
 */
export async function ensureDevTenant(gateway: Gateway, path: string): Promise<DevTenantKey> {
  const call = async (method: "GET" | "POST", url: string, key: string, body?: unknown) => {
    const res = await gateway.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${key}` },
      ...(body === undefined ? {} : { payload: body as Record<string, unknown> }),
    });
    return { status: res.statusCode, json: res.json() as Record<string, unknown> };
  };
  const saved = readKey(path);
  if (saved && (await call("GET", "/v1/whoami", saved)).status === 200)
    return { key: saved, path, created: false };

  const tenant = await call("POST", "/v1/tenants", gateway.adminKey, { name: DEV_TENANT });
  let key: unknown;
  if (tenant.status === 201) key = (tenant.json.apiKey as { key?: unknown } | undefined)?.key;
  else if (tenant.status === 409) {
    const issued = await call("POST", `/v1/tenants/${DEV_TENANT}/api-keys`, gateway.adminKey, {
      role: "admin",
      name: "dev-admin",
    });
    if (issued.status === 201) key = issued.json.key;
  }
  if (typeof key !== "string") {
    throw new Error(`creating the "${DEV_TENANT}" tenant's key failed (HTTP ${tenant.status})`);
  }
  writeFileSync(path, `${key}\n`, { mode: 0o600 });
  return { key, path, created: true };
}

function readKey(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}
