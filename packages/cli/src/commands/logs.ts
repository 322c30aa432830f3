import { parseDurationMs } from "@kumo/core";
import type { Page } from "../api-client.ts";
import { apiPath } from "../api-path.ts";
import type { LogLine } from "../api-types.ts";
import type { Command, CommandContext } from "../command.ts";
import { usageError } from "../errors.ts";
import { timestamp } from "../format.ts";
import { parseFunctionName } from "../function-ref.ts";

export const logsCommand: Command = {
  name: "logs",
  summary: "Print a function's logs, or follow them live",
  help: `Usage: kumo logs <fn> [-f] [--since 10m] [--limit N]

  -f, --follow    keep printing new lines until Ctrl-C
  --since T       from T ago (30s, 10m, 2h, 1d) or from a date (2024-05-01T12:00:00Z)
  --limit N       at most N lines (without --follow)
With --json, one JSON object per line.`,
  options: {
    follow: { type: "boolean", short: "f" },
    since: { type: "string" },
    limit: { type: "string" },
  },
  async run(context, args) {
    args.atMost(1);
    const name = parseFunctionName(args.required(0, "function name (kumo logs <fn>)"));
    const sinceFlag = args.string("since");
    const since = sinceFlag === undefined ? undefined : sinceToIso(sinceFlag, context.io.now());
    const limit = args.int("limit", { min: 1, max: 10_000 });
    const client = await context.client();
    const path = apiPath`/v1/functions/${name}/logs`;

    if (!args.flag("follow")) {
      // Oldest first, as a log file reads (the API's default is newest first).
      const page = await client.get<Page<LogLine>>(path, { query: { since, limit, order: "asc" } });
      if (context.out.json) for (const line of page.items) context.out.jsonLine(line);
      else if (page.items.length === 0)
        context.out.note(`No logs for ${name}${since ? ` since ${since}` : ""}.`);
      else for (const line of page.items) printLine(context, line);
      return;
    }

    const { events, fallback } = await client.stream(path, { query: { follow: 1, since } });
    if (events === null) {
      // This server does not stream logs: show what it returned rather than nothing.
      context.out.warn("the server does not stream logs; showing the latest lines");
      for (const line of itemsOf(fallback)) printLine(context, line);
      return;
    }
    if (!context.out.json) context.out.note(`Following logs of ${name} (Ctrl-C to stop)...`);
    for await (const event of events) {
      if (event.event !== "log") continue;
      const line = parseLine(event.data);
      if (line) printLine(context, line);
    }
  },
};

/** "10m" → the ISO time 10 minutes ago; a date is passed on as ISO; epoch milliseconds too. */
export function sinceToIso(value: string, now: number): string {
  if (/^\d{11,}$/.test(value)) return new Date(Number(value)).toISOString();
  const ms = /^\d+(\.\d+)?\s*(ms|s|m|h|d)$/.test(value.trim()) ? parseDurationMs(value) : undefined;
  if (ms !== undefined) return new Date(now - ms).toISOString();
  const date = Date.parse(value);
  if (!Number.isNaN(date)) return new Date(date).toISOString();
  throw usageError(`invalid --since "${value}": expected a duration such as 10m or 2h, or a date`);
}

function printLine(context: CommandContext, line: LogLine): void {
  if (context.out.json) {
    context.out.jsonLine(line);
    return;
  }
  const id = line.invocationId ? ` [${line.invocationId.slice(0, 8)}]` : "";
  context.out.line(`${timestamp(line.ts)} ${line.level.toUpperCase().padEnd(5)}${id} ${line.message}`);
}

function parseLine(data: string): LogLine | null {
  try {
    const parsed: unknown = JSON.parse(data);
    if (typeof parsed === "object" && parsed !== null && "message" in parsed) return parsed as LogLine;
  } catch {
    // not JSON: show it as is
  }
  return { ts: Date.now(), invocationId: null, level: "info", message: data };
}

function itemsOf(value: unknown): LogLine[] {
  if (typeof value === "object" && value !== null && "items" in value && Array.isArray(value.items)) {
    return value.items as LogLine[];
  }
  return [];
}
