import { useState } from "preact/hooks";
import { fmtPct, fmtTime } from "../components.tsx";
import type { Rollout } from "../types.ts";

export interface RolloutRequest {
  to: number;
  alias: string;
  steps: number[];
  interval: string;
  maxErrorRate: number;
  minRequests: number;
}

/** A running rollout: where it is among its steps, the last error rate it judged, when it moves next. */
export function RolloutProgress(props: { rollout: Rollout; writer: boolean; onCancel(): Promise<void> }) {
  const r = props.rollout;
  return (
    <div class="panel rollout" data-testid="rollout">
      <p>
        <b>{r.alias}</b>: v{r.from} → v{r.to}, step {r.stepIndex + 1} of {r.steps.length} ({r.weight ?? 0}% on
        v{r.to})
      </p>
      <ol class="steps" aria-label="Rollout steps">
        {r.steps.map((w, i) => (
          <li
            key={w}
            class={i < r.stepIndex ? "done" : i === r.stepIndex ? "current" : ""}
            aria-current={i === r.stepIndex ? "step" : undefined}
          >
            {w}%
          </li>
        ))}
      </ol>
      <p class="muted small">
        Next step {fmtTime(r.nextStepAt)} · last error rate{" "}
        {r.lastErrorRate === null ? "–" : fmtPct(r.lastErrorRate)} over {r.lastRequests ?? 0} requests (rolls
        back above {fmtPct(r.maxErrorRate)} once {r.minRequests} requests are seen)
      </p>
      {props.writer && (
        <button type="button" onClick={() => void props.onCancel()}>
          Cancel rollout
        </button>
      )}
    </div>
  );
}

/** Starts a gradual rollout: the target version, the alias, the weights step by step and the pace. */
export function RolloutForm(props: {
  aliases: string[];
  versions: number[];
  onStart(body: RolloutRequest): Promise<void>;
}) {
  const [to, setTo] = useState(props.versions[0] ?? 1);
  const [alias, setAlias] = useState(props.aliases.includes("live") ? "live" : (props.aliases[0] ?? "live"));
  const [steps, setSteps] = useState("10, 50, 100");
  const [interval, setPace] = useState("5m");
  const [maxErrorRate, setMaxErrorRate] = useState("5");
  const parsed = steps
    .split(/[,\s]+/)
    .filter(Boolean)
    .map((s) => Number(s.replace("%", "")));
  return (
    <form
      class="inline-form"
      aria-label="Start a rollout"
      onSubmit={(e) => {
        e.preventDefault();
        void props.onStart({
          to,
          alias,
          steps: parsed,
          interval,
          maxErrorRate: Number(maxErrorRate) / 100,
          minRequests: 20,
        });
      }}
    >
      <label>
        Roll out{" "}
        <select value={String(to)} onChange={(e) => setTo(Number(e.currentTarget.value))}>
          {props.versions.map((v) => (
            <option key={v} value={String(v)}>
              v{v}
            </option>
          ))}
        </select>
      </label>
      <label>
        on{" "}
        <select value={alias} onChange={(e) => setAlias(e.currentTarget.value)}>
          {props.aliases.map((a) => (
            <option key={a}>{a}</option>
          ))}
        </select>
      </label>
      <label>
        Steps (%) <input size={12} value={steps} onInput={(e) => setSteps(e.currentTarget.value)} />
      </label>
      <label>
        every <input size={5} value={interval} onInput={(e) => setPace(e.currentTarget.value)} />
      </label>
      <label>
        roll back above{" "}
        <input
          type="number"
          min={0}
          max={100}
          step="0.1"
          value={maxErrorRate}
          onInput={(e) => setMaxErrorRate(e.currentTarget.value)}
        />
        % errors
      </label>
      <button type="submit" class="primary">
        Start rollout
      </button>
    </form>
  );
}
