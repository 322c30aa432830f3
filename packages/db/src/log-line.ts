export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A function's log line as stored and streamed: its level, its text and, for JSON lines, its fields. */
export interface StructuredLogLine {
  level: LogLevel;
  message: string;
  fields: Record<string, unknown> | null;
}

/** Level names of common loggers (pino, bunyan, winston, Python logging, slog, zap, log4j) → Kumo's four. */
const LEVEL_NAMES: Record<string, LogLevel> = {
  trace: "debug",
  debug: "debug",
  verbose: "debug",
  silly: "debug",
  info: "info",
  information: "info",
  notice: "info",
  log: "info",
  http: "info",
  warn: "warn",
  warning: "warn",
  error: "error",
  err: "error",
  fatal: "error",
  critical: "error",
  crit: "error",
  alert: "error",
  emerg: "error",
  emergency: "error",
  panic: "error",
  dpanic: "error",
  severe: "error",
};

/** A JSON line's `level` (or `severity`, `lvl`): a name, or pino/bunyan's numbers (10 trace … 60 fatal). */
export function levelOf(value: unknown): LogLevel | undefined {
  if (typeof value === "string") return LEVEL_NAMES[value.trim().toLowerCase()];
  if (typeof value === "number" && Number.isFinite(value)) {
    if (value >= 50) return "error";
    if (value >= 40) return "warn";
    if (value >= 30) return "info";
    return "debug";
  }
  return undefined;
}

/** Lines longer than this are not tried as JSON (they are kept, as text). */
const MAX_JSON_LINE = 64 * 1024;

/**
 * What a line a function wrote becomes: a line that is a JSON object keeps its fields, and its own
 * `level` (`severity`, `lvl`) wins over the stream's, so `console.log(JSON.stringify({level:
 * "error", …}))` and a structured logger writing to stdout are stored at the level they say. The
 * message stays the line as written: text search sees every field, and nothing is lost.
 */
export function structureLogLine(level: LogLevel, message: string): StructuredLogLine {
  const text = message.trim();
  if (text.length < 2 || text.length > MAX_JSON_LINE || text[0] !== "{" || text.at(-1) !== "}") {
    return { level, message, fields: null };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { level, message, fields: null };
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return { level, message, fields: null };
  }
  const fields = parsed as Record<string, unknown>;
  const own = levelOf(fields.level) ?? levelOf(fields.severity) ?? levelOf(fields.lvl);
  return { level: own ?? level, message, fields };
}
