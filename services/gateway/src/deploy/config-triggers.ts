import type { FunctionConfig } from "@kumo/core";
import type { FunctionRow, TenantStore } from "@kumo/db";
import { newTriggerFromSpec } from "./trigger-spec.ts";

/**
 * Makes the function's kumo.json triggers the ones its deploy declares: unchanged ones keep their
 * state (and take new settings), removed ones go, new ones start at their next slot. API-made
 * triggers stay.
 */
export async function applyConfigTriggers(
  store: TenantStore,
  fn: FunctionRow,
  config: FunctionConfig,
  actor: string,
): Promise<void> {
  const now = new Date();
  const wanted = config.triggers.map((spec) =>
    newTriggerFromSpec(spec, {
      functionId: fn.id,
      source: "config",
      createdBy: actor,
      now,
      defaultAlert: config.alert,
    }),
  );
  const existing = await store.triggers.list(fn.id);
  if (wanted.length === 0 && !existing.some((t) => t.source === "config")) return;
  await store.transaction((trx) => trx.triggers.replaceFromConfig(fn.id, wanted));
}
