import { Readable } from "node:stream";
import { parseDurationMs } from "@kumo/core";
import { LOG_LEVELS, LOG_ORDERS, type LogLevel, type LogRow } from "@kumo/db";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { tenantAccess } from "../auth/access.ts";
import type { GatewayContext } from "../context.ts";
import { pageQuery } from "../http/pagination.ts";
import { presentLog } from "../http/presenters.ts";
import { openSse } from "../http/sse.ts";
import { matchesLiveLog } from "../invoke/live-logs.ts";
import { functionParams, loadFunction } from "./function-lookup.ts";

/** An ISO timestamp, epoch milliseconds, or a duration ago ("10m", "2h", "7d"). */
const timeSchema = z
  .string()
  .max(64)
  .transform((value, c) => {
    const ms = parseDurationMs(value);
    if (ms !== undefined && /[a-z]$/.test(value)) return new Date(Date.now() - ms);
    const date = /^\d{11,15}$/.test(value) ? new Date(Number(value)) : new Date(value);
    if (Number.isNaN(date.getTime())) {
      c.addIssue({
        code: "custom",
        message: 'expected an ISO timestamp, epoch milliseconds or a duration ago like "10m"',
      });
      return z.NEVER;
    }
    return date;
  });

/** `level=warn,error`: lines of any of the listed levels. */
const levelList = z
  .string()
  .max(64)
  .transform((value, c) => {
    const levels = value
      .split(",")
      .map((l) => l.trim().toLowerCase())
      .filter(Boolean);
    const unknown = levels.filter((l) => !(LOG_LEVELS as readonly string[]).includes(l));
    if (levels.length === 0 || unknown.length > 0) {
      c.addIssue({
        code: "custom",
        message: `expected one or more of ${LOG_LEVELS.join(", ")}, separated by commas${unknown.length > 0 ? ` (not "${unknown[0]}")` : ""}`,
      });
      return z.NEVER;
    }
    return levels as LogLevel[];
  });

/** The filters search, live tail and export share. */
const logFilters = {
  q: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe("case-insensitive substring of the line (a JSON line's whole text)"),
  level: levelList.optional().describe("debug, info, warn, error; several separated by commas"),
  from: timeSchema.optional().describe("lines at or after: ISO time, epoch ms, or a duration ago (10m)"),
  to: timeSchema.optional().describe("lines at or before: ISO time, epoch ms, or a duration ago"),
  /** The route's first parameter, kept: the same as `from`. */
  since: timeSchema.optional().describe("the same as from (kept for older clients)"),
  invocationId: z.uuid("must be an invocation id (a UUID)").optional(),
  version: z.coerce.number().int().min(1).optional(),
};

function checkRange(value: { from?: Date | undefined; to?: Date | undefined }, c: z.RefinementCtx): void {
  if (value.from && value.to && value.from.getTime() > value.to.getTime())
    c.addIssue({ code: "custom", path: ["to"], message: "must not be before from" });
}

/** Lines an export reads between writes to the response. */
const EXPORT_CHUNK_LINES = 500;

export function logRoutes(ctx: GatewayContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      "/v1/functions/:name/logs",
      {
        schema: {
          tags: ["logs"],
          summary:
            "Search a function's logs, newest first (cursor paged); ?follow=1 streams new lines matching the same filters (SSE)",
          params: functionParams,
          querystring: pageQuery
            .extend({
              ...logFilters,
              order: z.enum(LOG_ORDERS).default("desc").describe("desc: newest first; asc: oldest first"),
              follow: z.enum(["0", "1", "true", "false"]).optional(),
            })
            .superRefine((value, c) => checkRange({ from: value.from ?? value.since, to: value.to }, c)),
        },
      },
      async (request, reply) => {
        const { store } = tenantAccess(ctx.platform, request, "read");
        const fn = await loadFunction(store, request.params.name);
        const query = request.query;
        const follow = query.follow === "1" || query.follow === "true";
        if (!follow) {
          const page = await store.logs.list({
            functionId: fn.id,
            q: query.q,
            levels: query.level,
            from: query.from ?? query.since,
            to: query.to,
            invocationId: query.invocationId,
            version: query.version,
            order: query.order,
            limit: query.limit,
            cursor: query.cursor,
          });
          return { items: page.items.map(presentLog), nextCursor: page.nextCursor };
        }
        const filter = {
          levels: query.level,
          q: query.q,
          invocationId: query.invocationId,
          version: query.version,
        };
        const sse = openSse(reply);
        const unsubscribe = ctx.liveLogs.subscribe(store.tenantId, fn.id, (line) => {
          if (matchesLiveLog(line, filter)) sse.send("log", line);
        });
        sse.closed.addEventListener("abort", unsubscribe, { once: true });
      },
    );

    app.get(
      "/v1/functions/:name/logs/export",
      {
        schema: {
          tags: ["logs"],
          summary:
            "Export a function's logs as NDJSON (one JSON line per log line, oldest first), streamed; the search's filters",
          params: functionParams,
          querystring: z
            .object(logFilters)
            .superRefine((value, c) => checkRange({ from: value.from ?? value.since, to: value.to }, c)),
        },
      },
      async (request, reply) => {
        const { store } = tenantAccess(ctx.platform, request, "read");
        const fn = await loadFunction(store, request.params.name);
        const query = request.query;
        // Up to now, so an export of a function that keeps logging still ends.
        const rows = store.logs.stream({
          functionId: fn.id,
          q: query.q,
          levels: query.level,
          from: query.from ?? query.since,
          to: query.to ?? new Date(),
          invocationId: query.invocationId,
          version: query.version,
        });
        const stamp = new Date().toISOString().replace(/[:.]/g, "-");
        return reply
          .header("content-type", "application/x-ndjson; charset=utf-8")
          .header("content-disposition", `attachment; filename="${fn.name}-logs-${stamp}.ndjson"`)
          .send(Readable.from(ndjsonChunks(rows)));
      },
    );
  };
}

/** Rows as NDJSON text, a few hundred lines per chunk; pulled as the response drains. */
async function* ndjsonChunks(rows: AsyncIterable<LogRow>): AsyncGenerator<string> {
  let chunk = "";
  let lines = 0;
  for await (const row of rows) {
    chunk += `${JSON.stringify(presentLog(row))}\n`;
    if (++lines === EXPORT_CHUNK_LINES) {
      yield chunk;
      chunk = "";
      lines = 0;
    }
  }
  if (chunk !== "") yield chunk;
}
