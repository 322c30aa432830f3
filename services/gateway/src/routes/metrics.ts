import { invalid, notFound } from "@kumo/core";
import { type MetricAggregate, newAggregate } from "@kumo/db";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { tenantAccess } from "../auth/access.ts";
import type { GatewayContext } from "../context.ts";
import { presentMetrics } from "../http/metrics-presenter.ts";
import { functionParams, loadFunction } from "./function-lookup.ts";
import {
  functionMetricsQuery,
  functionsMetricsQuery,
  metricsRange,
  metricsWindow,
  tenantMetricsQuery,
} from "./metrics-query.ts";

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/**
 * Per-function metrics from the rollups (see @kumo/db MetricsRepo): time series of invocations,
 * errors by code, duration percentiles merged from sketches, cold starts by kind, throttles,
 * retries, dead letters and async queue age; and the tenant's overview of its busiest, failing
 * and slowest functions.
 */
export function metricsRoutes(ctx: GatewayContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      "/v1/functions/:name/metrics",
      {
        schema: {
          tags: ["metrics"],
          summary:
            "A function's metrics as a time series: invocations, errors by code, duration avg/p50/p95/p99, cold starts by kind, throttles, concurrency (average and peak in flight), async queue age, CPU and memory per invocation",
          params: functionParams,
          querystring: functionMetricsQuery,
        },
      },
      async (request) => {
        const { store } = tenantAccess(ctx.platform, request, "read");
        const query = request.query;
        if (query.alias !== undefined && query.version !== undefined)
          throw invalid("invalid request: querystring.alias: give either alias or version, not both", {
            problems: [
              { field: "querystring.alias", rule: "exclusive", message: "give either alias or version" },
            ],
          });
        const range = metricsRange(query);
        const fn = await loadFunction(store, request.params.name);
        let versions: number[] | undefined;
        if (query.version !== undefined) versions = [query.version];
        if (query.alias !== undefined) {
          const alias = await store.aliases.get(fn.id, query.alias);
          if (!alias) throw notFound(`alias "${query.alias}" of function "${fn.name}"`);
          versions = alias.routing.map((r) => r.version);
        }
        const result = await store.metrics.series({
          functionId: fn.id,
          from: range.from,
          to: range.to,
          stepMs: range.stepMs,
          versions,
          trigger: query.trigger,
        });
        return {
          function: fn.name,
          from: range.from.toISOString(),
          to: range.to.toISOString(),
          step: range.stepMs / 1000,
          filters: {
            alias: query.alias ?? null,
            versions: versions ?? null,
            trigger: query.trigger ?? null,
          },
          summary: presentMetrics(result.total, range.to.getTime() - range.from.getTime()),
          series: result.points.map((point, i) => ({
            at: new Date(range.from.getTime() + i * range.stepMs).toISOString(),
            ...presentMetrics(point, range.stepMs),
          })),
        };
      },
    );

    app.get(
      "/v1/metrics/functions",
      {
        schema: {
          tags: ["metrics"],
          summary:
            "Totals and a short series (invocations and failures per step) of the named functions: the console's list rows in view",
          querystring: functionsMetricsQuery,
        },
      },
      async (request) => {
        const { store } = tenantAccess(ctx.platform, request, "read");
        const query = request.query;
        const to = query.to ?? new Date();
        const range = metricsRange({
          from: query.from ?? new Date(to.getTime() - DAY_MS),
          to,
          step: query.step ?? HOUR_MS,
        });
        // Names the tenant does not have (deleted since the page was read, or another tenant's) are left out.
        const functions = await store.functions.byNames(query.names);
        const series = await store.metrics.seriesByFunction({
          functionIds: functions.map((f) => f.id),
          from: range.from,
          to: range.to,
          stepMs: range.stepMs,
        });
        const spanMs = range.to.getTime() - range.from.getTime();
        const points = Math.round(spanMs / range.stepMs);
        return {
          from: range.from.toISOString(),
          to: range.to.toISOString(),
          step: range.stepMs / 1000,
          items: functions
            .sort((a, b) => a.name.localeCompare(b.name))
            .map((f) => {
              const s = series.get(f.id);
              const zeros = () => Array.from({ length: points }, () => 0);
              return {
                name: f.name,
                ...presentMetrics(s?.total ?? newAggregate(), spanMs),
                series: {
                  invocations: s ? s.points.map((p) => p.invocations) : zeros(),
                  failed: s ? s.points.map((p) => failedOf(p)) : zeros(),
                },
              };
            }),
        };
      },
    );

    app.get(
      "/v1/metrics",
      {
        schema: {
          tags: ["metrics"],
          summary: "The tenant's overview: top functions by invocations, by errors and by p95 duration",
          querystring: tenantMetricsQuery,
        },
      },
      async (request) => {
        const { store } = tenantAccess(ctx.platform, request, "read");
        const window = metricsWindow(request.query);
        const spanMs = window.to.getTime() - window.from.getTime();
        const functions = (await store.metrics.overview(window)).map((f) => ({
          name: f.name,
          ...presentMetrics(f.aggregate, spanMs),
        }));
        const limit = request.query.limit;
        const top = (key: (f: (typeof functions)[number]) => number) =>
          functions
            .filter((f) => key(f) > 0)
            .sort((a, b) => key(b) - key(a) || a.name.localeCompare(b.name))
            .slice(0, limit);
        const totalErrors = (f: (typeof functions)[number]) =>
          Object.values(f.errors).reduce((n, v) => n + v, 0);
        return {
          from: window.from.toISOString(),
          to: window.to.toISOString(),
          totals: {
            functions: functions.length,
            invocations: functions.reduce((n, f) => n + f.invocations, 0),
            errors: functions.reduce((n, f) => n + totalErrors(f), 0),
          },
          topByInvocations: top((f) => f.invocations),
          topByErrors: top(totalErrors),
          topByP95: top((f) => f.durationMs.p95 ?? 0),
        };
      },
    );
  };
}

const failedOf = (a: MetricAggregate): number => Object.values(a.errors).reduce((n, v) => n + v, 0);
