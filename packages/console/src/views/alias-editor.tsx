import { useState } from "preact/hooks";
import type { Alias } from "../types.ts";

type Routing = Alias["routing"];

/** Edits an alias's split: a version and a weight per row; Save is enabled when the weights sum to 100. */
export function AliasEditor(props: {
  alias: Alias;
  versions: number[];
  onSave(routing: Routing): Promise<void>;
  onCancel(): void;
}) {
  const [rows, setRows] = useState<Routing>(props.alias.routing.map((r) => ({ ...r })));
  const [busy, setBusy] = useState(false);
  const total = rows.reduce((n, r) => n + (Number.isFinite(r.weight) ? r.weight : 0), 0);
  const duplicate = new Set(rows.map((r) => r.version)).size !== rows.length;
  const problem =
    rows.length === 0
      ? "add a version"
      : duplicate
        ? "each version once"
        : total !== 100
          ? `weights sum to ${total}, not 100`
          : "";
  const set = (i: number, change: Partial<Routing[number]>) =>
    setRows(rows.map((r, n) => (n === i ? { ...r, ...change } : r)));
  const unused = props.versions.find((v) => !rows.some((r) => r.version === v));
  return (
    <form
      class="alias-editor"
      aria-label={`Weights of ${props.alias.name}`}
      onSubmit={(e) => {
        e.preventDefault();
        if (problem) return;
        setBusy(true);
        void props.onSave(rows.filter((r) => r.weight > 0)).finally(() => setBusy(false));
      }}
    >
      {rows.map((r, i) => (
        <div class="row" key={i}>
          <label>
            <span class="sr-only">Version {i + 1}</span>
            <select
              value={String(r.version)}
              onChange={(e) => set(i, { version: Number(e.currentTarget.value) })}
            >
              {props.versions.map((v) => (
                <option key={v} value={String(v)}>
                  v{v}
                </option>
              ))}
            </select>
          </label>
          <label>
            <span class="sr-only">Weight of v{r.version} (%)</span>
            <input
              type="number"
              min={0}
              max={100}
              step={1}
              value={r.weight}
              aria-label={`Weight of v${r.version}`}
              onInput={(e) => set(i, { weight: Math.round(Number(e.currentTarget.value)) })}
            />
            %
          </label>
          <button
            type="button"
            aria-label={`Remove v${r.version}`}
            onClick={() => setRows(rows.filter((_, n) => n !== i))}
          >
            ×
          </button>
        </div>
      ))}
      <div class="row">
        {unused !== undefined && (
          <button type="button" onClick={() => setRows([...rows, { version: unused, weight: 0 }])}>
            Add version
          </button>
        )}
        <button type="submit" class="primary" disabled={busy || problem !== ""}>
          Save weights
        </button>
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
        {problem && (
          <span class="muted small" role="status">
            {problem}
          </span>
        )}
      </div>
    </form>
  );
}
