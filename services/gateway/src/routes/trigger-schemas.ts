import { CronSchedule, DEFAULT_TIME_ZONE, durationMs, eventPatternProblem } from "@kumo/core";
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
    if (problem) c.addIssue({ code: "custom", message: problem });
  });

const createCronTriggerBody = z
  .strictObject({
    type: z.literal("cron").default("cron"),
    schedule,
    timezone: timezone.default(DEFAULT_TIME_ZONE),
    target: target.default("live"),
    overlap: z.enum(TRIGGER_OVERLAPS).default("skip"),
    catchUp: z.enum(TRIGGER_CATCH_UPS).default("skip"),
    catchUpWindow: catchUpWindow.default(3_600_000),
    paused: z.boolean().default(false),
  })
  .superRefine((body, c) => {
    const problem = CronSchedule.problem(body.schedule, body.timezone);
    if (problem) c.addIssue({ code: "custom", path: [problem.field], message: problem.message });
  });

/** `eventType` is an exact type (`payment.processed`) or a pattern (`user.*`, `user.>`). */
const createEventTriggerBody = z.strictObject({
  type: z.literal("event"),
  eventType,
  target: target.default("live"),
  paused: z.boolean().default(false),
});

/** A body without `type` is a cron trigger (as before event triggers existed). */
export const createTriggerBody = z.discriminatedUnion("type", [
  createCronTriggerBody,
  createEventTriggerBody,
]);

export const patchTriggerBody = z.strictObject({
  schedule: schedule.optional(),
  eventType: eventType.optional(),
  timezone: timezone.optional(),
  target: target.optional(),
  overlap: z.enum(TRIGGER_OVERLAPS).optional(),
  catchUp: z.enum(TRIGGER_CATCH_UPS).optional(),
  catchUpWindow: catchUpWindow.optional(),
  paused: z.boolean().optional(),
});
