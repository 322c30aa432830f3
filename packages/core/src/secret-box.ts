import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * AES-256-GCM sealing of secret values with the platform master key. Sealed layout:
 * iv (12) | tag (16) | ciphertext. The additional data binds a value to its tenant and name,
 * so a sealed value copied into another tenant's row does not open.
 */
export class SecretBox {
  readonly #key: Buffer;
  /** Short fingerprint of the master key, stored next to each value to support key rotation later. */
  readonly keyId: string;

  constructor(masterKey: Buffer) {
    if (masterKey.length !== 32) throw new Error("the master key must be 32 bytes (64 hex characters)");
    this.#key = masterKey;
    this.keyId = createHash("sha256").update(masterKey).digest("hex").slice(0, 12);
  }

  seal(plaintext: string, context: string): Uint8Array {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]);
  }

  open(sealed: Uint8Array, context: string): string {
    const buf = Buffer.from(sealed);
    const decipher = createDecipheriv("aes-256-gcm", this.#key, buf.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(buf.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(buf.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString(
      "utf8",
    );
  }
}

/** The additional data that binds a sealed secret to its tenant and name (seal and open agree on it). */
export function secretContext(tenantId: string, name: string): string {
  return `${tenantId}/${name}`;
}

/**
 * The secret box of a service that is not the gateway: the master key from its configuration, or
 * the one the gateway generated in the shared data dir (`master.key`); undefined when neither
 * exists (the service then cannot open tenant secrets and says so where it needs one).
 */
export function serviceSecretBox(masterKey: string | undefined, dataDir: string): SecretBox | undefined {
  let key = masterKey;
  if (!key) {
    try {
      key = readFileSync(join(dataDir, "master.key"), "utf8").trim();
    } catch {
      return undefined;
    }
  }
  return new SecretBox(Buffer.from(key, "hex"));
}
