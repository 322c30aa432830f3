import { describe, expect, it } from "vitest";
import { describeCron } from "./cron-description.ts";

describe("cron description", () => {
  it("cron description - common schedules in words; unusual ones left to the expression", () => {
    expect(describeCron("30 2 * * 1-5")).toBe("At 02:30, Monday to Friday");
    expect(describeCron("*/15 * * * *")).toBe("Every 15 minutes");
    expect(describeCron("0 * * * *")).toBe("Every hour");
    expect(describeCron("@daily")).toBe("At 00:00");
    expect(describeCron("0 9,17 1,15 * *")).toBe("At 09:00, 17:00, on the 1st and 15th of the month");
    expect(describeCron("0 0 30 8 * *")).toBeUndefined();
    expect(describeCron("0 0 * * 0,6")).toBe("At 00:00, on weekends");
    expect(describeCron("5 4 * 1 1")).toBe("At 04:05, on Monday, in January");
    expect(describeCron("0 0 L * *")).toBeUndefined();
  });
});
