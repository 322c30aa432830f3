import { describe, expect, it } from "vitest";
import { CronSchedule, zonedIso } from "./cron-schedule.ts";
import { KumoError } from "./errors.ts";

const iso = (dates: Date[]) => dates.map((d) => d.toISOString());
const after = (schedule: string, zone: string, from: string, count = 3) =>
  iso(CronSchedule.parse(schedule, zone).nextRuns(count, new Date(from)));

describe("cron schedule", () => {
  it("cron - America/New_York spring gap: 02:30 runs once at 03:00 EDT that day, then 02:30 again", () => {
    expect(after("30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z")).toEqual([
      "2026-03-08T07:00:00.000Z",
      "2026-03-09T06:30:00.000Z",
      "2026-03-10T06:30:00.000Z",
    ]);
    expect(zonedIso(new Date("2026-03-08T07:00:00Z"), "America/New_York")).toBe("2026-03-08T03:00:00-04:00");
  });

  it("cron - America/New_York autumn repeat: 01:30 runs once, at its first (EDT) occurrence", () => {
    expect(after("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z")).toEqual([
      "2026-11-01T05:30:00.000Z",
      "2026-11-02T06:30:00.000Z",
      "2026-11-03T06:30:00.000Z",
    ]);
    expect(zonedIso(new Date("2026-11-01T05:30:00Z"), "America/New_York")).toBe("2026-11-01T01:30:00-04:00");
  });

  it("cron - Europe/Berlin spring gap and autumn repeat for a fixed time", () => {
    expect(after("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", 2)).toEqual([
      "2026-03-29T01:00:00.000Z", // 03:00 CEST: 02:30 does not exist that night
      "2026-03-30T00:30:00.000Z",
    ]);
    expect(after("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", 2)).toEqual([
      "2026-10-25T00:30:00.000Z", // 02:30 CEST, once: not again at 02:30 CET
      "2026-10-26T01:30:00.000Z",
    ]);
    // A list of hours is a fixed time too (croner's "no-wildcard" rule).
    expect(after("0 2,14 * * *", "Europe/Berlin", "2026-03-28T20:00:00Z")).toEqual([
      "2026-03-29T01:00:00.000Z",
      "2026-03-29T12:00:00.000Z",
      "2026-03-30T00:00:00.000Z",
    ]);
  });

  it("cron - interval schedules follow elapsed time: gap times skipped, a repeated hour stays hourly", () => {
    expect(after("*/30 * * * *", "America/New_York", "2026-03-08T06:40:00Z")).toEqual([
      "2026-03-08T07:00:00.000Z", // 03:00 EDT; 02:00 and 02:30 never existed
      "2026-03-08T07:30:00.000Z",
      "2026-03-08T08:00:00.000Z",
    ]);
    expect(after("0 * * * *", "America/New_York", "2026-11-01T04:30:00Z")).toEqual([
      "2026-11-01T05:00:00.000Z", // 01:00 EDT
      "2026-11-01T06:00:00.000Z", // 01:00 EST
      "2026-11-01T07:00:00.000Z", // 02:00 EST
    ]);
  });

  it("cron - 6 fields with seconds and @aliases; previous finds the last slot at or before", () => {
    expect(after("*/1 * * * * *", "UTC", "2026-10-24T12:00:00.500Z", 2)).toEqual([
      "2026-10-24T12:00:01.000Z",
      "2026-10-24T12:00:02.000Z",
    ]);
    expect(after("@hourly", "UTC", "2026-10-24T12:00:00Z", 1)).toEqual(["2026-10-24T13:00:00.000Z"]);
    const every = CronSchedule.parse("* * * * * *");
    expect(every.previous(new Date("2026-11-01T07:00:00.000Z"))?.toISOString()).toBe(
      "2026-11-01T07:00:00.000Z",
    );
    expect(every.previous(new Date("2026-11-01T07:00:00.900Z"))?.toISOString()).toBe(
      "2026-11-01T07:00:00.000Z",
    );
  });

  it("cron - bad input names the field and the reason", () => {
    expect(CronSchedule.problem("61 * * * *")).toMatchObject({ field: "schedule", message: /minute/ });
    expect(CronSchedule.problem("* * *")).toMatchObject({ field: "schedule" });
    expect(CronSchedule.problem("* * * * * * *")).toMatchObject({ field: "schedule" });
    expect(CronSchedule.problem("0 0 31 2 *")).toMatchObject({ field: "schedule", message: /never fires/ });
    expect(CronSchedule.problem("0 2 * * *", "Mars/Olympus")).toMatchObject({
      field: "timezone",
      message: /IANA/,
    });
    expect(CronSchedule.problem("0 2 * * *", "Europe/Berlin")).toBeUndefined();
    expect(() => CronSchedule.parse("nope")).toThrow(KumoError);
  });
});
