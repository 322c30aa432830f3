import { Cron } from "croner";
import { invalid } from "./errors.ts";

/** The zone a schedule is read in when none is given. */
export const DEFAULT_TIME_ZONE = "UTC";

/** Why a schedule or zone was refused, naming the field the user should fix. */
export interface CronProblem {
  field: "schedule" | "timezone";
  message: string;
}

/**
 * A cron schedule read in an IANA time zone: 5 fields, 6 fields (leading seconds) or an alias
 * (`@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`), evaluated by croner.
 *
 * Daylight saving time. A schedule whose second, minute and hour fields hold no wildcard and no step
 * (`30 2 * * *`, `0 9,17 * * *`) names wall-clock times, so it follows the wall clock: a time the
 * spring change skips runs once at the first valid instant after the gap (02:30 -> 03:00 that day),
 * and a time the autumn change repeats runs once, at its first occurrence. Any other schedule
 * (a step or a wildcard in those fields, as in `0 * * * *`) is an interval and follows elapsed time: skipped wall-clock times do
 * not exist and do not run, and a repeated wall-clock hour runs at each real occurrence, so an
 * hourly job stays hourly. That is croner's `fixedTimeRule: "no-wildcard"`, close to Vixie cron.
 */
export class CronSchedule {
  readonly schedule: string;
  readonly timezone: string;
  readonly #cron: Cron;

  private constructor(schedule: string, timezone: string, cron: Cron) {
    this.schedule = schedule;
    this.timezone = timezone;
    this.#cron = cron;
  }

  /** Parses a schedule in a zone; FN_006 naming the field and the reason when either is wrong. */
  static parse(schedule: string, timezone: string = DEFAULT_TIME_ZONE): CronSchedule {
    const parsed = CronSchedule.#tryParse(schedule, timezone);
    if ("problem" in parsed) {
      throw invalid(`${parsed.problem.field}: ${parsed.problem.message}`, {
        problems: [{ field: parsed.problem.field, rule: "cron", message: parsed.problem.message }],
      });
    }
    return parsed.schedule;
  }

  /** What is wrong with a schedule or zone, or undefined when both are valid. */
  static problem(schedule: string, timezone: string = DEFAULT_TIME_ZONE): CronProblem | undefined {
    const parsed = CronSchedule.#tryParse(schedule, timezone);
    return "problem" in parsed ? parsed.problem : undefined;
  }

  /** The first fire time strictly after `after`, or null when the schedule never fires again. */
  next(after: Date): Date | null {
    return this.#cron.nextRun(after);
  }

  /** The last fire time at or before `atOrBefore`, or null when there is none. */
  previous(atOrBefore: Date): Date | null {
    return this.#cron.previousRuns(1, new Date(atOrBefore.getTime() + 1))[0] ?? null;
  }

  /** The next `count` fire times strictly after `after`. */
  nextRuns(count: number, after: Date): Date[] {
    return this.#cron.nextRuns(count, after);
  }

  static #tryParse(
    schedule: string,
    timezone: string,
  ): { schedule: CronSchedule } | { problem: CronProblem } {
    if (!isTimeZone(timezone)) {
      return {
        problem: {
          field: "timezone",
          message: `"${timezone}" is not an IANA time zone (e.g. "UTC", "Europe/Berlin", "America/New_York")`,
        },
      };
    }
    let cron: Cron;
    try {
      cron = new Cron(schedule.trim(), { timezone, mode: "5-or-6-parts", fixedTimeRule: "no-wildcard" });
    } catch (error) {
      const reason = error instanceof Error ? error.message.replace(/^CronPattern: /, "") : String(error);
      return {
        problem: {
          field: "schedule",
          message: `"${schedule}" is not a cron schedule (${reason}); use 5 fields "m h dom mon dow", 6 with leading seconds, or @hourly/@daily/@weekly/@monthly/@yearly`,
        },
      };
    }
    // A valid pattern that matches no date (Feb 31) would never fire: the user wants to hear it now.
    if (cron.nextRun(new Date(0)) === null) {
      return { problem: { field: "schedule", message: `"${schedule}" never fires (no date matches it)` } };
    }
    return { schedule: new CronSchedule(schedule.trim(), timezone, cron) };
  }
}

/** True for a zone the runtime's ICU knows (IANA names and "UTC"). */
export function isTimeZone(timezone: string): boolean {
  if (timezone.length === 0 || timezone.length > 64) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

/** An instant as local time in a zone, ISO 8601 with the zone's offset: "2026-03-08T03:00:00-04:00". */
export function zonedIso(date: Date, timezone: string): string {
  const parts: Record<string, number> = {};
  const format = new Intl.DateTimeFormat("en-US", {
    timeZone: timezone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
  for (const part of format.formatToParts(date)) {
    if (part.type !== "literal") parts[part.type] = Number(part.value);
  }
  const wall = Date.UTC(
    parts.year ?? 1970,
    (parts.month ?? 1) - 1,
    parts.day ?? 1,
    parts.hour ?? 0,
    parts.minute ?? 0,
    parts.second ?? 0,
  );
  const offsetMin = Math.round((wall - Math.floor(date.getTime() / 1000) * 1000) / 60_000);
  const sign = offsetMin < 0 ? "-" : "+";
  const abs = Math.abs(offsetMin);
  const pad = (n: number) => String(n).padStart(2, "0");
  const local = new Date(wall).toISOString().slice(0, 19);
  return `${local}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}
