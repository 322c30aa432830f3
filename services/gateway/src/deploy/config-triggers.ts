import { CronSchedule, DEFAULT_TIME_ZONE, type FunctionConfig } from "@kumo/core";
import type { FunctionRow, NewTrigger, TenantStore } from "@kumo/db";

/** Catch-up window of triggers declared in kumo.json (which has no setting for it yet). */
const CONFIG_CATCH_UP_WINDOW_MS = 3_600_000;

/**
 * Makes the function's kumo.json cron and event triggers the ones its deploy declares: unchanged ones keep
 * their state, removed ones go, new ones start at their next slot. API-made triggers stay.
 */
export async function applyConfigTriggers(
  store: TenantStore,
  fn: FunctionRow,
  config: FunctionConfig,
  actor: string,
): Promise<void> {
  const now = new Date();
  const wanted: NewTrigger[] = [];
  for (const spec of config.triggers) {
    if (spec.type === "event") {
      wanted.push({
        functionId: fn.id,
        kind: "event",
        target: "live",
        schedule: null,
        eventPattern: spec.eventType,
        timezone: DEFAULT_TIME_ZONE,
        overlap: "allow",
        catchUp: "skip",
        catchUpWindowMs: 0,
        paused: false,
        source: "config",
        nextFireAt: null,
        createdBy: actor,
      });
      continue;
    }
    if (spec.type !== "cron") continue;
    const timezone = spec.timezone ?? DEFAULT_TIME_ZONE;
    const schedule = CronSchedule.parse(spec.schedule, timezone);
    wanted.push({
      functionId: fn.id,
      kind: "cron",
      target: "live",
      schedule: schedule.schedule,
      eventPattern: null,
      timezone,
      overlap: "skip",
      catchUp: "skip",
      catchUpWindowMs: CONFIG_CATCH_UP_WINDOW_MS,
      paused: false,
      source: "config",
      nextFireAt: schedule.next(now),
      createdBy: actor,
    });
  }
  const existing = await store.triggers.list(fn.id);
  if (wanted.length === 0 && !existing.some((t) => t.source === "config")) return;
  await store.transaction((trx) => trx.triggers.replaceFromConfig(fn.id, wanted));
}
