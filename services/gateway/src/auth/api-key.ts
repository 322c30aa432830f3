import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** API keys: "kumo_" + 32 random bytes base64url. Only the sha256 is stored. */
export function generateApiKey(): string {
  return `kumo_${randomBytes(32).toString("base64url")}`;
}

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

/** Constant-time comparison for the platform admin key, which is compared rather than looked up. */
export function keysEqual(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb);
}
