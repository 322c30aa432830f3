import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface ChartSeries {
  label: string;
  color: string;
  values: (number | null)[];
}

/**
 * A uPlot time-series chart: canvas, ~50 KB, draws thousands of points in a few ms, so charts
 * refresh without janking the page (why uPlot over ECharts: a tenth of the size for line charts).
 */
export function Chart(props: { title: string; times: number[]; series: ChartSeries[]; unit?: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = Math.max(280, el.clientWidth);
    const plot = new uPlot(
      {
        width,
        height: 180,
        legend: { show: true },
        scales: { x: { time: true } },
        axes: [{}, { values: (_u, ticks) => ticks.map((t) => `${t}${props.unit ?? ""}`), size: 60 }],
        series: [
          {},
          ...props.series.map((s) => ({
            label: s.label,
            stroke: s.color,
            width: 1.5,
            spanGaps: true,
            // A lone value (a single minute with invocations) draws no line: show it as a dot.
            points: { show: true, size: 5, fill: s.color, filter: lonePoints },
          })),
        ],
      },
      [props.times, ...props.series.map((s) => s.values)],
      el,
    );
    const resize = new ResizeObserver(() =>
      plot.setSize({ width: Math.max(280, el.clientWidth), height: 180 }),
    );
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [props.times, props.series, props.unit]);
  return (
    <figure class="chart" aria-label={props.title}>
      <figcaption>{props.title}</figcaption>
      <div ref={box} />
    </figure>
  );
}

/** Indices of values with no value on either side: the only ones a line cannot show. */
function lonePoints(u: uPlot, seriesIdx: number): number[] {
  const values = u.data[seriesIdx] ?? [];
  const lone: number[] = [];
  for (let i = 0; i < values.length; i++) {
    if (values[i] == null) continue;
    if (values[i - 1] == null && values[i + 1] == null) lone.push(i);
  }
  return lone;
}
