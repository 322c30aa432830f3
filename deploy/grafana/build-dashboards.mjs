// Writes Kumo's Grafana dashboards (deploy/grafana/dashboards/*.json) from the compact description
// below: `node deploy/grafana/build-dashboards.mjs`. The JSON files are committed so operators can
// import them as they are; test/observability/dashboards.test.ts checks that they match this
// script's output and that every query names a metric Kumo exports.
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

// Grafana fills in `${datasource}` (the dashboard variable), not JavaScript.
const DATASOURCE = { type: "prometheus", uid: ["$", "{datasource}"].join("") };

/** A time series panel: [title, unit, [expr, legend]...]. */
const ts = (title, unit, ...queries) => ({ title, unit, queries });

/** One dashboard per screen an operator opens; `function` adds a function_id variable. */
const DASHBOARDS = [
  {
    uid: "kumo-overview",
    title: "Kumo / Platform overview",
    panels: [
      ts("Invocations per second", "reqps", ["sum(kumo:invocations:rate5m)", "all functions"]),
      ts("Error ratio", "percentunit", [
        "sum(kumo:invocation_errors:rate5m) / sum(kumo:invocations:rate5m)",
        "errors",
      ]),
      ts("Duration p95 by function (top 10)", "s", [
        "topk(10, kumo:invocation_duration_seconds:p95_5m)",
        "{{function_id}}",
      ]),
      ts("Async backlog", "short", ["max(kumo_async_backlog)", "waiting or running"]),
      ts("Services up", "short", ['sum by (job) (up{job=~"kumo-.*"})', "{{job}}"]),
      ts(
        "Event loop lag p99",
        "s",
        ["max(kumo_gateway_nodejs_eventloop_lag_p99_seconds)", "gateway"],
        ["max(kumo_autoscaler_nodejs_eventloop_lag_p99_seconds)", "autoscaler"],
        ["max(kumo_scheduler_nodejs_eventloop_lag_p99_seconds)", "scheduler"],
        ["max(kumo_builder_nodejs_eventloop_lag_p99_seconds)", "builder"],
      ),
    ],
  },
  {
    uid: "kumo-function",
    title: "Kumo / Function (RED)",
    functionVariable: true,
    panels: [
      ts("Rate", "reqps", [
        'sum(rate(kumo_invocations_total{function_id=~"$function_id"}[5m]))',
        "invocations",
      ]),
      ts("Errors by code", "reqps", [
        'sum by (code) (rate(kumo_invocations_total{function_id=~"$function_id", outcome="failed"}[5m]))',
        "{{code}}",
      ]),
      ts(
        "Duration",
        "s",
        [
          'histogram_quantile(0.5, sum by (le) (rate(kumo_invocation_duration_seconds_bucket{function_id=~"$function_id"}[5m])))',
          "p50",
        ],
        [
          'histogram_quantile(0.95, sum by (le) (rate(kumo_invocation_duration_seconds_bucket{function_id=~"$function_id"}[5m])))',
          "p95",
        ],
        [
          'histogram_quantile(0.99, sum by (le) (rate(kumo_invocation_duration_seconds_bucket{function_id=~"$function_id"}[5m])))',
          "p99",
        ],
      ),
      ts("Cold vs warm", "reqps", [
        'sum by (cold) (rate(kumo_invocation_duration_seconds_count{function_id=~"$function_id"}[5m]))',
        "cold={{cold}}",
      ]),
      ts("Throttled (FN_007)", "reqps", [
        'sum(rate(kumo_invocations_total{function_id=~"$function_id", code="FN_007"}[5m]))',
        "throttled",
      ]),
      ts("Async outcomes", "reqps", [
        'sum by (outcome) (rate(kumo_async_invocations_total{function_id=~"$function_id"}[5m]))',
        "{{outcome}}",
      ]),
    ],
  },
  {
    uid: "kumo-autoscaler",
    title: "Kumo / Autoscaler pools and cold starts",
    panels: [
      ts("Containers per node", "short", ["sum by (instance) (kumo_autoscaler_instances)", "{{instance}}"]),
      ts("In flight per node", "short", ["sum by (instance) (kumo_autoscaler_in_flight)", "{{instance}}"]),
      ts("Cold starts by kind", "reqps", ["sum by (kind) (kumo:cold_starts:rate5m)", "{{kind}}"]),
      ts("Cold starts by runtime", "reqps", ["sum by (runtime) (kumo:cold_starts:rate5m)", "{{runtime}}"]),
      ts("Ready stem cells", "short", ["sum by (runtime) (kumo_autoscaler_stem_cells)", "{{runtime}}"]),
      ts("Resident memory", "bytes", ["kumo_autoscaler_process_resident_memory_bytes", "{{instance}}"]),
    ],
  },
  {
    uid: "kumo-async",
    title: "Kumo / Async queue, dead letters and triggers",
    panels: [
      ts("Backlog", "short", ["max(kumo_async_backlog)", "backlog"]),
      ts("Outcomes", "reqps", ["sum by (outcome) (rate(kumo_async_invocations_total[5m]))", "{{outcome}}"]),
      ts("Dead letters (15 min)", "short", [
        'sum by (function_id) (increase(kumo_async_invocations_total{outcome="dead_lettered"}[15m]))',
        "{{function_id}}",
      ]),
      ts("Run time p95", "s", [
        "histogram_quantile(0.95, sum by (le) (rate(kumo_async_invocation_duration_seconds_bucket[5m])))",
        "p95",
      ]),
      ts("Destination deliveries", "reqps", [
        "sum by (outcome) (rate(kumo_destination_deliveries_total[5m]))",
        "{{outcome}}",
      ]),
      ts("Queue trigger lag", "short", ["sum by (trigger_id) (kumo_scheduler_queue_lag)", "{{trigger_id}}"]),
      ts("Scheduler leader", "short", ["sum(kumo_scheduler_leader)", "leaders (should be 1)"]),
    ],
  },
  {
    uid: "kumo-builder",
    title: "Kumo / Builder",
    panels: [
      ts("Builds", "short", ["sum by (outcome) (increase(kumo_builds_total[1h]))", "{{outcome}}"]),
      ts("Failures by code", "short", [
        'sum by (code) (increase(kumo_builds_total{outcome="failed"}[1h]))',
        "{{code}}",
      ]),
      ts(
        "Build duration p50 / p95",
        "s",
        ["histogram_quantile(0.5, sum by (le) (rate(kumo_build_duration_seconds_bucket[15m])))", "p50"],
        ["histogram_quantile(0.95, sum by (le) (rate(kumo_build_duration_seconds_bucket[15m])))", "p95"],
      ),
      ts("CPU", "percentunit", ["rate(kumo_builder_process_cpu_seconds_total[5m])", "{{instance}}"]),
    ],
  },
];

function panel(p, index) {
  return {
    id: index + 1,
    type: "timeseries",
    title: p.title,
    datasource: DATASOURCE,
    gridPos: { h: 8, w: 12, x: (index % 2) * 12, y: Math.floor(index / 2) * 8 },
    fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
    options: { legend: { displayMode: "list", placement: "bottom" }, tooltip: { mode: "multi" } },
    targets: p.queries.map(([expr, legendFormat], i) => ({
      datasource: DATASOURCE,
      expr,
      legendFormat,
      refId: String.fromCharCode(65 + i),
    })),
  };
}

function dashboard(d) {
  const variables = [
    { name: "datasource", type: "datasource", query: "prometheus", label: "Data source", hide: 0 },
  ];
  if (d.functionVariable) {
    variables.push({
      name: "function_id",
      label: "Function",
      type: "query",
      datasource: DATASOURCE,
      query: { query: "label_values(kumo_invocations_total, function_id)", refId: "functions" },
      definition: "label_values(kumo_invocations_total, function_id)",
      includeAll: true,
      multi: true,
      refresh: 2,
      hide: 0,
    });
  }
  return {
    uid: d.uid,
    title: d.title,
    tags: ["kumo"],
    schemaVersion: 39,
    editable: true,
    refresh: "30s",
    time: { from: "now-6h", to: "now" },
    templating: { list: variables },
    panels: d.panels.map(panel),
  };
}

const out = join(dirname(fileURLToPath(import.meta.url)), "dashboards");
export const dashboards = DASHBOARDS.map(dashboard);
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const d of dashboards) {
    writeFileSync(join(out, `${d.uid}.json`), `${JSON.stringify(d, null, 2)}\n`);
  }
}
