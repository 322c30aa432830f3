const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"] as const;
const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
] as const;
const ALIASES: Record<string, string> = {
  "@hourly": "0 * * * *",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@weekly": "0 0 * * 0",
  "@monthly": "0 0 1 * *",
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
};

/**
 * A cron schedule in words ("At 02:30, Monday to Friday"), for the schedules people write most:
 * steps, lists, ranges and fixed times. Anything else answers undefined and the console shows the
 * expression with its next runs (which the server computes) instead of guessing.
 */
export function describeCron(schedule: string): string | undefined {
  let fields = (ALIASES[schedule.trim()] ?? schedule).trim().split(/\s+/);
  if (fields.length === 6) {
    if (fields[0] !== "0") return undefined;
    fields = fields.slice(1);
  }
  if (fields.length !== 5) return undefined;
  const [min = "", hour = "", dom = "", mon = "", dow = ""] = fields;
  const time = timePart(min, hour);
  if (time === undefined) return undefined;
  const days = dayPart(dom, dow);
  const months = listOf(mon, (n) => MONTHS[n - 1], 1, 12);
  if (days === undefined || months === undefined) return undefined;
  return [time, days, months === "" ? "" : `in ${months}`].filter(Boolean).join(", ");
}

function timePart(min: string, hour: string): string | undefined {
  const inRange = (field: string, max: number) =>
    field.split(/[,\-/]/).every((p) => p === "*" || (/^\d+$/.test(p) && Number(p) <= max));
  if (!inRange(min, 59) || !inRange(hour, 23)) return undefined;
  const step = /^\*\/(\d+)$/;
  if (min === "*" && hour === "*") return "Every minute";
  const minStep = step.exec(min);
  if (minStep && hour === "*") return `Every ${minStep[1]} minutes`;
  if (/^\d+$/.test(min) && hour === "*")
    return Number(min) === 0 ? "Every hour" : `At minute ${Number(min)} of every hour`;
  const hourStep = step.exec(hour);
  if (/^\d+$/.test(min) && hourStep) return `Every ${hourStep[1]} hours at minute ${Number(min)}`;
  if (/^\d+$/.test(min)) {
    const hours = hour.split(",");
    if (hours.every((h) => /^\d+$/.test(h)))
      return `At ${hours.map((h) => `${pad(h)}:${pad(min)}`).join(", ")}`;
    const range = /^(\d+)-(\d+)$/.exec(hour);
    if (range)
      return `At minute ${Number(min)} of every hour from ${pad(range[1] ?? "")}:00 to ${pad(range[2] ?? "")}:59`;
  }
  return undefined;
}

function dayPart(dom: string, dow: string): string | undefined {
  if (dom === "*" && dow === "*") return "";
  if (dom !== "*" && dow !== "*") return undefined;
  if (dom !== "*") {
    const days = listOf(dom, (n) => ordinal(n), 1, 31);
    return days === undefined ? undefined : `on the ${days} of the month`;
  }
  if (dow === "1-5") return "Monday to Friday";
  if (dow === "0,6" || dow === "6,0") return "on weekends";
  const days = listOf(dow, (n) => DAYS[n % 7], 0, 7);
  return days === undefined ? undefined : `on ${days}`;
}

/** "1,15" → "1st and 15th"; "1-3" → "Monday to Wednesday"; "*" → "". */
function listOf(
  field: string,
  name: (n: number) => string | undefined,
  lo: number,
  hi: number,
): string | undefined {
  if (field === "*") return "";
  const range = /^(\d+)-(\d+)$/.exec(field);
  if (range) {
    const a = name(Number(range[1]));
    const b = name(Number(range[2]));
    return a && b ? `${a} to ${b}` : undefined;
  }
  const parts = field.split(",");
  if (!parts.every((p) => /^\d+$/.test(p) && Number(p) >= lo && Number(p) <= hi)) return undefined;
  const names = parts.map((p) => name(Number(p)));
  if (names.some((n) => n === undefined)) return undefined;
  return names.length === 1 ? names[0] : `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
}

const pad = (n: string): string => n.padStart(2, "0");

function ordinal(n: number): string {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? "th" : (["th", "st", "nd", "rd"][n % 10] ?? "th");
  return `${n}${suffix}`;
}
