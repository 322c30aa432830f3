import { notFound, resourceName } from "@kumo/core";
import type { FunctionRow, TenantStore } from "@kumo/db";
import { z } from "zod";

export const functionParams = z.object({ name: resourceName });

/** The named function of the caller's tenant, or FN_001. Another tenant's function is simply not found. */
export async function loadFunction(store: TenantStore, name: string): Promise<FunctionRow> {
  const fn = await store.functions.byName(name);
  if (!fn) throw notFound(`function "${name}"`);
  return fn;
}
