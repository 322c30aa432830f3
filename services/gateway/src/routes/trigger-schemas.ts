import {
  cronJitter,
  databaseTriggerFields,
  durationMs,
  eventPatternProblem,
  queueTriggerFields,
  triggerAlertSchema,
  triggerSchema,
} from "@kumo/core";
import { TRIGGER_CATCH_UPS, TRIGGER_OVERLAPS } from "@kumo/db";
import { z } from "zod";
import { functionParams } from "./function-lookup.ts";

/** Request schemas of the trigger routes. Schedule and zone are checked where they enter (FN_006 naming the field). */
const MAX_CATCH_UP_WINDOW_MS = 7 * 86_400_000;

export const triggerParams = functionParams.extend({
  id: z.string().regex(/^trg_[a-z0-9]{1,60}$/, "must be a trigger id (trg_...)"),
});
const target = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be an alias ("live") or a version ("v3")');
const catchUpWindow = durationMs.pipe(
  z.number().int().min(1000).max(MAX_CATCH_UP_WINDOW_MS, "must be at most 7 days"),
);
const schedule = z.string().min(1).max(120);
const timezone = z.string().min(1).max(64);

const eventType = z
  .string()
  .max(200)
  .superRefine((pattern, c) => {
    const problem = eventPatternProblem(pattern);
    if (problem) c.addIssue({ code: "custom", path: [], message: problem });
  });

/**
 * The kumo.json trigger shape (a body without `type` is a cron trigger): cron, event, queue or
 * database, with `target`, `paused` and `alert`.
 */
export const createTriggerBody = triggerSchema;

/** What a PATCH may change; fields of another kind of trigger are refused by the route. */
export const patchTriggerBody = z.strictObject({
  schedule: schedule.optional(),
  eventType: eventType.optional(),
  timezone: timezone.optional(),
  target: target.optional(),
  overlap: z.enum(TRIGGER_OVERLAPS).optional(),
  catchUp: z.enum(TRIGGER_CATCH_UPS).optional(),
  catchUpWindow: catchUpWindow.optional(),
  jitter: cronJitter.optional(),
  paused: z.boolean().optional(),
  /** null removes the alert. */
  alert: triggerAlertSchema.nullable().optional(),
  batchSize: queueTriggerFields.batchSize.unwrap().optional(),
  batchWindow: queueTriggerFields.batchWindow.unwrap().optional(),
  ordered: z.boolean().optional(),
  maxDeliveries: queueTriggerFields.maxDeliveries.unwrap().optional(),
  events: databaseTriggerFields.events.unwrap().optional(),
  columns: databaseTriggerFields.columns.unwrap().nullable().optional(),
  filter: databaseTriggerFields.filter.unwrap().nullable().optional(),
});

/** PATCH fields that belong to each kind (the rest, target, paused and alert, fit every kind). */
export const KIND_FIELDS = {
  cron: ["schedule", "timezone", "overlap", "catchUp", "catchUpWindow", "jitter"],
  event: ["eventType"],
  queue: ["batchSize", "batchWindow", "ordered", "maxDeliveries"],
  database: ["events", "columns", "filter"],
} as const;
