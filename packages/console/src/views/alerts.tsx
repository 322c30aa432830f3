import { useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { type ApiError, asApiError, seg } from "../api.ts";
import { Confirm, ErrorNote, fmtMs, fmtPct, fmtTime, Loading, NotFound } from "../components.tsx";
import { canWrite, useSession } from "../session.ts";
import type { AlertRule, Page } from "../types.ts";
import { useLoad } from "../use-load.ts";

const METRICS = [
  { id: "error_rate", label: "Error rate", unit: "%" },
  { id: "p95_ms", label: "p95 duration", unit: "ms" },
  { id: "throttles", label: "Throttled invocations", unit: "" },
  { id: "dead_letters", label: "Dead letters", unit: "" },
  { id: "failed_deploys", label: "Failed deploys", unit: "" },
] as const;

const fmtValue = (metric: string, v: number | null): string =>
  v === null ? "–" : metric === "error_rate" ? fmtPct(v) : metric === "p95_ms" ? fmtMs(v) : String(v);

/** Alert rules with their state (ok, firing, paused) and notifications; `?rule=` opens one's history. */
export function Alerts() {
  const { api, who } = useSession();
  const location = useLocation();
  const list = useLoad((signal) => api.get<Page<AlertRule>>("/v1/alerts", signal), [api]);
  const [error, setError] = useState<ApiError>();
  const fail = (e: unknown) => setError(asApiError(e));
  const writer = canWrite(who.role);
  if (location.query.rule) return <AlertView id={location.query.rule} />;
  return (
    <section>
      <h1>Alerts</h1>
      <p class="muted">
        A rule watches one function (or all together) over a window and tells a webhook when its condition
        starts and stops holding; evaluated every 30 s.
      </p>
      <ErrorNote error={error} />
      {!list.data ? (
        list.error ? (
          <ErrorNote error={list.error} />
        ) : (
          <Loading />
        )
      ) : list.data.items.length === 0 ? (
        <p class="muted">No alert rules.</p>
      ) : (
        <table class="grid" data-testid="alerts">
          <thead>
            <tr>
              <th>Rule</th>
              <th>Condition</th>
              <th>State</th>
              <th>Last value</th>
              <th>Last notification</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((r) => (
              <tr key={r.id}>
                <td>
                  <a href={`/alerts?rule=${encodeURIComponent(r.id)}`}>{r.name}</a>
                  <div class="muted small">{r.function ?? "all functions"}</div>
                </td>
                <td>{condition(r)}</td>
                <td>
                  <span class={`tag state-${r.state.status}`}>{r.state.status}</span>
                  {r.state.since && <span class="muted small"> since {fmtTime(r.state.since)}</span>}
                </td>
                <td>{fmtValue(r.metric, r.state.value)}</td>
                <td class="small">
                  {r.history[0]
                    ? `${r.history[0].kind} ${fmtTime(r.history[0].at)}${r.history[0].delivered ? "" : " (not delivered)"}`
                    : "–"}
                </td>
                <td>
                  {writer && (
                    <button
                      type="button"
                      onClick={() =>
                        void api
                          .send("PATCH", `/v1/alerts/${seg(r.id)}`, { paused: !r.paused })
                          .then(list.reload, fail)
                      }
                    >
                      {r.paused ? "Resume" : "Pause"} {r.name}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {writer && <NewRule onCreated={list.reload} />}
    </section>
  );
}

function condition(r: AlertRule): string {
  const m = METRICS.find((x) => x.id === r.metric);
  const threshold = fmtValue(r.metric, r.threshold);
  return `${m?.label ?? r.metric} > ${threshold} over ${Math.round(r.windowMs / 60_000)}m`;
}

function NewRule({ onCreated }: { onCreated(): void }) {
  const { api } = useSession();
  const [form, setForm] = useState({
    name: "",
    function: "",
    metric: "error_rate",
    threshold: "5",
    window: "5m",
    url: "",
    format: "json",
  });
  const [error, setError] = useState<ApiError>();
  const [note, setNote] = useState("");
  const set = (k: keyof typeof form) => (e: { currentTarget: { value: string } }) =>
    setForm({ ...form, [k]: e.currentTarget.value });
  const unit = METRICS.find((m) => m.id === form.metric)?.unit ?? "";
  const submit = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    try {
      const threshold = Number(form.threshold);
      await api.send("POST", "/v1/alerts", {
        name: form.name,
        ...(form.function.trim() ? { function: form.function.trim() } : {}),
        metric: form.metric,
        threshold: form.metric === "error_rate" ? threshold / 100 : threshold,
        window: form.window,
        webhook: { url: form.url, format: form.format },
      });
      setNote(`Rule ${form.name} added.`);
      setForm({ ...form, name: "" });
      onCreated();
    } catch (e) {
      setError(asApiError(e));
    }
  };
  return (
    <form class="stack narrow" onSubmit={submit} aria-labelledby="new-rule">
      <h2 id="new-rule">New rule</h2>
      <label for="rule-name">Name</label>
      <input
        id="rule-name"
        required
        pattern="[a-z][a-z0-9\-]{0,62}"
        value={form.name}
        onInput={set("name")}
      />
      <label for="rule-function">Function (empty: all functions)</label>
      <input id="rule-function" value={form.function} onInput={set("function")} />
      <label for="rule-metric">Metric</label>
      <select id="rule-metric" value={form.metric} onChange={set("metric")}>
        {METRICS.map((m) => (
          <option key={m.id} value={m.id}>
            {m.label}
          </option>
        ))}
      </select>
      <label for="rule-threshold">Fires above{unit ? ` (${unit})` : ""}</label>
      <input
        id="rule-threshold"
        type="number"
        min={0}
        step="any"
        required
        value={form.threshold}
        onInput={set("threshold")}
      />
      <label for="rule-window">Window (1m to 24h)</label>
      <input id="rule-window" required value={form.window} onInput={set("window")} />
      <label for="rule-url">Webhook URL</label>
      <input id="rule-url" type="url" required value={form.url} onInput={set("url")} />
      <label for="rule-format">Format</label>
      <select id="rule-format" value={form.format} onChange={set("format")}>
        <option value="json">JSON</option>
        <option value="slack">Slack</option>
      </select>
      <div>
        <button type="submit" class="primary">
          Add rule
        </button>
      </div>
      {note && <p role="status">{note}</p>}
      <ErrorNote error={error} />
    </form>
  );
}

function AlertView({ id }: { id: string }) {
  const { api, who } = useSession();
  const location = useLocation();
  const rule = useLoad((signal) => api.get<AlertRule>(`/v1/alerts/${seg(id)}`, signal), [api, id]);
  const [confirm, setConfirm] = useState(false);
  const [error, setError] = useState<ApiError>();
  if (rule.error?.status === 404 || rule.error?.status === 400) return <NotFound what={`Alert rule ${id}`} />;
  if (!rule.data) return rule.error ? <ErrorNote error={rule.error} /> : <Loading />;
  const r = rule.data;
  return (
    <section data-testid="alert">
      <p>
        <a href="/alerts">← All alert rules</a>
      </p>
      <h1>
        {r.name} <span class={`tag state-${r.state.status}`}>{r.state.status}</span>
      </h1>
      <ErrorNote error={error} />
      <dl class="facts">
        <dt>Watches</dt>
        <dd>{r.function ?? "all functions"}</dd>
        <dt>Condition</dt>
        <dd>
          {condition(r)} (at least {r.minInvocations} invocations)
        </dd>
        <dt>Last value</dt>
        <dd>
          {fmtValue(r.metric, r.state.value)} at {fmtTime(r.state.evaluatedAt)}
        </dd>
        {r.state.error && (
          <>
            <dt>Evaluation error</dt>
            <dd class="bad">{r.state.error}</dd>
          </>
        )}
        <dt>Webhook</dt>
        <dd>
          {r.webhook.url} ({r.webhook.format}){r.webhook.secret ? `, signed with ${r.webhook.secret}` : ""}
        </dd>
      </dl>
      <h2>Notifications</h2>
      {r.history.length === 0 ? (
        <p class="muted">None yet.</p>
      ) : (
        <table class="grid" data-testid="alert-history">
          <tbody>
            {r.history.map((h) => (
              <tr key={h.at + h.kind}>
                <td>{fmtTime(h.at)}</td>
                <td class={h.kind === "firing" ? "bad" : ""}>{h.kind}</td>
                <td>{fmtValue(r.metric, h.value)}</td>
                <td>
                  {h.delivered
                    ? `delivered ${h.statusCode ?? ""}`
                    : `not delivered: ${h.error ?? h.statusCode ?? ""}`}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {canWrite(who.role) && (
        <button type="button" onClick={() => setConfirm(true)}>
          Delete rule
        </button>
      )}
      <Confirm
        open={confirm}
        title={`Delete ${r.name}?`}
        confirmLabel="Delete"
        onConfirm={() => {
          setConfirm(false);
          api.send("DELETE", `/v1/alerts/${seg(r.id)}`).then(
            () => location.route("/alerts"),
            (e: unknown) => setError(asApiError(e)),
          );
        }}
        onCancel={() => setConfirm(false)}
      >
        <p>The rule and its notification history go.</p>
      </Confirm>
    </section>
  );
}
