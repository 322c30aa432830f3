import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

export interface KeyFileResult {
  value: string;
  /** True when the key was generated now (print it once), false when it was read back. */
  created: boolean;
}

/**
 * Reads a generated key from the data directory, or generates it (mode 0600, exclusive create, so
 * two processes starting together agree on one key).
 */
export function loadOrCreateKeyFile(path: string, generate: () => string): KeyFileResult {
  try {
    return { value: readFileSync(path, "utf8").trim(), created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const value = generate();
  try {
    writeFileSync(path, `${value}\n`, { mode: 0o600, flag: "wx" });
    return { value, created: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST")
      return { value: readFileSync(path, "utf8").trim(), created: false };
    throw error;
  }
}

export const generateHexKey = (bytes = 32): string => randomBytes(bytes).toString("hex");
