import { useEffect, useMemo } from "preact/hooks";
import { useLocation } from "preact-iso";
import { seg } from "../api.ts";
import { Chart } from "../chart.tsx";
import { ErrorNote, fmtMs, fmtPct } from "../components.tsx";
import { useSession } from "../session.ts";
import type { FunctionInfo, FunctionMetrics } from "../types.ts";
import { useLoad } from "../use-load.ts";

const RANGES = ["1h", "6h", "24h", "7d", "30d"] as const;
const REFRESH_MS = 15_000;

/** Charts of the function's metrics over a range picked in the URL (?range=24h), refreshed while short. */
export function Overview({ fn }: { fn: FunctionInfo }) {
  const { api } = useSession();
  const location = useLocation();
  const range = RANGES.find((r) => r === location.query.range) ?? "1h";
  const metrics = useLoad(
    (signal) => api.get<FunctionMetrics>(`/v1/functions/${seg(fn.name)}/metrics?from=${range}`, signal),
    [api, fn.name, range],
  );
  const { reload } = metrics;
  useEffect(() => {
    if (range !== "1h" && range !== "6h") return;
    const timer = setInterval(reload, REFRESH_MS);
    return () => clearInterval(timer);
  }, [range, reload]);
  const charts = useMemo(() => {
    const series = metrics.data?.series ?? [];
    const times = series.map((p) => Date.parse(p.at) / 1000);
    const errorCodes = [...new Set(series.flatMap((p) => Object.keys(p.errors)))];
    const palette = ["#d9480f", "#c2255c", "#7048e8", "#1971c2"];
    return {
      times,
      invocations: [
        { label: "invocations", color: "#1c7ed6", values: series.map((p) => p.invocations) },
        ...errorCodes.map((code, i) => ({
          label: `errors ${code}`,
          color: palette[i % palette.length] ?? "#d9480f",
          values: series.map((p) => p.errors[code] ?? 0),
        })),
      ],
      duration: [
        { label: "p50", color: "#2b8a3e", values: series.map((p) => p.durationMs.p50) },
        { label: "p95", color: "#f08c00", values: series.map((p) => p.durationMs.p95) },
        { label: "p99", color: "#e03131", values: series.map((p) => p.durationMs.p99) },
      ],
      cold: [
        { label: "isolate", color: "#5f3dc4", values: series.map((p) => p.coldStarts.isolate ?? 0) },
        {
          label: "new container",
          color: "#0b7285",
          values: series.map((p) => p.coldStarts.newContainer ?? 0),
        },
        { label: "stem cell", color: "#2f9e44", values: series.map((p) => p.coldStarts.stemCell ?? 0) },
        { label: "paused", color: "#868e96", values: series.map((p) => p.coldStarts.paused ?? 0) },
        { label: "throttles", color: "#e8590c", values: series.map((p) => p.throttles) },
      ],
      concurrency: [
        { label: "average", color: "#1c7ed6", values: series.map((p) => p.concurrency.avg) },
        { label: "peak", color: "#c2255c", values: series.map((p) => p.concurrency.max) },
      ],
      cpu: [
        { label: "CPU p50", color: "#2b8a3e", values: series.map((p) => p.cpuMs.p50) },
        { label: "CPU p95", color: "#f08c00", values: series.map((p) => p.cpuMs.p95) },
      ],
    };
  }, [metrics.data]);
  const s = metrics.data?.summary;
  return (
    <div>
      <div class="row between">
        <div class="stats" data-testid="summary">
          <Stat label="Invocations" value={s ? String(s.invocations) : "–"} testid="stat-invocations" />
          <Stat label="Error rate" value={s ? fmtPct(s.errorRate) : "–"} />
          <Stat label="p50" value={fmtMs(s?.durationMs.p50)} />
          <Stat label="p95" value={fmtMs(s?.durationMs.p95)} />
          <Stat label="p99" value={fmtMs(s?.durationMs.p99)} />
          <Stat
            label="Concurrency (avg / peak)"
            value={s ? `${s.concurrency.avg.toFixed(2)} / ${s.concurrency.max}` : "–"}
          />
          <Stat label="CPU p95" value={fmtMs(s?.cpuMs.p95)} />
          <Stat
            label="Memory p95"
            value={s?.memoryBytes.p95 == null ? "–" : `${(s.memoryBytes.p95 / 1048576).toFixed(1)} MB`}
          />
        </div>
        <nav class="segmented" aria-label="Time range">
          {RANGES.map((r) => (
            <a key={r} href={`?range=${r}`} aria-current={r === range ? "true" : undefined}>
              {r}
            </a>
          ))}
        </nav>
      </div>
      <ErrorNote error={metrics.error} />
      <div class="charts">
        <Chart title="Invocations and errors" times={charts.times} series={charts.invocations} />
        <Chart title="Duration" times={charts.times} series={charts.duration} unit=" ms" />
        <Chart title="Cold starts and throttles" times={charts.times} series={charts.cold} />
        <Chart title="Concurrency" times={charts.times} series={charts.concurrency} />
        <Chart title="CPU per invocation" times={charts.times} series={charts.cpu} unit=" ms" />
      </div>
    </div>
  );
}

function Stat(props: { label: string; value: string; testid?: string }) {
  return (
    <div class="stat">
      <span class="muted small">{props.label}</span>
      <strong data-testid={props.testid}>{props.value}</strong>
    </div>
  );
}
