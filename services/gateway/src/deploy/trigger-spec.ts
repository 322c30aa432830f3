import {
  CronSchedule,
  DEFAULT_TIME_ZONE,
  databaseSettings,
  queueSettings,
  type TriggerAlert,
  type TriggerSpec,
} from "@kumo/core";
import type { NewTrigger, TriggerSource } from "@kumo/db";

/**
 * The trigger row a declared trigger becomes, whether it came from kumo.json (on deploy) or from
 * `POST /v1/functions/:name/triggers`. A cron trigger starts at its next slot after `now`.
 */
export function newTriggerFromSpec(
  spec: TriggerSpec,
  input: {
    functionId: string;
    source: TriggerSource;
    createdBy: string | null;
    now: Date;
    /** The alert of triggers that declare none (kumo.json's top-level `alert`). */
    defaultAlert?: TriggerAlert | undefined;
  },
): NewTrigger {
  const base = {
    functionId: input.functionId,
    target: spec.target,
    paused: spec.paused,
    source: input.source,
    createdBy: input.createdBy,
    alert: spec.alert ?? input.defaultAlert ?? null,
    schedule: null,
    eventPattern: null,
    timezone: DEFAULT_TIME_ZONE,
    overlap: "allow" as const,
    catchUp: "skip" as const,
    catchUpWindowMs: 0,
    nextFireAt: null,
    settings: null,
    jitterMs: 0,
  };
  switch (spec.type) {
    case "cron": {
      const schedule = CronSchedule.parse(spec.schedule, spec.timezone);
      return {
        ...base,
        kind: "cron",
        schedule: schedule.schedule,
        timezone: spec.timezone,
        overlap: spec.overlap,
        catchUp: spec.catchUp,
        catchUpWindowMs: spec.catchUpWindow,
        jitterMs: spec.jitter,
        nextFireAt: schedule.next(input.now),
      };
    }
    case "event":
      return { ...base, kind: "event", eventPattern: spec.eventType };
    case "queue":
      return { ...base, kind: "queue", settings: queueSettings(spec) };
    case "database":
      return { ...base, kind: "database", settings: databaseSettings(spec) };
  }
}
