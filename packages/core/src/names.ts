import { z } from "zod";

/**
 * Names of tenants, functions, aliases, env keys and secrets. They appear in URLs and subjects, so
 * they are kept to a safe alphabet: no path separators, no dots that could form "..", no unicode lookalikes.
 */
export const RESOURCE_NAME = /^[a-z][a-z0-9-]{0,62}$/;
export const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

export const resourceName = z
  .string()
  .regex(
    RESOURCE_NAME,
    "must start with a lowercase letter and hold only lowercase letters, digits and '-' (at most 63 characters)",
  );

export const envKey = z
  .string()
  .regex(
    ENV_KEY,
    "must start with a letter or '_' and hold only letters, digits and '_' (at most 128 characters)",
  );
