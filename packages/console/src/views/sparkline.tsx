const WIDTH = 72;
const HEIGHT = 20;

/**
 * A tiny SVG line of counts per step (failures as a second, red line): a few hundred bytes of DOM
 * per row, where a chart library per row would cost a canvas each.
 */
export function Sparkline(props: { values: number[]; bad?: number[]; label: string }) {
  const max = Math.max(1, ...props.values);
  const path = (values: number[]) =>
    values
      .map((v, i) => {
        const x = values.length > 1 ? (i / (values.length - 1)) * WIDTH : 0;
        const y = HEIGHT - 1 - (v / max) * (HEIGHT - 2);
        return `${i === 0 ? "M" : "L"}${x.toFixed(1)},${y.toFixed(1)}`;
      })
      .join("");
  const hasBad = props.bad?.some((v) => v > 0);
  return (
    <svg
      class="spark"
      width={WIDTH}
      height={HEIGHT}
      viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
      role="img"
      aria-label={props.label}
    >
      <path d={path(props.values)} class="spark-line" />
      {hasBad && props.bad && <path d={path(props.bad)} class="spark-bad" />}
    </svg>
  );
}
