import { invalid, parseDurationMs, resourceName, TRIGGER_KINDS } from "@kumo/core";
import { z } from "zod";

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** Points a series returns at most. */
export const MAX_POINTS = 1440;
/** The longest range a query may span (the hour rollups' default retention). */
export const MAX_RANGE_MS = 400 * DAY_MS;
/** Steps chosen when none is given: the smallest that keeps a range within AUTO_POINTS points. */
const AUTO_STEPS_MS = [MINUTE_MS, 5 * MINUTE_MS, 15 * MINUTE_MS, 60 * MINUTE_MS, 360 * MINUTE_MS, DAY_MS];
const AUTO_POINTS = 300;

/** An instant: an ISO timestamp, "now", or a duration ago ("90m", "24h", "30d"). */
const instant = z
  .string()
  .max(64)
  .transform((value, c) => {
    if (value === "now") return new Date();
    const ms = parseDurationMs(value);
    if (ms !== undefined && /[a-z]$/.test(value)) return new Date(Date.now() - ms);
    const date = new Date(value);
    if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(date.getTime())) {
      c.addIssue({
        code: "custom",
        message: 'expected an ISO timestamp, "now" or a duration ago like "24h"',
      });
      return z.NEVER;
    }
    return date;
  });

const step = z
  .string()
  .max(32)
  .transform((value, c) => {
    const ms = parseDurationMs(value);
    if (ms === undefined || ms < MINUTE_MS || ms % MINUTE_MS !== 0) {
      c.addIssue({ code: "custom", message: 'expected whole minutes such as "1m", "5m", "1h" or "1d"' });
      return z.NEVER;
    }
    return ms;
  });

export const functionMetricsQuery = z.object({
  from: instant.optional().describe('Start: ISO timestamp or a duration ago ("24h"); default 1h ago'),
  to: instant.optional().describe('End: ISO timestamp, "now" (default) or a duration ago'),
  step: step
    .optional()
    .describe(
      `Bucket length in whole minutes ("5m", "1h"); default the smallest giving at most ${AUTO_POINTS} points`,
    ),
  alias: resourceName.optional().describe("Only the versions this alias routes to now"),
  version: z.coerce.number().int().min(1).optional().describe("Only this version"),
  trigger: z.enum(TRIGGER_KINDS).optional().describe("Only invocations of this trigger kind"),
});

export const tenantMetricsQuery = z.object({
  from: instant.optional().describe('Start: ISO timestamp or a duration ago ("24h"); default 1h ago'),
  to: instant.optional().describe('End: ISO timestamp, "now" (default) or a duration ago'),
  limit: z.coerce.number().int().min(1).max(100).default(10).describe("Functions per list"),
});

/** Names the console's list asks figures for: the rows in view, at most 100 per request. */
export const MAX_NAMES = 100;

export const functionsMetricsQuery = z.object({
  names: z
    .string()
    .max(MAX_NAMES * 64)
    .transform((value, c) => {
      const names = [
        ...new Set(
          value
            .split(",")
            .map((n) => n.trim())
            .filter(Boolean),
        ),
      ];
      const bad = names.find((n) => !resourceName.safeParse(n).success);
      if (names.length === 0 || names.length > MAX_NAMES || bad !== undefined) {
        c.addIssue({
          code: "custom",
          message: bad
            ? `"${bad.slice(0, 64)}" is not a function name`
            : `expected 1 to ${MAX_NAMES} function names separated by commas`,
        });
        return z.NEVER;
      }
      return names;
    })
    .describe(`Function names separated by commas (1 to ${MAX_NAMES})`),
  from: instant.optional().describe('Start: ISO timestamp or a duration ago ("24h"); default 24h ago'),
  to: instant.optional().describe('End: ISO timestamp, "now" (default) or a duration ago'),
  step: step.optional().describe('Bucket length of the sparkline series ("1h" default)'),
});

export interface MetricsWindow {
  from: Date;
  to: Date;
}

export interface MetricsRange extends MetricsWindow {
  stepMs: number;
}

/** A window from the query: default the last hour; FN_006 naming the field when it is unusable. */
export function metricsWindow(query: { from?: Date | undefined; to?: Date | undefined }): MetricsWindow {
  const to = query.to ?? new Date();
  const from = query.from ?? new Date(to.getTime() - 3_600_000);
  if (from.getTime() >= to.getTime())
    throw problem("querystring.from", "range", "must be before querystring.to");
  if (to.getTime() - from.getTime() > MAX_RANGE_MS)
    throw problem("querystring.from", "range", "the range may span at most 400 days");
  return { from, to };
}

/**
 * The window aligned to whole steps (from rounded down, to up), with the step given or chosen;
 * FN_006 when it would give more than MAX_POINTS points.
 */
export function metricsRange(query: {
  from?: Date | undefined;
  to?: Date | undefined;
  step?: number | undefined;
}): MetricsRange {
  const window = metricsWindow(query);
  const span = window.to.getTime() - window.from.getTime();
  const stepMs =
    query.step ??
    AUTO_STEPS_MS.find((s) => Math.ceil(span / s) <= AUTO_POINTS) ??
    (AUTO_STEPS_MS.at(-1) as number);
  const from = Math.floor(window.from.getTime() / stepMs) * stepMs;
  const to = Math.ceil(window.to.getTime() / stepMs) * stepMs;
  const points = (to - from) / stepMs;
  if (points > MAX_POINTS) {
    throw problem(
      "querystring.step",
      "points",
      `a step of ${stepMs / MINUTE_MS}m gives ${points} points over this range; at most ${MAX_POINTS} (use a longer step)`,
    );
  }
  return { from: new Date(from), to: new Date(to), stepMs };
}

function problem(field: string, rule: string, message: string) {
  return invalid(`invalid request: ${field}: ${message}`, { problems: [{ field, rule, message }] });
}
